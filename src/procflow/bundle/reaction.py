"""How a bundle reacts when one of its members moves: members started or skipped, the joined portal status,
the bundle's clock paused, resumed, lengthened or stopped.

A mixin of :class:`procflow.bundle.coordinator.BundleCoordinator` (its methods are the coordinator's),
kept apart because this is the liên thông rule book (Decree 63/2024/ND-CP), while the coordinator module
is about filing, firing and keeping bundle records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from procflow.bundle.definition import BundleDefinition
from procflow.bundle.records import FINAL_STATUSES, Bundle
from procflow.dossier import Actor, Dossier, sla_to_dict
from procflow.sla import ClockPolicy

if TYPE_CHECKING:
    from procflow.engine.core import Engine

__all__ = ["DONE", "WAITING", "BundleReaction"]

DONE = frozenset({9, 10})
WAITING = frozenset({5, 6})  # the citizen has to act: the bundle's clock pauses
_FLAGS = frozenset({"documents_complete", "obligation_paid"})  # set by officials, never carried between members


class BundleReaction:
    """The coordinator's reaction to a member's move (``_reconcile``) and the rules it applies."""

    if TYPE_CHECKING:  # provided by BundleCoordinator
        engine: Engine
        _open: dict[str, Bundle]
        _dossiers: dict[str, Dossier]

        def definition(self, code: str, version: int | None = None) -> BundleDefinition: ...
        def _current(self, bundle_id: str) -> Bundle: ...
        def member_dossiers(self, bundle: Bundle | str) -> dict[str, Dossier]: ...
        def _save(self, b: Bundle, kind: str, actor_id: str, fx: Mapping[str, Any],
                  new_members: Mapping[str, str], dossiers: Mapping[str, Dossier]) -> None: ...

    def _verifying(self, bdef: BundleDefinition, members: Mapping[str, Dossier]) -> bool:
        """Whether a member sits in one of the bundle's verification states (its longer limit applies)."""
        return any(f"{name}.{d.state}" in bdef.verification_states for name, d in members.items())

    def _enters_verification(self, bundle_id: str, d: Dossier) -> bool:
        b = self._current(bundle_id)
        bdef = self.definition(b.code, b.version)
        if not bdef.verification_states or b.sla.working_days == bdef.verification_working_days:
            return False
        name = next((n for n, did in b.members.items() if did == d.id), None)
        return f"{name}.{d.state}" in bdef.verification_states

    def _fields(self, procedure: str) -> set[str]:
        return {f.name for f in self.engine.definition(procedure).fields} - _FLAGS

    def _final(self, d: Dossier) -> bool:
        return self.engine.definition(d.procedure, d.definition_version).step(d.state).final

    def _status(self, bdef: BundleDefinition, members: Mapping[str, Dossier], skipped: tuple[str, ...]) -> int:
        """The bundle's national-portal status, joined from its members'."""
        open_ = [d for d in members.values() if d.status not in DONE and not self._final(d)]
        pending = [m for m in bdef.members if m.name not in members and m.name not in skipped]
        if open_ or pending:
            statuses = {d.status for d in open_}
            for waiting in (5, 6):
                if waiting in statuses:
                    return waiting
            started_work = any(d.status in DONE for d in members.values())
            return 2 if statuses and statuses <= {1, 2} and not started_work else 4
        failed = {d.status for d in members.values() if d.status not in DONE}
        if failed:
            if 7 in failed:
                return 7
            return 3 if 3 in failed and not any(d.status in DONE for d in members.values()) else 8
        return 10 if all(d.status == 10 for d in members.values()) else 9

    def _reconcile(self, b: Bundle, actor_id: str, kind: str) -> tuple[Bundle, tuple[Dossier, ...], bool]:
        bdef = self.definition(b.code, b.version)
        engine = self.engine
        now = engine.clock.now()
        members = self.member_dossiers(b)
        started: dict[str, Dossier] = {}
        skipped: list[str] = []
        system = Actor.system(b.receiving, "lienthong")
        for m in bdef.members:  # file order is a topological order: one pass settles the whole graph
            if m.name in members or m.name in b.skipped:
                continue
            preds = [members[p] for p in m.after if p in members]
            if len(preds) < len(m.after):
                if any(p in b.skipped or p in skipped for p in m.after):
                    skipped.append(m.name)
                continue
            if all(p.status in DONE for p in preds):
                values = dict(b.extra)
                for p in preds:
                    values.update({k: v for k, v in p.data.items() if k not in _FLAGS})
                fields = self._fields(m.procedure)
                d = engine.file(m.procedure, filed_at=b.receiving, location=b.location, actor=system,
                                data={k: v for k, v in values.items() if k in fields},
                                sla_days=bdef.member_limits.get(m.name))
                members[m.name] = started[m.name] = d
            elif any(self._final(p) for p in preds):
                skipped.append(m.name)
        all_skipped = b.skipped + tuple(skipped)
        status = self._status(bdef, members, all_skipped)
        sla = b.sla
        longer = bdef.verification_working_days
        if longer is not None and not sla.stopped and sla.working_days < longer and self._verifying(bdef, members):
            # Decree 63/2024/ND-CP: the bundle's limit is longer when the residence must be verified; the
            # clock keeps its start and counts to the longer limit, so a legally on-time bundle is on time
            assert sla.started_at is not None
            sla = attrs.evolve(sla, working_days=longer, due_at=engine.calendar.due_at(sla.started_at, longer))
        if not sla.stopped:
            if status in FINAL_STATUSES:
                sla = sla.stop(now)
            elif any(d.status in WAITING for d in members.values()):
                sla = sla.pause(now)
            elif sla.paused:
                sla = sla.resume(engine.calendar, now, ClockPolicy(bdef.supplement_policy))
        changed = bool(started or skipped) or status != b.status or sla != b.sla or kind == "returned"
        if changed:
            fx: dict[str, Any] = {}
            if started:
                fx["started"] = {n: d.id for n, d in started.items()}
            if skipped:
                fx["skipped"] = skipped
            if sla != b.sla:
                fx["sla"] = sla_to_dict(sla)
            b = attrs.evolve(b, status=status, members={**b.members, **fx.get("started", {})}, skipped=all_skipped,
                             sla=sla, updated_at=now, revision=b.revision + 1)
            self._save(b, kind, actor_id, fx, fx.get("started", {}), started)
        if status == 10 or (not b.open and not any(d.status == 9 for d in members.values())):
            self._open.pop(b.id, None)
            for did in b.members.values():  # nothing left to return: forget the members
                self._dossiers.pop(did, None)
        return b, tuple(started.values()), changed
