"""A discrete-event simulation of one province's one-stop offices on simulated time.

A heap of timed events drives a ``FakeClock``; nothing sleeps. Each agency is a pool of officials who take
tasks in the order they become ready, within office hours; each task ends in a real, durable engine fire
on the store. One seed fixes every random choice, so a run is reproducible bit for bit.

Resuming: the arrivals are drawn first, from the seed alone, so a restarted run draws them again; every
group commit also writes a checkpoint (random state, officials' queues, pending tasks) in the same
transaction. A run killed at any point restarts from its last commit and ends with the store an
uninterrupted run would have left (see ``procflow.simulate.checkpoint``).
"""

from __future__ import annotations

import heapq
import math
import random
import time as _time
from collections.abc import Callable
from datetime import datetime, time, timedelta
from itertools import accumulate
from typing import Any

from procflow.bundle import BundleCoordinator, Fired
from procflow.clock import FakeClock
from procflow.definition.model import FieldSpec
from procflow.dossier import Actor, Dossier
from procflow.engine.core import Engine
from procflow.errors import DefinitionError, ProcflowError
from procflow.simulate import checkpoint
from procflow.simulate.arrivals import draw_arrivals
from procflow.simulate.backlog import SAMPLE_AT, sample_until
from procflow.simulate.bundled import BUNDLE_RETURN, BundleTasks
from procflow.simulate.calibration import scenario_volumes
from procflow.simulate.citizens import synthetic_data
from procflow.simulate.faults import FaultPlan
from procflow.simulate.office import Pool, add_office_time
from procflow.simulate.result import SimulationResult
from procflow.simulate.resumable import Resumable
from procflow.simulate.scenario import Choice, Scenario
from procflow.simulate.tables import SimTables

__all__ = ["Simulator", "add_office_time"]

DONE = frozenset({9, 10})


