"""Who is who: the officials directory, the identity seam and the operator's credential.

Roles come from the identity provider, never from the caller; unknown officials and claimed roles are
refused and audited; the command line acts as the operator its 0600 credential names and acts for another
official only by a delegation the directory holds.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import pytest
from privacy_support import BIRTH, CHILD, NATIONAL_ID, desk
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.errors import AccessDenied, DirectoryError, RoleNotGranted, UnknownOfficial
from procflow.hookspecs import hookimpl
from procflow.plugins import build_engine, make_plugin_manager
from procflow.privacy.access import UNMASK_ROLE
from procflow.privacy.directory import ADMIN_ROLE, Official
from procflow.testing.directory import StaffDirectory


@pytest.fixture
def staff(pengine, communes) -> StaffDirectory:
    s = StaffDirectory(pengine)
    s.enrol(f"desk@{communes[0]}", communes[0], {"one_stop_officer"})
    s.enrol("clerk", communes[0], {"one_stop_officer"})
    return s


def _refusals(engine, actor_id):
    return [(a.action.split(":")[0], a.outcome) for a in engine.store.audit(actor=actor_id)
            if a.outcome.startswith("refused")]


def test_a_self_declared_role_is_refused_and_audited(pengine, communes, staff):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    claimer = Actor("clerk", communes[0], {"one_stop_officer", UNMASK_ROLE})
    with pytest.raises(RoleNotGranted, match=UNMASK_ROLE) as info:
        pengine.read(d.id, claimer, purpose="curiosity", unmask=True)
    assert info.value.claimed and info.value.needed == (UNMASK_ROLE,)
    with pytest.raises(RoleNotGranted):  # a fire claiming a role the directory does not grant
        pengine.fire(d, "receive", Actor(f"desk@{communes[0]}", communes[0], {"one_stop_officer", "chairman"}))
    assert pengine.store.get(d.id).revision == 1  # nothing changed
    assert ("read", "refused:RoleNotGranted") in _refusals(pengine, "clerk")
    assert _refusals(pengine, f"desk@{communes[0]}") == [("fire", "refused:RoleNotGranted")]
    # naming no roles, the clerk acts with what the directory grants: a masked read is allowed
    assert pengine.read(d.id, Actor("clerk", communes[0]), purpose="processing").data["parent_national_id"] != \
        NATIONAL_ID


def test_people_cannot_claim_the_system_role(pengine, communes, staff):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    with pytest.raises(RoleNotGranted, match=r"\*"):
        pengine.read(d.id, Actor("clerk", communes[0], {"*"}), purpose="everything", unmask=True)
    assert pengine.read(d.id, Actor.system(communes[2], "reconcile"), purpose="reconciliation").id == d.id
    with pytest.raises(DirectoryError, match="system role"):
        staff.enrol("root", communes[0], {"*"})


def test_an_unknown_official_is_refused_and_audited(pengine, communes, staff):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    for who in (Actor("spy", communes[0]), Actor("clerk", communes[1])):  # unknown; known, other agency
        with pytest.raises(UnknownOfficial):
            pengine.read(d.id, who, purpose="fishing")
        with pytest.raises(UnknownOfficial):
            pengine.fire(d, "receive", who)
    with pytest.raises(UnknownOfficial):
        pengine.file(BIRTH, filed_at=communes[0], actor=Actor("spy", communes[0]), data=CHILD)
    assert pengine.store.get(d.id).revision == 1 and pengine.store.count_dossiers() == 1
    assert _refusals(pengine, "spy") == [("read", "refused:UnknownOfficial"), ("fire", "refused:UnknownOfficial"),
                                         ("file", "refused:UnknownOfficial")]
    assert len(_refusals(pengine, "clerk")) == 2


def test_an_official_outside_their_dates_is_refused(pengine, communes, staff):
    today = pengine.clock.now().date()
    staff.enrol("retired", communes[0], {"one_stop_officer"}, valid_to=today - timedelta(days=1))
    staff.enrol("newcomer", communes[0], {"one_stop_officer"}, valid_from=today + timedelta(days=1))
    for who in ("retired", "newcomer"):
        with pytest.raises(UnknownOfficial, match="may act from"):
            pengine.file(BIRTH, filed_at=communes[0], actor=Actor(who, communes[0]), data=CHILD)


def test_grant_and_revoke_through_the_engine_take_effect_at_once(pengine, communes, staff):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    clerk = Actor("clerk", communes[0])
    assert pengine.read(d.id, clerk, purpose="processing").data["parent_national_id"] != NATIONAL_ID  # cached now
    admin = staff.admin(communes[0])
    pengine.directory.grant(admin, "clerk", roles=[UNMASK_ROLE])
    assert pengine.read(d.id, clerk, purpose="processing", unmask=True).data["parent_national_id"] == NATIONAL_ID
    pengine.directory.revoke(admin, "clerk", roles=[UNMASK_ROLE])
    with pytest.raises(AccessDenied, match=UNMASK_ROLE):
        pengine.read(d.id, clerk, purpose="processing", unmask=True)
    actions = [(a.action, a.outcome) for a in pengine.store.audit(actor="admin")]
    assert actions == [("officials:grant", "allowed"), ("officials:revoke", "allowed")]


def test_directory_changes_need_an_administrator_and_refusals_are_audited(pengine, communes, staff):
    clerk = pengine.directory.get("clerk")
    assert clerk is not None
    with pytest.raises(DirectoryError, match=ADMIN_ROLE):
        pengine.directory.grant(clerk, "clerk", roles=[UNMASK_ROLE])
    admin = staff.admin(communes[0])
    with pytest.raises(DirectoryError, match="already exists"):
        pengine.directory.add(admin, [Official(id="clerk", name="Again", agency=communes[0])])
    with pytest.raises(DirectoryError, match="does not hold"):
        pengine.directory.revoke(admin, "clerk", roles=["chairman"])
    assert pengine.directory.get("clerk") == clerk
    assert [a.outcome for a in pengine.store.audit(actor="clerk")] == ["refused:DirectoryError"]
    assert [a.outcome for a in pengine.store.audit(actor="admin")] == ["refused:DirectoryError"] * 2


class _Ldap:
    """A province's own identity provider (here: a dict standing in for its LDAP)."""

    def __init__(self, people: dict[str, Official]) -> None:
        self.people = people
        self.asked: list[str] = []

    def resolve_official(self, official_id: str) -> Official | None:
        self.asked.append(official_id)
        return self.people.get(official_id)


