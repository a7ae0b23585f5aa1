"""An officials directory for tests: real rows in the test's store, enrolled in one line.

``procflow_directory`` (the fixture) hands this over for ``procflow_engine``. The engine is strict: only
enrolled officials may act, with the roles enrolled here — the checks a province's deployment runs — so a
test enrols the officials it names. ``enrol(id, agency, roles)`` enrols one; ``actors(*actors)`` enrols the
officials some ``Actor`` values name, each granted the roles it claims (the story API and the stateful
machine do this for the officials they pick); ``staff(province)`` enrols, for every agency of a province,
``<role>@<agency>`` for each role the registered procedures use, plus ``official@…``.
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.privacy.directory import ADMIN_ROLE, Directory, Official

if TYPE_CHECKING:
    from procflow.store.base import Store

__all__ = ["StaffDirectory", "enrol", "enrol_operator", "staff_of"]

_STAFF: weakref.WeakKeyDictionary[Engine, StaffDirectory] = weakref.WeakKeyDictionary()


def staff_of(engine: Engine) -> StaffDirectory:
    """The engine's ``StaffDirectory`` (one per engine, so what it enrolled is asked once)."""
    found = _STAFF.get(engine)
    if found is None:
        found = _STAFF[engine] = StaffDirectory(engine)
    return found


class StaffDirectory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: set[Actor] = set()  # actors already enrolled through ``actors`` (one question each)

    def enrol(self, official_id: str, agency: str, roles: Iterable[str] = (), *, valid_from: date | None = None,
              valid_to: date | None = None, acts_for: Iterable[str] = ()) -> Actor:
        """Register one official; returns the ``Actor`` that names them (roles left to the directory)."""
        self.engine.directory.register_system_roster([Official(
            id=official_id, name=official_id, agency=agency, roles=frozenset(roles), valid_from=valid_from,
            valid_to=valid_to, acts_for=frozenset(acts_for))])
        return Actor(id=official_id, agency=agency)

    def actors(self, *actors: Actor) -> None:
        """Enrol the officials these actors name, each granted the roles it claims (added to what the
        directory already grants them; an official enrolled at another agency stays there). Procflow's own
        system actors are never enrolled; a claim of the system role ``*`` is not granted (it is refused)."""
        fresh = [a for a in actors if a not in self._known]
        self._known.update(fresh)
        _enrol_actors(self.engine.directory, fresh)

    def official(self, agency: str, name: str = "official") -> Actor:
        """``name@agency``, enrolled as generic staff holding every role the registered procedures use (as the
        simulator's staff): for a test about something else than who may act. Returns the actor, claiming no
        roles (it acts with all it is granted)."""
        roles = frozenset(r for d in self.engine.definitions() for t in d.transitions for r in t.roles)
        actor = Actor(id=f"{name}@{agency}", agency=agency)
        self.actors(Actor(id=actor.id, agency=agency, roles=roles | {"one_stop_officer"}))
        return actor

    def admin(self, agency: str, official_id: str = "admin") -> Official:
        """An administrator of the directory (for ``Directory.add`` / ``grant`` / ``revoke`` in tests)."""
        self.enrol(official_id, agency, {ADMIN_ROLE})
        found = self.engine.directory.get(official_id)
        assert found is not None
        return found

    def staff(self, province: str) -> int:
        """Enrol the conventional staff of every agency of ``province`` (code or name) in one batch."""
        reg = self.engine.registry
        code = reg.province(province).province_code
        roles = sorted({"one_stop_officer", "official"} | {r for d in self.engine.definitions()
                                                          for t in d.transitions for r in t.roles})
        roster = [Official(id=f"{role}@{a.code}", name=f"{role} ({a.code})", agency=a.code,
                           roles=frozenset({role} - {"official"}))
                  for a in reg if a.province_code == code for role in roles]
        self.engine.directory.register_system_roster(roster)
        return len(roster)


def enrol(target: Engine | Store, *actors: Actor) -> None:
    """Enrol the officials ``actors`` name, each with the roles it claims, in the directory of ``target`` (an
    engine, or a store before engines open on it: a fixture's cast). Through an engine, its cache is kept
    right; through a store, enrol before an engine has asked about these officials."""
    if isinstance(target, Engine):
        staff_of(target).actors(*actors)
        return
    from procflow.clock import SystemClock

    _enrol_actors(Directory(target, SystemClock()), actors)


def _enrol_actors(directory: Directory, actors: Iterable[Actor]) -> None:
    roster: dict[str, Official] = {}
    for actor in actors:
        if actor.system_actor:
            continue
        current = roster.get(actor.id) or directory.get(actor.id)
        wanted = actor.roles - {"*"}
        if current is None:
            roster[actor.id] = Official(id=actor.id, name=actor.id, agency=actor.agency, roles=wanted)
        elif not wanted <= current.roles:
            roster[actor.id] = attrs.evolve(current, roles=current.roles | wanted)
    if roster:
        directory.register_system_roster(list(roster.values()))


def enrol_operator(store: Store | str, path: Path, official_id: str, agency: str, roles: Iterable[str] = (), *,
                   acts_for: Iterable[str] = ()) -> dict[str, str]:
    """Enrol ``official_id`` as an operator of ``store`` (a store or its path/URL) and write their credential
    to ``path`` (0600); returns the environment that makes the command line act as them
    (``{"PROCFLOW_OPERATOR_FILE": path}``) — a test's stand-in for ``procflow officials add --credential``."""
    from procflow.clock import SystemClock
    from procflow.privacy.credential import OPERATOR_FILE_ENV, write_credential
    from procflow.privacy.directory import Directory, credential_digest
    from procflow.store.base import open_store

    opened = open_store(store) if isinstance(store, str) else None
    target = opened if opened is not None else store
    assert not isinstance(target, str)
    try:
        secret = secrets.token_urlsafe(32)
        Directory(target, SystemClock()).register_system_roster([Official(
            id=official_id, name=official_id, agency=agency, roles=frozenset(roles), acts_for=frozenset(acts_for),
            credential=credential_digest(secret))])
    finally:
        if opened is not None:
            opened.close()
    write_credential(path, official_id, secret, replace=True)
    return {OPERATOR_FILE_ENV: str(path)}
