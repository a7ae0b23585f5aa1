"""A hypothesis state machine that fires random legal and illegal triggers and checks procflow's invariants.

Each example is a fresh engine on an in-memory SQLite store with the bundled procedures plus one generated
definition; the steps file dossiers, fire triggers as the right official and as the wrong one (other agency,
missing role, wrong level, trigger not allowed here, failing guard, undeclared data) and move time across
nights, weekends and holidays. After every step it checks DESIGN.md's invariants:

* the event log is the truth: replaying each dossier's stored events gives its stored snapshot, and the
  caller's record equals the stored one with its personal values opened from the vault;
* one custodian: the holder of the current state's role, an agency the registry knows;
* a refusal is the typed error it should be, and the dossier, its events and the outbox are unchanged
  (only the audit log grew);
* the SLA clock never counts paused or non-working time: a pause extends the deadline by exactly the office
  time paused (measured by an independent, naive count), a restart counts whole working days from the
  resume, and the clock's state matches the step's clock mode.

Use it for your own procedures by subclassing and overriding ``procedures()``; run it with
``TestEngine = EngineMachine.TestCase`` and the ``procflow-ci`` settings profile.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import holidays
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from procflow.calendar import WorkingCalendar
from procflow.definition.model import ClockMode, ProcedureDefinition, Step, Transition
from procflow.dossier import Actor, Dossier, DossierEvent, replay
from procflow.engine.core import Engine
from procflow.engine.guards import BUILTIN_GUARDS
from procflow.errors import (
    GuardRejected,
    InvalidData,
    NotCustodian,
    ProcflowError,
    RoleNotGranted,
    TransitionNotAllowed,
)
from procflow.jurisdiction import Registry
from procflow.sla import ClockPolicy
from procflow.store.base import OutboxMessage
from procflow.store.sqlite import SQLiteStore
from procflow.testing.clock import MONDAY, WorkingClock
from procflow.testing.directory import StaffDirectory
from procflow.testing.strategies import bundled, filings, office_seconds, procedure_definitions

__all__ = ["EngineMachine", "every_event_rule"]

# Time stops moving at the end of July: a deadline extended by months of pauses must still fall inside the
# years whose substituted days off the holiday data knows (outside them procflow rightly warns).
_LAST_MOMENT = datetime(2026, 7, 31, tzinfo=MONDAY.tzinfo)
_HOLIDAYS = sorted(d for d in holidays.country_holidays("VN", years=2026)
                   if MONDAY.date() < d < _LAST_MOMENT.date())


def every_event_rule(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> list[OutboxMessage]:
    """One outbox row per event, so "a refusal leaves the outbox unchanged" is checked on every step."""
    return [OutboxMessage("test.event", f"{d.id}:{e.seq}", d.id, {"status": e.status, "state": e.to_state})]


class EngineMachine(RuleBasedStateMachine):
    province = "92"
    registry: Registry | None = None
    calendar: WorkingCalendar | None = None

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        if cls.registry is None:
            cls.registry = Registry.default()
        if cls.calendar is None:  # shared: its per-year tables are the expensive part
            cls.calendar = WorkingCalendar()
        self.reg: Registry = cls.registry
        self.cal: WorkingCalendar = cls.calendar
        self.clock = WorkingClock(MONDAY, self.cal)
        self.store = SQLiteStore(":memory:")
        self.engine = Engine(self.store, registry=self.reg, calendar=self.cal, clock=self.clock,
                             outbox_rules=[every_event_rule])
        self.staff = StaffDirectory(self.engine)
        self.live: dict[str, Dossier] = {}
        self.codes: list[str] = []
        self.communes = [a.code for a in self.reg.communes_of(self.province)]

    def procedures(self) -> tuple[ProcedureDefinition, ...]:
        """The definitions every example registers (override to test your own)."""
        return bundled()

    def teardown(self) -> None:
        self.store.close()

    dossiers = Bundle("dossiers")

    @initialize(generated=procedure_definitions(code="T.GEN"))
    def register(self, generated: ProcedureDefinition) -> None:
        for d in (*self.procedures(), generated):
            self.engine.register(d)
        self.codes = sorted({d.code for d in self.engine.definitions()})

    # -- helpers ----------------------------------------------------------------------------------------
    def _defn(self, d: Dossier) -> ProcedureDefinition:
        return self.engine.definition(d.procedure, d.definition_version)

    def _transition(self, d: Dossier, trigger: str) -> Transition:
        return next(t for t in self._defn(d).transitions if t.trigger == trigger and d.state in t.source)

    def _level_ok(self, d: Dossier, t: Transition) -> bool:
        return t.level is None or self.reg.agency(d.custodian).level == t.level

    def _official(self, d: Dossier, t: Transition) -> Actor:
        return self._enrolled(Actor(id=f"official@{d.custodian}", agency=d.custodian,
                                    roles=frozenset(t.roles or ("official",))))

    def _enrolled(self, actor: Actor) -> Actor:
        """The engine is strict (only officials its directory knows act): enrol the ones the machine names."""
        self.staff.actors(actor)
        return actor

    def _refused(self, d: Dossier, trigger: str, actor: Actor, error: type[ProcflowError],
                 data: dict[str, Any] | None = None, *, exact: bool = True) -> None:
        """Fire, expect ``error``, and check that only the audit log changed."""
        before = (self.store.get(d.id), self.store.events(d.id), self.store.outbox(), d.copy())
        audits = len(self.store.audit(dossier_id=d.id))
        try:
            self.engine.fire(d, trigger, actor, data=data)
        except ProcflowError as exc:
            assert isinstance(exc, error) and (not exact or type(exc) is error), (
                f"{trigger!r} by {actor.id}: expected {error.__name__}, got {type(exc).__name__}: {exc}")
            assert getattr(exc, "dossier_id", d.id) == d.id
            after = (self.store.get(d.id), self.store.events(d.id), self.store.outbox(), d)
            for what, a, b in zip(("snapshot", "events", "outbox", "caller's record"), before, after, strict=True):
                assert a == b, f"refused {trigger!r} changed the {what} of {d.id}"
            grew = len(self.store.audit(dossier_id=d.id)) - audits
            assert grew == (0 if isinstance(exc, InvalidData) else 1), f"audit grew by {grew} for {trigger!r}"
            return
        raise AssertionError(f"{trigger!r} by {actor.id} in state {d.state!r} was accepted; expected {error.__name__}")

    def _working_days_through(self, start: date, end: date) -> int:
        return sum(self.cal.is_working_day(start + timedelta(days=i)) for i in range((end - start).days + 1))

    def _check_clock_move(self, before: Dossier, after: Dossier, src: Step, defn: ProcedureDefinition) -> None:
        b, a, now = before.sla, after.sla, self.clock.now()
        if b.stopped:
            assert a == b, "a stopped SLA clock changed"
            return
        if a.stopped:
            assert a.stopped_at == now and a.due_at == b.due_at
            return
        if b.paused == a.paused:
            assert a == b, "the SLA clock changed although it neither paused nor resumed"
            return
        if a.paused:
            assert a.paused_at == now and a.due_at == b.due_at, "pausing moved the deadline"
            return
        assert b.paused_at is not None and b.due_at is not None and a.due_at is not None
        policy = src.resume_policy or (defn.supplement_policy if src.clock is ClockMode.CITIZEN else "pause")
        if ClockPolicy(policy) is ClockPolicy.RESTART:
            assert a.started_at == now and a.due_at == self.cal.close_of(a.due_at.date())
            self._assert_counted_as_the_law_counts(now, a.due_at, a.working_days, "restart")
        else:
            paused = office_seconds(self.cal, b.paused_at, now)
            gained = office_seconds(self.cal, b.due_at, a.due_at)
            assert abs(paused - gained) < 1e-6, f"paused {paused}s of office time but the deadline moved {gained}s"

    def _assert_counted_as_the_law_counts(self, received: datetime, due: datetime, n: int, what: str) -> None:
        """Civil Code 2015 art. 147: the receipt day is not counted; a same-day limit ends on it."""
        if n == 0:
            assert due.date() == self.cal.receipt_day(received), f"{what}: a same-day limit ends on the receipt day"
            return
        counted = self._working_days_through(self.cal.counting_start(received), due.date())
        assert counted == n, f"{what} counted {counted} working days after the receipt day, not {n}"

    # -- rules ------------------------------------------------------------------------------------------
    @rule(target=dossiers, data=st.data())
    def file(self, data: st.DataObject) -> str:
        defn = self.engine.definition(data.draw(st.sampled_from(self.codes)))
        f = data.draw(filings(defn, self.reg, province=self.province))
        d = self.engine.file(defn.code, filed_at=f.filed_at, location=f.location, data=f.data,
                             actor=self._enrolled(Actor(id=f"desk@{f.filed_at}", agency=f.filed_at,
                                                        roles={"one_stop_officer"})))
        if defn.sla_days is not None and d.sla.due_at is not None:
            due = d.sla.due_at
            assert due == self.cal.close_of(due.date())
            self._assert_counted_as_the_law_counts(d.received_at, due, defn.sla_days, "filing")
        self.live[d.id] = d
        return d.id

    @rule(dossier_id=dossiers, data=st.data())
    def fire_legal(self, dossier_id: str, data: st.DataObject) -> None:
        d = self.live[dossier_id]
        allowed = self.engine.allowed_triggers(d)
        if not allowed:
            return
        t = self._transition(d, data.draw(st.sampled_from(allowed)))
        payload = {g: True for g in t.guards if g in BUILTIN_GUARDS} or None  # the flag each guard checks
        if not self._level_ok(d, t):
            self._refused(d, t.trigger, self._official(d, t), NotCustodian, payload)
            return
        before, defn, src = d.copy(), self._defn(d), self._defn(d).step(d.state)
        self.engine.fire(d, t.trigger, self._official(d, t), data=payload)
        assert d.state == t.dest and d.revision == before.revision + 1
        self._check_clock_move(before, d, src, defn)

    @rule(dossier_id=dossiers, data=st.data())
    def fire_as_another_agency(self, dossier_id: str, data: st.DataObject) -> None:
        d = self.live[dossier_id]
        other = data.draw(st.sampled_from([c for c in self.communes if c != d.custodian]))
        trigger = data.draw(st.sampled_from(self.engine.allowed_triggers(d) or ("anything",)))
        # an enrolled official of another agency, holding every role the procedure asks for
        roles = {r for t in self._defn(d).transitions for r in t.roles}
        self._refused(d, trigger, self._enrolled(Actor(id=f"intruder@{other}", agency=other, roles=roles)),
                      NotCustodian)

    @rule(dossier_id=dossiers, data=st.data())
    def fire_a_trigger_not_allowed_here(self, dossier_id: str, data: st.DataObject) -> None:
        d = self.live[dossier_id]
        allowed = set(self.engine.allowed_triggers(d))
        others = [*sorted({t.trigger for t in self._defn(d).transitions} - allowed), "no_such_trigger"]
        actor = self._enrolled(Actor(id=f"official@{d.custodian}", agency=d.custodian))
        self._refused(d, data.draw(st.sampled_from(others)), actor, TransitionNotAllowed)

    @rule(dossier_id=dossiers, data=st.data())
    def fire_without_the_role(self, dossier_id: str, data: st.DataObject) -> None:
        d = self.live[dossier_id]
        with_roles = [t for t in self.engine.allowed_triggers(d) if self._transition(d, t).roles]
        if not with_roles:
            return
        trigger = data.draw(st.sampled_from(with_roles))
        clerk = self._enrolled(Actor(id=f"clerk@{d.custodian}", agency=d.custodian, roles={"no_such_role"}))
        self._refused(d, trigger, clerk, RoleNotGranted)  # the custodian agency, an enrolled official without the role

    @rule(dossier_id=dossiers, data=st.data())
    def fire_failing_a_guard_or_with_bad_data(self, dossier_id: str, data: st.DataObject) -> None:
        d = self.live[dossier_id]
        ready = [self._transition(d, t) for t in self.engine.allowed_triggers(d)]
        ready = [t for t in ready if self._level_ok(d, t)]
        if not ready:
            return
        t = data.draw(st.sampled_from(ready))
        unmet = [g for g in t.guards if g in BUILTIN_GUARDS and d.data.get(g) is not True]
        if bool(unmet) and data.draw(st.booleans()):  # bool(): else mypy types the draw from the list
            flags = {g: True for g in t.guards if g in BUILTIN_GUARDS} | {unmet[0]: False}
            self._refused(d, t.trigger, self._official(d, t), GuardRejected, flags)
        else:
            self._refused(d, t.trigger, self._official(d, t), InvalidData, {"no_such_field": 1})

    @rule(how=st.sampled_from(("minutes", "hours", "next_working_day", "working_days", "days", "after_cutoff",
                               "holiday")), n=st.integers(1, 6))
    def time_passes(self, how: str, n: int) -> None:
        if self.clock.now() >= _LAST_MOMENT:
            return
        if how == "minutes":
            self.clock.advance(minutes=17 * n)
        elif how == "hours":
            self.clock.advance(hours=3 * n)
        elif how == "next_working_day":
            self.clock.next_working_day(at=time(7 + n, 10 * n % 60))
        elif how == "working_days":
            self.clock.add_working_days(n, at="14:45")
        elif how == "days":
            self.clock.advance(days=n)
        elif how == "after_cutoff":
            self.clock.after_cutoff()
        else:  # into the next public holiday, at an hour that would be office time on a working day
            day = next((h for h in _HOLIDAYS if h > self.clock.today), None)
            if day is not None:
                self.clock.jump_to(datetime.combine(day, time(9, 30)))

    # -- invariants -------------------------------------------------------------------------------------
    @invariant()
    def the_log_is_the_truth_and_one_agency_holds_each_dossier(self) -> None:
        now = self.clock.now()
        for dossier_id, d in self.live.items():
            stored = self.store.get(dossier_id)  # as stored: personal values are vault references
            assert replay(self.store.events(dossier_id)) == stored, f"{dossier_id}: replay != snapshot"
            assert self.engine.get(dossier_id) == d, f"{dossier_id}: the caller's record differs from the store"
            step = self._defn(d).step(d.state)
            assert d.custodian == d.agencies[step.holder] and self.reg.agency(d.custodian).code == d.custodian
            if step.clock is ClockMode.STOPPED:
                assert d.sla.stopped, f"{dossier_id}: clock not stopped in {d.state}"
            elif step.clock is ClockMode.RUNNING:
                assert d.sla.running or d.sla.stopped, f"{dossier_id}: clock not running in {d.state}"
            else:
                assert d.sla.paused or d.sla.stopped, f"{dossier_id}: clock not paused in {d.state}"
            if d.sla.paused:  # frozen: never overdue, and its reading is the one at the pause
                assert not d.sla.is_overdue(now)
                assert d.sla.paused_at is not None
                assert d.sla.remaining_working_days(self.cal, now) == \
                    d.sla.remaining_working_days(self.cal, d.sla.paused_at)
