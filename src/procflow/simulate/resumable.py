"""The simulator's public surface for saving and resuming a run: what a checkpoint reads and what a resumed
run sets, named, instead of the checkpoint writing the simulator's private attributes one by one.

A mixin of :class:`procflow.simulate.runner.Simulator` (its methods are the simulator's), kept apart so the
run loop's module stays about running; ``procflow.simulate.checkpoint`` encodes what these methods give
and decodes what they take.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from procflow.bundle import BundleCoordinator
    from procflow.dossier import Dossier
    from procflow.engine.core import Engine
    from procflow.simulate.office import Pool

__all__ = ["Resumable", "RunPosition", "Task"]

Task = tuple[float, int, str, Any]  # (when, sequence number, kind, payload): one decided task or filing


@attrs.define
class RunPosition:
    """Where a run stands, beyond what its store holds and its random generator's state."""

    last: tuple[float, int]  # (time, sequence number) of the last task processed
    seq: int  # the last sequence number given to a task
    next_sample: float  # when the next backlog sample falls (a timestamp)
    pools: dict[str, list[Any]]  # per agency: [free from, official] of each official


class Resumable:
    """``position``/``pending_tasks`` to save a run, ``resume_from`` to continue one."""

    if TYPE_CHECKING:  # provided by Simulator
        engine: Engine
        bundles: BundleCoordinator | None
        _heap: list[Task]
        _arrivals_heap: list[Task]
        _seq: int
        _last: tuple[float, int]
        _next_sample: float
        _pools: dict[str, Pool]
        _live: dict[str, Dossier]
        _open: dict[str, Dossier]
        _returning: set[str]

        def _pool(self, agency: str) -> Pool: ...
        def _step(self, d: Dossier) -> Any: ...

    def position(self) -> RunPosition:
        """The run's position now (pools sorted, so equal runs give equal checkpoints)."""
        return RunPosition(last=self._last, seq=self._seq, next_sample=self._next_sample,
                           pools={agency: sorted([free, who] for free, who in pool.free_at)
                                  for agency, pool in sorted(self._pools.items())})

    def pending_tasks(self) -> list[Task]:
        """The decided tasks not yet done, in heap order (not a copy: read it, do not change it)."""
        return self._heap

    @property
    def checkpoint_memo(self) -> dict[str, Any]:
        """A place for ``procflow.simulate.checkpoint`` to keep what it computed for this run (the encoded
        tasks, the choice index), created on first use."""
        memo: dict[str, Any] | None = self.__dict__.get("_checkpoint_memo")
        if memo is None:
            memo = self.__dict__["_checkpoint_memo"] = {}
        return memo

    def resume_from(self, position: RunPosition, tasks: Iterable[Task], live: dict[str, Dossier],
                    returning: set[str]) -> None:
        """Continue from a saved position: the filings at or before it are dropped (they are drawn again from
        the seed), the pending ``tasks`` replace the decided ones, ``live`` are the dossiers the run works on
        (final ones dropped), ``returning`` the bundles whose joined return is scheduled."""
        last = position.last
        arrivals = self._arrivals_heap
        arrivals[:] = [e for e in arrivals if (e[0], e[1]) > last]
        heapq.heapify(arrivals)
        self._heap.clear()
        self._heap.extend(tasks)
        heapq.heapify(self._heap)
        self._seq, self._last = position.seq, last
        for agency, free in position.pools.items():
            self._pool(agency).free_at = [(float(t), int(who)) for t, who in free]
        self._next_sample = position.next_sample
        self._live = {i: d for i, d in live.items() if not self._step(d).final}
        self._open = {i: d for i, d in self._live.items() if d.status not in (9, 10)}
        self._returning = set(returning)
        if self.bundles is not None:
            self.bundles.remember(live.values())
        if last[0] > 0:
            self.engine.clock.set(datetime.fromtimestamp(last[0], self.engine.calendar.tz))  # type: ignore[attr-defined]
