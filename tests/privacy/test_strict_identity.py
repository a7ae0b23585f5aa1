"""Strict by default: only officials the identity provider knows may act, also before anyone is enrolled.

An ``Actor`` is a claim. On a store whose directory was never set up the engine refuses every official
(``UnknownOfficial``, audited, nothing changed) and says how to enrol them; a role the directory does not
grant is refused (``RoleNotGranted``, audited); procflow's own machinery (``Actor.system``) keeps working; a
provider plugged in by ``Engine(identity=…)`` or the hook is the authority from the first fire.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from privacy_support import BIRTH, CHILD, civil, desk

from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.errors import RoleNotGranted, UnknownOfficial
from procflow.privacy.directory import Official
from procflow.privacy.identity import IdentityProvider
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import StaffDirectory


@pytest.fixture
def bare(tmp_path, registry, clock) -> Iterator[Engine]:
    """An engine on a store whose officials directory was never set up (not the privacy tests' store, which
    has the machine's operator enrolled)."""
    engine = Engine(SQLiteStore(str(tmp_path / "bare.db")), registry=registry, clock=clock)
    for d in bundled_definitions():
        engine.register(d)
    yield engine
    engine.store.close()


def _refused(engine: Engine, actor_id: str) -> list[tuple[str, str]]:
    return [(a.action, a.outcome) for a in engine.store.audit(actor=actor_id) if a.outcome.startswith("refused")]


def test_an_unknown_official_on_an_empty_directory_is_refused_audited_and_told_how_to_enrol(bare, communes):
    with pytest.raises(UnknownOfficial) as info:
        bare.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    message = str(info.value)
    assert "\n" not in message and "officials directory of this store is empty" in message
    for fix in ("procflow officials init", "procflow officials import FILE.csv", "procflow_directory",
                "StaffDirectory", "Engine(identity="):
        assert fix in message, fix
    assert bare.store.count_dossiers() == 0  # nothing written but the refusal
    assert _refused(bare, desk(communes[0]).id) == [("file:1.001193", "refused:UnknownOfficial")]


def test_a_claim_of_every_role_is_no_way_round_an_empty_directory(bare, communes):
    claimer = Actor(f"desk@{communes[0]}", communes[0], {"*", "one_stop_officer", "personal_data:unmask"})
    with pytest.raises(UnknownOfficial):
        bare.file(BIRTH, filed_at=communes[0], actor=claimer, data=CHILD)
    assert bare.store.count_dossiers() == 0 and _refused(bare, claimer.id)


def test_a_refused_official_may_act_once_enrolled_and_then_only_with_granted_roles(bare, communes):
    a = communes[0]
    with pytest.raises(UnknownOfficial):
        bare.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    staff = StaffDirectory(bare)
    staff.enrol(desk(a).id, a, {"one_stop_officer"})  # the engine's cache of answers is emptied
    staff.enrol(civil(a).id, a, {"civil_status_officer"})
    d = bare.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    bare.fire(d, "accept", desk(a))
    # the desk claims the civil-status role it was never granted: refused and audited, the dossier untouched
    with pytest.raises(RoleNotGranted) as info:
        bare.fire(d, "approve", Actor(desk(a).id, a, {"one_stop_officer", "civil_status_officer"}),
                  data={"documents_complete": True})
    assert info.value.claimed and bare.store.get(d.id).revision == 2
    assert ("fire:approve", "refused:RoleNotGranted") in _refused(bare, desk(a).id)
    bare.fire(d, "approve", civil(a), data={"documents_complete": True})
    assert d.status == 9


def test_system_actors_act_on_an_empty_directory(bare, communes):
    scheduler = Actor.system(communes[0], "scheduler")
    d = bare.file(BIRTH, filed_at=communes[0], actor=scheduler, data=CHILD)
    bare.fire(d, "accept", scheduler)
    assert d.state == "processing" and bare.store.count_dossiers() == 1
    assert not bare.store.audit(actor=scheduler.id) or not _refused(bare, scheduler.id)
    assert bare.directory.all() == []  # nothing was enrolled on the way


class _Provider:
    """A province's provider that knows one official: it answers without any ``managed`` method."""

    def __init__(self, agency: str) -> None:
        self.known = {"sso.an": Official(id="sso.an", name="An", agency=agency, roles={"one_stop_officer"})}

    def resolve_official(self, official_id: str) -> Official | None:
        return self.known.get(official_id)


def test_a_plugged_in_provider_is_the_authority_and_the_directory_is_not_a_fallback(sqlite_store, registry, clock,
                                                                                     communes):
    provider = _Provider(communes[0])
    assert isinstance(provider, IdentityProvider)  # one method is the whole seam
    engine = Engine(sqlite_store, registry=registry, clock=clock, identity=provider)
    for d in bundled_definitions():
        engine.register(d)
    StaffDirectory(engine).enrol(desk(communes[0]).id, communes[0], {"one_stop_officer"})
    with pytest.raises(UnknownOfficial, match=r"identity provider \(_Provider\) does not know"):
        engine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    with pytest.raises(RoleNotGranted):
        engine.file(BIRTH, filed_at=communes[0], actor=Actor("sso.an", communes[0], {"civil_status_officer"}),
                    data=CHILD)
    assert engine.file(BIRTH, filed_at=communes[0], actor=Actor("sso.an", communes[0]), data=CHILD).id
    assert [o for _, o in _refused(engine, desk(communes[0]).id)] == ["refused:UnknownOfficial"]
    assert [o for _, o in _refused(engine, "sso.an")] == ["refused:RoleNotGranted"]
