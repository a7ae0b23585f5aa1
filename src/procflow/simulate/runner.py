"""A discrete-event simulation of one province's one-stop offices on simulated time.

A heap of timed events drives a ``FakeClock``; nothing sleeps. Each agency is a pool of officials who take
tasks in the order they become ready, within office hours; each task ends in a real, durable engine fire
on the store. One seed fixes every random choice, so a run is reproducible bit for bit.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import attrs

from procflow.calendar import WorkingCalendar
from procflow.clock import FakeClock
from procflow.definition import ProcedureDefinition
from procflow.dossier import Actor, Dossier
from procflow.engine import Engine
from procflow.errors import ProcflowError
from procflow.jurisdiction import Agency
from procflow.simulate.scenario import Choice, Scenario

__all__ = ["SimulationResult", "Simulator", "add_office_time"]


def add_office_time(cal: WorkingCalendar, start: datetime, seconds: float) -> datetime:
    """The moment ``seconds`` of office time after ``start`` (work pauses at lunch, nights, days off)."""
    t = start.astimezone(cal.tz)
    remaining = seconds
    while True:
        d = t.date()
        if cal.is_working_day(d):
            for s, e in cal.office_hours.sessions:
                s_dt = datetime.combine(d, s, cal.tz)
                e_dt = datetime.combine(d, e, cal.tz)
                if t < e_dt:
                    t = max(t, s_dt)
                    avail = (e_dt - t).total_seconds()
                    if remaining <= avail:
                        return t + timedelta(seconds=remaining)
                    remaining -= avail
                    t = e_dt
        t = datetime.combine(d + timedelta(days=1), time(0), cal.tz)


@attrs.define
class SimulationResult:
    scenario: Scenario
    province: Agency
    start: datetime
    end: datetime
    filed: int = 0
    fired: int = 0
    refused: int = 0
    online: int = 0


class _Pool:
    """The officials of one agency: each task goes to whoever is free first (FIFO by ready time)."""

    __slots__ = ("free_at",)

    def __init__(self, officials: int, start: float) -> None:
        self.free_at = [(start, i) for i in range(officials)]

    def take(self, ready: float) -> tuple[float, int]:
        free, who = heapq.heappop(self.free_at)
        return max(free, ready), who

    def release(self, at: float, who: int) -> None:
        heapq.heappush(self.free_at, (at, who))


class Simulator:
    def __init__(self, engine: Engine, scenario: Scenario,
                 progress: Callable[[float], None] | None = None) -> None:
        self.engine = engine
        self.sc = scenario
        self.cal = engine.calendar
        self.rng = random.Random(scenario.seed)
        self.progress = progress
        self.province = engine.registry.province(scenario.province)
        self.communes = engine.registry.communes_of(self.province.code)
        if not self.communes:
            raise ProcflowError(f"province {self.province.name} has no communes in the registry")
        self.start = datetime.combine(scenario.start, time(0), self.cal.tz)
        self.end = self.start + timedelta(days=scenario.days)
        self._heap: list[tuple[float, int, str, object]] = []
        self._seq = 0
        self._pools: dict[str, _Pool] = {}
        self._defs: dict[str, ProcedureDefinition] = {}
        self._online: set[str] = set()
        for code in scenario.procedure_mix:
            self._defs[code] = engine.definition(code)
        self.result = SimulationResult(scenario=scenario, province=self.province, start=self.start, end=self.end)

    # -- scheduling -------------------------------------------------------------------------------------
    def _push(self, at: datetime, kind: str, payload: object) -> None:
        ts = at.timestamp()
        if ts < self.end.timestamp():
            self._seq += 1
            heapq.heappush(self._heap, (ts, self._seq, kind, payload))

    def _pool(self, agency: str) -> _Pool:
        pool = self._pools.get(agency)
        if pool is None:
            level = self.engine.registry.agency(agency).level
            n = self.sc.officials_per_commune if level == "commune" else self.sc.officials_per_agency
            pool = self._pools[agency] = _Pool(n, self.start.timestamp())
        return pool

    def _arrivals(self) -> None:
        sc, rng = self.sc, self.rng
        codes = list(sc.procedure_mix)
        weights = [sc.procedure_mix[c] for c in codes]
        # commune demand varies: a few busy urban wards, many quieter communes (fixed by the seed)
        demand = [sc.dossiers_per_commune_day * math.exp(rng.gauss(0, 0.45)) for _ in self.communes]
        busiest = max(range(len(demand)), key=demand.__getitem__)
        demand[busiest] *= sc.busiest_commune_factor
        open_s = self.cal.office_hours.sessions[0][0]
        close_s = self.cal.office_hours.sessions[-1][1]
        day_span = (datetime.combine(date.min, close_s) - datetime.combine(date.min, open_s)).total_seconds()
        for offset in range(sc.days):
            d = sc.start + timedelta(days=offset)
            working = self.cal.is_working_day(d)
            for i, commune in enumerate(self.communes):
                n = _poisson(rng, demand[i] * (1.0 if working else sc.online_share))
                for _ in range(n):
                    online = (not working) or rng.random() < sc.online_share
                    if online:
                        at = datetime.combine(d, time(0), self.cal.tz) + timedelta(seconds=rng.uniform(0, 86400))
                    else:
                        at = datetime.combine(d, open_s, self.cal.tz) + timedelta(seconds=rng.uniform(0, day_span))
                    location = commune
                    filed_at = commune
                    if rng.random() < sc.location_independent_share:
                        filed_at = self.communes[rng.randrange(len(self.communes))]
                    proc = rng.choices(codes, weights)[0]
                    self._push(at, "arrive", (proc, filed_at.code, location.code, online))

    # -- events -----------------------------------------------------------------------------------------
    def _arrive(self, proc: str, filed_at: str, location: str, online: bool) -> None:
        defn = self._defs[proc]
        actor = Actor(id=f"desk@{filed_at}", agency=filed_at, roles=frozenset({"one_stop_officer"}))
        data = _synthetic_data(defn, self.rng)
        d = self.engine.file(proc, filed_at=filed_at, location=location, actor=actor, data=data)
        self.result.filed += 1
        self.result.online += online
        if online:
            self._online.add(d.id)
        self._next(d, self.engine.clock.now())

    def _next(self, d: Dossier, now: datetime) -> None:
        step = self._defs[d.procedure].step(d.state)
        if step.final:
            return
        choices = [c for c in self.sc.profiles.get(d.procedure, {}).get(d.state, ())
                   if c.when is None or c.when(d)]
        if not choices:
            return  # the scenario has no behaviour for this state: the dossier waits (and shows as backlog)
        c = self.rng.choices(choices, [c.weight for c in choices])[0]
        rng = self.rng
        if c.delay == "citizen" or (c.delay == "pickup" and d.id not in self._online):
            days = rng.randint(1 if c.delay == "citizen" else 0, max(c.days, 1))
            back = self.cal.add_working_days(self.cal.next_working_day(now.date()), days) if days else now.date()
            ready = datetime.combine(back, self.cal.office_hours.sessions[0][0], self.cal.tz) + timedelta(
                minutes=rng.uniform(0, 300))
            ready = max(ready, now)
        elif c.delay == "wait":
            ready = now + timedelta(days=c.days)
        else:
            self._schedule_work(d, c, now)
            return
        # officials are only claimed when the citizen is back (claiming now would block them for days)
        self._push(ready, "ready", (d, c))

    def _schedule_work(self, d: Dossier, c: Choice, ready: datetime) -> None:
        pool = self._pool(d.custodian)
        start_ts, who = pool.take(ready.timestamp())
        start = datetime.fromtimestamp(start_ts, self.cal.tz)
        minutes = c.minutes * math.exp(self.rng.gauss(0, 0.5)) / math.exp(0.125)
        done = add_office_time(self.cal, start, minutes * 60)
        pool.release(done.timestamp(), who)
        self._push(done, "fire", (d, c, who))

    def _fire(self, d: Dossier, c: Choice, who: int) -> None:
        defn = self._defs[d.procedure]
        roles = next((t.roles for t in defn.transitions if t.trigger == c.trigger and d.state in t.source), ())
        actor = Actor(id=f"official-{who}@{d.custodian}", agency=d.custodian, roles=frozenset(roles))
        try:
            self.engine.fire(d, c.trigger, actor, data=dict(c.data) or None)
            self.result.fired += 1
        except ProcflowError:
            self.result.refused += 1
        self._next(d, self.engine.clock.now())

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        clock = self.engine.clock
        if not isinstance(clock, FakeClock):
            raise ProcflowError("the simulator needs an engine built with a FakeClock")
        self._arrivals()
        span = self.end.timestamp() - self.start.timestamp()
        heap = self._heap
        tz = self.cal.tz
        while heap:
            done = 0
            with self.engine.batch():
                while heap and done < self.sc.commit_every:
                    ts, _, kind, payload = heapq.heappop(heap)
                    clock.set(datetime.fromtimestamp(ts, tz))
                    if kind == "arrive":
                        self._arrive(*payload)  # type: ignore[misc]
                    elif kind == "ready":
                        self._schedule_work(*payload, clock.now())  # type: ignore[misc]
                    else:
                        self._fire(*payload)  # type: ignore[misc]
                    done += 1
            if self.progress is not None:
                self.progress((clock.now().timestamp() - self.start.timestamp()) / span)
        if clock.now() < self.end:
            clock.set(self.end)
        return self.result


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


_GIVEN = ("Minh", "Lan", "Hùng", "Thảo", "Quang", "Ngọc", "Tuấn", "Hương", "Đức", "Phương")
_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi")


def _synthetic_data(defn: ProcedureDefinition, rng: random.Random) -> dict[str, object]:
    """Synthetic citizens: plausible but invented values for the declared fields."""
    out: dict[str, object] = {}
    for f in defn.fields:
        if f.name in ("documents_complete", "obligation_paid"):
            continue
        if f.personal == "national_id":
            out[f.name] = f"092{rng.randrange(10**9):09d}"
        elif f.personal == "phone":
            out[f.name] = f"09{rng.randrange(10**8):08d}"
        elif f.personal == "name":
            out[f.name] = f"{rng.choice(_FAMILY)} Văn {rng.choice(_GIVEN)}"
        elif f.personal == "address":
            out[f.name] = f"Số {rng.randint(1, 300)}, đường {rng.choice(_GIVEN)}"
        elif f.type in ("date", "datetime"):
            out[f.name] = (date(2026, 1, 1) + timedelta(days=rng.randrange(100))).isoformat()
        elif f.type == "int":
            out[f.name] = rng.randrange(10, 500) * 1_000_000
        elif f.type == "decimal":
            out[f.name] = round(rng.uniform(50, 600), 1)
        elif f.required:
            out[f.name] = f"{f.name}-{rng.randrange(10**6)}"
    return out