def test_an_identity_provider_argument_wins_and_is_asked_once_per_official(sqlite_store, registry, clock, communes,
                                                                           keyring):
    from procflow.definition.reader import bundled_definitions
    from procflow.privacy.vault import Vault

    ldap = _Ldap({"an": Official(id="an", name="An", agency=communes[0], roles={"one_stop_officer"})})
    engine = Engine(sqlite_store, registry=registry, clock=clock, vault=Vault(sqlite_store, keyring), identity=ldap)
    for d in bundled_definitions():
        engine.register(d)
    an = Actor("an", communes[0])
    first = engine.file(BIRTH, filed_at=communes[0], actor=an, data=CHILD)
    engine.file(BIRTH, filed_at=communes[0], actor=an, data=CHILD)
    assert ldap.asked == ["an"] and first.id
    with pytest.raises(UnknownOfficial):  # the store's directory is not consulted
        engine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)


def test_the_resolve_official_hook_answers_when_a_plugin_implements_it(sqlite_store, registry, clock, communes):
    class Sso:
        @hookimpl
        def procflow_resolve_official(self, official_id):
            if official_id == "sso-user":
                return {"id": "sso-user", "agency": communes[0], "roles": ["one_stop_officer"]}
            return None

    pm = make_plugin_manager(load_entrypoints=False, plugins=[Sso()])
    engine = build_engine(sqlite_store, pm=pm, registry=registry, clock=clock, register_procedures=False)
    from procflow.definition.reader import bundled_definitions

    for d in bundled_definitions():
        engine.register(d)
    assert engine.file(BIRTH, filed_at=communes[0], actor=Actor("sso-user", communes[0]), data=CHILD).id
    with pytest.raises(UnknownOfficial):
        engine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)


# -- the command line --------------------------------------------------------------------------------------
def _cli(env, *args):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def operator_store(pengine, communes, tmp_path, monkeypatch):
    """A store with a dossier, an administrator set up by ``officials init``, and their credential."""
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    cred = tmp_path / "operator.toml"
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(pengine.vault.keys.path))
    env = {"PROCFLOW_OPERATOR_FILE": str(cred)}
    db = pengine.store.path
    r = _cli(env, "officials", "init", "--id", "admin.a", "--name", "Nguyễn Văn A", "--agency", communes[0],
             "--db", db)
    assert r.exit_code == 0, r.output
    assert os.stat(cred).st_mode & 0o777 == 0o600
    return d, db, env, cred


