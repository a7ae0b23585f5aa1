"""Timers on a simulation's clock: ``procflow.simulate.Simulator`` fires due timers at their own simulated
moment, between its tasks, through a ``procflow.workers.scheduler.Scheduler``.

The store's arming writes are watched (wrapped) so the simulator knows the earliest due time it must not
run past; kept apart from the scheduler, which knows nothing about simulations."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from procflow.store.contracts import writes_armings
from procflow.workers.timerstate import SchedulerStats

if TYPE_CHECKING:
    from procflow.workers.scheduler import Scheduler

__all__ = ["SimulationTimers"]

log = logging.getLogger("procflow.workers.scheduler")


class SimulationTimers:
    """Timers for ``procflow.simulate.Simulator``: before each group commit's tasks, fire the timers that
    fall due before the next task, each batch at its own due moment on the simulated clock (one scheduler
    transaction per moment), then have the simulator re-read the dossiers they changed, so its officials
    never act on a stale revision. ``wake`` is the earliest armed due time the simulator must not run past
    without stopping here; arming a timer during a batch lowers it. Reported counts come from the store's
    timer log, so a resumed run reports the same figures as an uninterrupted one."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.stats = SchedulerStats()
        self.wake = -math.inf  # unknown until the first look
        store = scheduler.store
        save = store.save_timers

        def save_timers(dossier_id: str, **changes: Any) -> None:  # watch arming, to stop the simulator in time
            save(dossier_id, **changes)
            for _name, when, _keep in changes.get("arm", ()):
                self.wake = min(self.wake, when.timestamp())

        # wrapping the store's own methods on purpose (mypy refuses assignments to methods)
        store.save_timers = save_timers  # type: ignore[method-assign]
        if writes_armings(store):  # armings that ride with the snapshot (procflow.engine.eventwriter)
            apply, insert = store.apply, store.insert_dossier

            def apply_armed(*args: Any, arm: Any = (), **kw: Any) -> None:
                apply(*args, arm=arm, **kw)
                for _name, when, _keep in arm:
                    self.wake = min(self.wake, when.timestamp())

            def insert_armed(*args: Any, arm: Any = (), **kw: Any) -> None:
                insert(*args, arm=arm, **kw)
                for _name, when, _keep in arm:
                    self.wake = min(self.wake, when.timestamp())

            store.apply = apply_armed  # type: ignore[method-assign]
            store.insert_dossier = insert_armed  # type: ignore[method-assign]

    def run_until(self, sim: Any, until: float, *, tasks: bool = True) -> None:
        """Fire, in due order at their due moments, the timers due at or before ``until`` (a timestamp).

        What a timer changes can make the simulator schedule a task at that very moment (a bundle reacting
        to a member a timer moved, an official taking the dossier up again), before the next timer's due
        time: so the bound is looked at again after every moment, and the simulator's own next task
        (``sim.next_task_ts()``) lowers it. Otherwise the clock would jump to a later timer and that task
        would then run in the past ("time cannot go backwards"). ``tasks=False`` ignores the tasks (the
        final drain after the last task, where nothing else will run)."""
        if self.wake > until:
            return
        clock = sim.engine.clock
        while True:
            limit = min(until, sim.next_task_ts()) if tasks else until
            due = self.scheduler.next_due()
            self.wake = math.inf if due is None else due.timestamp()
            if self.wake > limit:
                return
            if due is not None and due > clock.now():
                clock.set(due)
            stats = self.scheduler.run_due(clock.now())
            self.stats.add(stats)
            if stats.touched:
                sim.refresh(sorted(stats.touched))
            if stats.total == 0:  # nothing could be taken (a timer that cannot even be recorded): stop trying
                log.error("timers due at %s could not be taken; the simulation goes on without them", due)
                self.wake = math.inf
                return