class Simulator(BundleTasks, Resumable):
    """Runs a scenario on an engine with a FakeClock. ``bundles`` is made when the mix names a bundle.

    ``checkpoints`` writes a resumable checkpoint in every group commit (stores with simulation records);
    ``resume`` starts from the store's checkpoint instead of from the beginning; ``after_commit(simulator, final)`` runs
    after each commit, outside any transaction (the portal-sync pump delivers there). ``timers``
    (``procflow.workers.simtimers.SimulationTimers``) fires due timers at their own simulated time, between commits.
    """

    def __init__(self, engine: Engine, scenario: Scenario, progress: Callable[[float], None] | None = None, *,
                 bundles: BundleCoordinator | None = None, checkpoints: bool = False, resume: bool = False,
                 after_commit: Callable[[Simulator, bool], None] | None = None, timers: Any = None) -> None:
        self.engine = engine
        self.timers = timers
        self.sc = scenario
        self.cal = engine.calendar
        self.rng = random.Random(scenario.seed)
        self.progress = progress
        self.after_commit = after_commit
        self.province = engine.registry.province(scenario.province)
        self.communes = engine.registry.communes_of(self.province.code)
        if not self.communes:
            raise ProcflowError(f"province {self.province.name} has no communes in the registry")
        self.start = datetime.combine(scenario.start, time(0), self.cal.tz)
        self.end = self.start + timedelta(days=scenario.days)
        self._end_ts = self.end.timestamp()
        self._heap: list[tuple[float, int, str, Any]] = []  # decided tasks (what a checkpoint saves)
        self._arrivals_heap: list[tuple[float, int, str, Any]] = []  # filings, drawn from the seed up front
        self._seq = 0
        self._last: tuple[float, int] = (0.0, 0)
        self._pools: dict[str, Pool] = {}
        self._open: dict[str, Dossier] = {}  # dossiers still to be worked on (not processed, not final)
        self._live: dict[str, Dossier] = {}  # every record the run holds and may still fire (not final)
        self._returning: set[str] = set()  # bundles whose joined return is scheduled
        self._fields: dict[str, list[FieldSpec]] = {}
        # per (procedure, state): the scenario's choices and their cumulative weights (None: some are conditional)
        self._options: dict[tuple[str, str], tuple[tuple[Choice, ...], list[float] | None]] = {}
        self._roles: dict[tuple[Any, str, str], frozenset[str]] = {}  # (definition, state, trigger) → roles
        known = {d.code for d in engine.definitions()}
        # yearly volume per procedure or bundle: calibrated for the province, or the scenario's own
        self.mix, calibrated = scenario_volumes(scenario, self.province, len(self.communes))
        self.skipped: list[str] = []  # calibrated codes this installation has not registered
        if bundles is None and any(code not in known for code in self.mix):
            bundles = BundleCoordinator(engine)
        self.bundles = bundles
        for code in list(self.mix):
            if code in known:
                self._fields[code] = list(engine.definition(code).fields)
            elif bundles is not None and bundles.is_bundle(code):
                merged = {f.name: f for m in bundles.definition(code).members
                          for f in engine.definition(m.procedure).fields}
                self._fields[code] = list(merged.values())
            elif calibrated:
                self.skipped.append(code)
                del self.mix[code]
            else:
                raise DefinitionError(f"scenario mix names {code!r}: neither a registered procedure nor a bundle")
        self.tables = SimTables.of(engine.store) if (checkpoints or resume) else None
        self.checkpoints = checkpoints and self.tables is not None
        self.resume = resume
        self.fingerprint = scenario.fingerprint()
        self.plan = FaultPlan()
        self.busiest = self.communes[0].code
        self._next_sample = datetime.combine(scenario.start, SAMPLE_AT, self.cal.tz).timestamp()
        self.result = SimulationResult(scenario=scenario, province=self.province, start=self.start, end=self.end,
                                       volumes=dict(self.mix), skipped=list(self.skipped))

    # -- scheduling -------------------------------------------------------------------------------------
    def _push(self, at: datetime | float, kind: str, payload: Any, *, heap: list[Any] | None = None) -> None:
        ts = at if isinstance(at, float) else at.timestamp()
        if ts < self._end_ts:
            self._seq += 1
            heapq.heappush(self._heap if heap is None else heap, (ts, self._seq, kind, payload))

    def next_task_ts(self) -> float:
        """When the next decided task or filing is due (a timestamp; infinity when none is left)."""
        heap, arrivals = self._heap, self._arrivals_heap
        return min(heap[0][0] if heap else math.inf, arrivals[0][0] if arrivals else math.inf)

    def _pool(self, agency: str) -> Pool:
        pool = self._pools.get(agency)
        if pool is None:
            pool = self._pools[agency] = Pool(self.officials(agency), self.start.timestamp(),
                                               self.plan.leave.get(agency))
        return pool

    def officials(self, agency: str) -> int:
        found = self.engine.registry.agency(agency)
        if found.kind in self.sc.officials_by_kind:
            return self.sc.officials_by_kind[found.kind]
        return self.sc.officials_per_commune if found.level == "commune" else self.sc.officials_per_agency

    def _arrivals(self) -> None:
        draw_arrivals(self)

    # -- events -----------------------------------------------------------------------------------------
    def _dispatch(self, ts: float, kind: str, payload: Any) -> None:
        plan = self.plan
        if kind == "arrive":
            proc, filed_at, location, online = payload
            back = (plan.portal_back(ts) if online else None) or plan.offline_until(filed_at, ts)
            if back is not None:  # the filing waits for the portal / the commune's line (online ones too)
                self._push(back, kind, payload)
                return
            self._arrive(proc, filed_at, location, online)
        elif kind == "ready":
            d, c, online = payload
            self._schedule_work(d, c, self.engine.clock.now(), online)
        elif kind == "fire":
            d, c, who, online = payload
            back = plan.offline_until(d.custodian, ts)
            if back is not None:  # done on paper / locally; synced when the line is back
                self._push(back, kind, payload)
                return
            self._fire(d, c, who, online)
        elif kind == "bready":
            bundle_id, receiving, online = payload
            pool = self._pool(receiving)
            start_ts, who = pool.take(ts)
            minutes = BUNDLE_RETURN.minutes * math.exp(self.rng.gauss(0, 0.5)) / math.exp(0.125)
            done = add_office_time(self.cal, datetime.fromtimestamp(start_ts, self.cal.tz), minutes * 60)
            pool.release(done.timestamp(), who)
            self._push(done, "breturn", (bundle_id, receiving, who, online))
        elif kind == "breturn":
            bundle_id, receiving, who, online = payload
            back = plan.offline_until(receiving, ts)
            if back is not None:
                self._push(back, kind, payload)
                return
            self._return_bundle(bundle_id, receiving, who)
        else:
            raise ProcflowError(f"unknown simulator event {kind!r}")

    def _arrive(self, proc: str, filed_at: str, location: str, online: bool) -> None:
        actor = Actor(id=f"desk@{filed_at}", agency=filed_at, roles=frozenset({"one_stop_officer"}))
        data = synthetic_data(self._fields[proc], self.rng)
        if self.bundles is not None and self.bundles.is_bundle(proc):
            b = self.bundles.file(proc, filed_at=filed_at, location=location, actor=actor, data=data)
            started = list(self.bundles.member_dossiers(b).values())
            self.result.bundles += 1
        else:  # an online filing of a procedure with an online intake waits for the desk at portal status 1
            intake = online and self.engine.definition(proc).online_initial is not None
            started = [self.engine.file(proc, filed_at=filed_at, location=location, actor=actor, data=data,
                                        online=intake)]
            if self.bundles is not None:  # no member of a bundle: ``_in_bundle`` needs no store lookup
                self.bundles.standalone(started[0].id)
        self.result.online += online
        now = self.engine.clock.now()
        for d in started:
            self.result.filed += 1
            self._filed_online(d, online)
            self._track(d)
            self._next(d, now, online)

    def _filed_online(self, d: Dossier, online: bool) -> None:
        if online:
            self.result.online_ids.add(d.id)
            if self.tables is not None:
                self.tables.add_online(d.id)

    def _track(self, d: Dossier) -> None:
        final = self._step(d).final
        if d.status in DONE or final:
            self._open.pop(d.id, None)
        else:
            self._open[d.id] = d
        if final:
            self._live.pop(d.id, None)
        else:
            self._live[d.id] = d

    def _step(self, d: Dossier) -> Any:
        return self.engine.definition(d.procedure, d.definition_version).step(d.state)

    def _in_bundle(self, d: Dossier) -> bool:
        return self.bundles is not None and self.bundles.bundle_of(d.id) is not None

    def _next(self, d: Dossier, now: datetime, online: bool) -> None:
        if self._step(d).final or (d.status in DONE and self._in_bundle(d)):
            return  # finished, or a bundle member whose result waits for the joined return
        key = (d.procedure, d.state)
        options = self._options.get(key)
        if options is None:
            choices = tuple(self.sc.profiles.get(d.procedure, {}).get(d.state, ()))
            fixed = all(c.when is None for c in choices)  # no condition: the same options every time
            options = self._options[key] = (choices, list(accumulate(c.weight for c in choices)) if fixed else None)
        choices, cum = options
        if cum is None:
            choices = tuple(c for c in choices if c.when is None or c.when(d))
            cum = list(accumulate(c.weight for c in choices))
        if not choices:
            return  # the scenario has no behaviour for this state: the dossier waits (and shows as backlog)
        # the same draw as ``choices(choices, weights)`` (it accumulates the weights the same way), kept per state
        c = self.rng.choices(choices, cum_weights=cum)[0]
        if c.delay == "never":
            return  # the citizen never comes back: only a timer (an expiring supplement request) closes it
        ready = self._ready_at(c, now, online)
        if ready is None:
            self._schedule_work(d, c, now, online)
        else:  # officials are only claimed when the citizen is back (claiming now would block them for days)
            self._push(ready, "ready", (d, c, online))

    def _ready_at(self, c: Choice, now: datetime, online: bool) -> datetime | None:
        rng = self.rng
        if c.delay == "citizen" or (c.delay == "pickup" and not online):
            days = rng.randint(1 if c.delay == "citizen" else 0, max(c.days, 1))
            back = self.cal.add_working_days(self.cal.next_working_day(now.date()), days) if days else now.date()
            ready = datetime.combine(back, self.cal.office_hours.sessions[0][0], self.cal.tz) + timedelta(
                minutes=rng.uniform(0, 300))
            return max(ready, now)
        if c.delay == "wait":
            return now + timedelta(days=c.days)
        return None

    def _schedule_work(self, d: Dossier, c: Choice, ready: datetime, online: bool) -> None:
        pool = self._pool(d.custodian)
        start_ts, who = pool.take(ready.timestamp())
        start = datetime.fromtimestamp(start_ts, self.cal.tz)
        minutes = c.minutes * math.exp(self.rng.gauss(0, 0.5)) / math.exp(0.125)
        done = add_office_time(self.cal, start, minutes * 60)
        pool.release(done.timestamp(), who)
        self._push(done, "fire", (d, c, who, online))

    def _fire(self, d: Dossier, c: Choice, who: int, online: bool) -> None:
        key = ((d.procedure, d.definition_version), d.state, c.trigger)
        roles = self._roles.get(key)
        if roles is None:
            defn = self.engine.definition(d.procedure, d.definition_version)
            roles = self._roles[key] = frozenset(next(
                (t.roles for t in defn.transitions if t.trigger == c.trigger and d.state in t.source), ()))
        actor = Actor(id=f"official-{who}@{d.custodian}", agency=d.custodian, roles=roles)
        fired: Fired | None = None
        try:
            if self._in_bundle(d):
                assert self.bundles is not None
                fired = self.bundles.fire(d, c.trigger, actor, data=dict(c.data) or None)
            else:
                self.engine.fire(d, c.trigger, actor, data=dict(c.data) or None)
            self.result.fired += 1
        except ProcflowError:
            self.result.refused += 1
        now = self.engine.clock.now()
        self._track(d)
        if fired is not None:
            for m in fired.started:
                self.result.filed += 1
                self._filed_online(m, online)
                self._track(m)
                self._next(m, now, online)
            if fired.bundle is not None and fired.bundle_changed:
                self._schedule_bundle_return(fired.bundle, now, online)
        self._next(d, now, online)

    # -- backlog ----------------------------------------------------------------------------------------
    def _sample_until(self, ts: float) -> None:
        """Sample the backlog at every day close before ``ts`` (the state as of that moment)."""
        sample_until(self, ts)

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        clock = self.engine.clock
        if not isinstance(clock, FakeClock):
            raise ProcflowError("the simulator needs an engine built with a FakeClock")
        from procflow.simulate.staff import register_staff

        register_staff(self.engine, self.province.province_code, self.officials)  # who may act: one batch
        self._arrivals()
        names = {a.code: a.name for a in self.communes}
        self.plan = FaultPlan.resolve(self.sc.faults, cal=self.cal, start=self.sc.start, busiest=self.busiest,
                                      names=names, officials=self.officials)
        self.result.faults = list(self.plan.described)
        if self.resume and self.tables is not None:
            checkpoint.restore(self)
        span = self._end_ts - self.start.timestamp()
        heap, arrivals = self._heap, self._arrivals_heap
        tz = self.cal.tz
        self._commit_done(final=False)
        self.result.day_clock.append(_time.perf_counter())
        self.result.day_cpu.append(_time.process_time())
        self.result.day_work.append(self.result.filed + self.result.fired)
        timers = self.timers
        while heap or arrivals:
            done = 0
            with self.engine.batch():
                # timers due before the next task fire first, at their own simulated time, INSIDE the batch:
                # what they change, the bundles' reactions and the tasks those start commit with the
                # checkpoint, so a run killed right after them resumes exactly where it was
                if timers is not None:
                    timers.run_until(self, min(q[0][0] for q in (heap, arrivals) if q))
                while (heap or arrivals) and done < self.sc.commit_every:
                    first = arrivals if not heap or (arrivals and arrivals[0] < heap[0]) else heap
                    if timers is not None and first[0][0] > timers.wake:
                        # a timer armed in this batch falls due before the next task: it fires here, in the
                        # batch, at its own moment; what it starts may now come first, so look again
                        timers.run_until(self, first[0][0])
                        continue
                    ts, seq, kind, payload = heapq.heappop(first)
                    self._last = (ts, seq)
                    if ts >= self._next_sample:
                        self._sample_until(ts)
                    clock.set(datetime.fromtimestamp(ts, tz))
                    self._dispatch(ts, kind, payload)
                    done += 1
                if self.checkpoints:
                    checkpoint.save(self, finished=False)
            self._commit_done(final=False)
            if self.progress is not None:
                self.progress((clock.now().timestamp() - self.start.timestamp()) / span)
        with self.engine.batch():
            if timers is not None:
                timers.run_until(self, self._end_ts, tasks=False)
            self._sample_until(self._end_ts)
            if self.checkpoints:
                checkpoint.save(self, finished=True)
        if clock.now() < self.end:
            clock.set(self.end)
        self._commit_done(final=True)
        return self.result

    def _commit_done(self, *, final: bool) -> None:
        if self.after_commit is not None:
            self.after_commit(self, final)