def test_inspect_acts_as_the_operator_and_for_others_only_by_delegation(operator_store, communes):
    d, db, env, _ = operator_store
    ok = _cli(env, "inspect", d.id, "--db", db)
    assert ok.exit_code == 0, ok.output
    assert NATIONAL_ID not in ok.stdout
    r = _cli(env, "officials", "add", "chairman", "--name", "Chủ tịch", "--agency", communes[0], "--db", db)
    assert r.exit_code == 0, r.output
    refused = _cli(env, "inspect", d.id, "--db", db, "--actor", "chairman")
    assert refused.exit_code == 1 and refused.output.count("\n") == 1 and "may not act for chairman" in refused.output
    assert "Traceback" not in refused.output
    assert _cli(env, "officials", "grant", "admin.a", "--act-for", "chairman", "--db", db).exit_code == 0
    delegated = _cli(env, "inspect", d.id, "--db", db, "--actor", "chairman")
    assert delegated.exit_code == 0, delegated.output
    rows = [r for args in (("--actor", "admin.a"), ("--dossier", d.id))
            for r in json.loads(_cli(env, "audit", "access", "--db", db, "--json", *args).stdout)]
    assert ("admin.a", "delegation", "refused:DelegationRefused") in {(r["actor"], r["action"], r["outcome"])
                                                                       for r in rows}
    assert ("admin.a", "delegation", "allowed") in {(r["actor"], r["action"], r["outcome"]) for r in rows}
    assert ("chairman", "read", "allowed") in {(r["actor"], r["action"], r["outcome"]) for r in rows}


def test_a_credential_readable_by_others_is_refused_in_one_line(operator_store):
    d, db, env, cred = operator_store
    for mode in (0o644, 0o640, 0o604):
        os.chmod(cred, mode)
        r = _cli(env, "inspect", d.id, "--db", db)
        assert r.exit_code == 1 and r.output.count("\n") == 1 and "chmod 600" in r.output, r.output
    os.chmod(cred, 0o600)
    cred.write_text(cred.read_text().replace('secret = "', 'secret = "x'))
    forged = _cli(env, "inspect", d.id, "--db", db)
    assert forged.exit_code == 1 and "not valid for admin.a" in forged.output
    missing = _cli({"PROCFLOW_OPERATOR_FILE": str(cred) + ".nope"}, "inspect", d.id, "--db", db)
    assert missing.exit_code == 1 and "no operator credential" in missing.output


def test_the_old_self_declared_role_option_is_gone(operator_store):
    d, db, env, _ = operator_store
    r = _cli(env, "inspect", d.id, "--db", db, "--role", "oversight:*")
    assert r.exit_code == 2 and "--role" in r.output


def test_import_checks_every_row_and_stores_nothing_on_an_error(operator_store, communes, tmp_path, pengine):
    _, db, env, _ = operator_store
    bad = tmp_path / "staff.csv"
    bad.write_text("id,name,agency,roles,valid_from\n"
                   f"a1,An,{communes[0]},one_stop_officer,2026-01-01\n"
                   f"a2,Bình,{communes[1]},civil_status_officer;oversight:92,2026-13-01\n", encoding="utf-8")
    r = _cli(env, "officials", "import", str(bad), "--db", db)
    assert r.exit_code == 1 and "staff.csv row 3 column valid_from" in r.output and r.output.count("\n") == 1
    assert pengine.directory.get("a1") is None
    bad.write_text(bad.read_text().replace("2026-13-01", "2026-03-01"))
    ok = _cli(env, "officials", "import", str(bad), "--db", db)
    assert ok.exit_code == 0, ok.output
    a2 = pengine.directory.get("a2")
    assert a2 is not None and a2.roles == {"civil_status_officer", "oversight:92"} and a2.valid_from == date(2026, 3, 1)
    again = _cli(env, "officials", "import", str(bad), "--db", db)
    assert again.exit_code == 1 and "row 2 column id: official a1 is already in the directory" in again.output


def test_init_happens_once(operator_store, communes):
    _, db, _, cred = operator_store
    r = _cli({"PROCFLOW_OPERATOR_FILE": str(cred) + ".2"}, "officials", "init", "--id", "other", "--name", "X",
             "--agency", communes[0], "--db", db)
    assert r.exit_code == 1 and "already has an administrator" in r.output
