"""The simulator's side of liên thông bundles and of changes made outside its own fires.

A timer (or anything else) may change a dossier the run holds: ``refresh`` reads it back into the very
record the tasks hold and lets its bundle react (``sync_bundle``). A bundle whose members are all through is
returned to the citizen at the receiving desk (``_schedule_bundle_return`` / ``_return_bundle``). A mixin of
``procflow.simulate.runner.Simulator``, kept apart so the event loop's module stays small."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from procflow.dossier import Actor, Dossier
from procflow.errors import ProcflowError
from procflow.simulate.scenario import Choice

if TYPE_CHECKING:
    from procflow.bundle import BundleCoordinator
    from procflow.engine.core import Engine
    from procflow.simulate.result import SimulationResult

__all__ = ["BUNDLE_RETURN", "BundleTasks"]

BUNDLE_RETURN = Choice("return_result", 1.0, "pickup", minutes=5, days=3)


class BundleTasks:
    """Bundle reactions and returns for ``Simulator`` (which provides the attributes declared here)."""

    if TYPE_CHECKING:
        engine: Engine
        bundles: BundleCoordinator | None
        result: SimulationResult
        _live: dict[str, Dossier]
        _returning: set[str]

        def _track(self, d: Dossier) -> None: ...
        def _next(self, d: Dossier, now: datetime, online: bool) -> None: ...
        def _filed_online(self, d: Dossier, online: bool) -> None: ...
        def _ready_at(self, c: Choice, now: datetime, online: bool) -> datetime | None: ...
        def _push(self, at: datetime | float, kind: str, payload: Any, *, heap: list[Any] | None = None) -> None: ...

    def refresh(self, dossier_ids: list[str]) -> None:
        """Re-read dossiers something else changed (a timer fired, escalated, recorded lateness)
        into the very records the simulator's tasks hold, so its officials act on the current revision;
        the bundles of touched members react (the same as ``checkpoint.restore`` does after a crash)."""
        bundles: set[str] = set()
        for i in dossier_ids:
            d = self._live.get(i)
            if d is not None:
                fresh = self.engine.get(i)  # personal values opened, like the records the run holds
                for f in attrs.fields(Dossier):
                    setattr(d, f.name, getattr(fresh, f.name))
                self._track(d)
            if self.bundles is not None and (b := self.bundles.bundle_of(i)) is not None:
                bundles.add(b)
        for b in sorted(bundles):
            self.sync_bundle(b)

    def sync_bundle(self, bundle_id: str) -> None:
        """Let a bundle react to members changed outside the run's own fires (timers), in its own
        transaction; members it starts join the run, and a joined result is scheduled for return."""
        assert self.bundles is not None
        bundle, started = self.bundles.sync(bundle_id, reload=False)
        now = self.engine.clock.now()
        online = True  # a member the bundle starts by itself is worked like an online dossier
        for m in started:
            self.result.filed += 1
            self._filed_online(m, online)
            self._track(m)
            self._next(m, now, online)
        if started or not bundle.open:
            self._schedule_bundle_return(bundle, now, online)

    def _schedule_bundle_return(self, b: Any, now: datetime, online: bool) -> None:
        """Once a bundle has its joined result (or failed with partial results), the desk returns it."""
        if b.open or b.status == 10 or b.id in self._returning:
            return
        if any(m.status == 9 for m in self.bundles.member_dossiers(b).values()):  # type: ignore[union-attr]
            self._returning.add(b.id)
            ready = self._ready_at(BUNDLE_RETURN, now, online)
            self._push(ready or now, "bready", (b.id, b.receiving, online))

    def _return_bundle(self, bundle_id: str, receiving: str, who: int) -> None:
        assert self.bundles is not None
        # the coordinator keeps these very objects and fires them: never read members back from the store
        members = list(self.bundles.member_dossiers(bundle_id).values())
        before = sum(m.status == 10 for m in members)
        actor = Actor(id=f"official-{who}@{receiving}", agency=receiving, roles=frozenset({"one_stop_officer"}))
        try:
            self.bundles.return_result(bundle_id, actor)
        except ProcflowError:
            self.result.refused += 1
        self.result.fired += sum(m.status == 10 for m in members) - before
        for m in members:
            self._track(m)
