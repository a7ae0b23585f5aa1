"""The scheduler: fires due timers exactly once, embedded (SQLite) or with many workers (PostgreSQL).

A batch is one store transaction: take up to ``batch`` due timers in due order (``Store.due_timers``), apply
each one's effect, record its outcome (``Store.finish_timer``), commit. Everything a timer does is a write
to the same database (an engine fire, an event, outbox rows for notices; adapters deliver those later,
outside any transaction), so the claim IS the transaction:

* a scheduler killed anywhere in a batch leaves nothing behind: the transaction rolls back, the timers are
  still armed, and the next run fires them, once, in due order (there is no lease to wait out);
* on PostgreSQL each timer is locked with its dossier ``FOR UPDATE … SKIP LOCKED``, so N workers take
  disjoint timers without waiting on each other or on an official's fire in flight;
* the timer log's unique key (dossier, timer, arming) refuses a second outcome for one arming: exactly once
  is enforced by the database, not only by this loop;
* one commit per batch is the group commit that makes a backlog fast to drain.

Before anything happens the arming is checked against the dossier (``settled``): leaving a state writes
nothing for its timers (``procflow.engine.timers``), so an arming the dossier moved on from, or re-armed since, is
recorded as ``cancelled`` with the reason and has no effect. A trigger timer goes through ``Engine.fire`` as
the custodian agency's system actor, with custody, guards and the event log like any other fire; a fire the
engine refuses is ``discarded`` with the reason (the refusal also lands in the audit table). A timer that
raises anything else is retried alone and, if it fails again, recorded as ``failed``, so one bad timer
cannot hold back the rest.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime

import attrs

from procflow.definition.model import TimerAction
from procflow.dossier import Actor, EventKind
from procflow.engine.core import Engine
from procflow.engine.timers import notices
from procflow.errors import DossierNotFound, ProcflowError, StoreError, UsageError
from procflow.store.base import OutboxMessage, TimerRecord
from procflow.workers.escalation import escalate
from procflow.workers.overdue import lateness_effects
from procflow.workers.timerstate import SchedulerStats, settled

__all__ = ["Scheduler"]

log = logging.getLogger("procflow.workers.scheduler")


@attrs.define
class _Pending:
    """What a batch writes at its end, in one statement each: notices, and each arming's outcome."""

    outbox: list[OutboxMessage] = attrs.field(factory=list)
    finished: list[tuple[TimerRecord, str, str, datetime, str]] = attrs.field(factory=list)


class _Discard(Exception):
    pass


class Scheduler:
    """Fires due timers through ``engine``. Time comes from the engine's clock unless ``now`` is given."""

    def __init__(self, engine: Engine, *, worker: str | None = None, batch: int = 500) -> None:
        if batch < 1:
            raise UsageError("batch must be >= 1")
        self.engine = engine
        self.store = engine.store
        self.worker = worker or f"scheduler:{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self._stop = threading.Event()

    # -- running ----------------------------------------------------------------------------------------
    def run_due(self, now: datetime | None = None) -> SchedulerStats:
        """Fire every timer due at ``now`` (default: the engine's clock), batch after batch, in due order."""
        now = now if now is not None else self.engine.clock.now()
        total = SchedulerStats()
        while not self._stop.is_set():
            stats, taken = self.run_batch(now)
            total.add(stats)
            if taken < self.batch:
                break
        return total

    def run(self, *, idle_sleep: float = 1.0) -> SchedulerStats:
        """Run until ``stop()``: fire what is due, then wait ``idle_sleep`` seconds (``procflow worker``)."""
        from procflow.workers.backoff import StoreBackoff

        total = SchedulerStats()
        backoff = StoreBackoff("timer scheduler")
        while not self._stop.is_set():
            try:
                stats = self.run_due()
            except StoreError as exc:  # the store is unreachable or locked: wait, reconnect, go on
                self._stop.wait(backoff.failed(exc))
                continue
            backoff.succeeded()
            total.add(stats)
            if stats.total == 0:
                self._stop.wait(idle_sleep)
        return total

    def stop(self) -> None:
        """Finish the batch in hand (it commits), then return from ``run``/``run_due``."""
        self._stop.set()

    def next_due(self) -> datetime | None:
        armed = self.store.timers(statuses=("armed",), limit=1)
        return armed[0].fire_at if armed else None

    def run_batch(self, now: datetime) -> tuple[SchedulerStats, int]:
        """One transaction: up to ``batch`` due timers. Returns (outcomes, timers taken)."""
        stats = SchedulerStats(batches=1)
        taken: list[TimerRecord] = []
        try:
            with self.store.transaction():
                taken = self.store.due_timers(now=now, limit=self.batch)
                pending = _Pending()
                for timer in taken:
                    self._process(timer, stats, pending)
                self._flush(pending)
        except Exception as exc:  # the batch rolled back: nothing in it happened
            if not taken or getattr(self.store, "in_transaction", False):
                raise  # inside the caller's transaction (a simulation batch) nothing was rolled back: theirs to undo
            log.warning("timer batch of %d rolled back (%s: %s); retrying one by one", len(taken),
                        type(exc).__name__, exc)
            return self._one_by_one(now, len(taken)), len(taken)
        return stats, len(taken)

    def _one_by_one(self, now: datetime, count: int) -> SchedulerStats:
        stats = SchedulerStats(batches=1)
        for _ in range(count):
            for attempt in (1, 2):
                single = SchedulerStats()
                timer: TimerRecord | None = None
                try:
                    with self.store.transaction():
                        due = self.store.due_timers(now=now, limit=1)
                        if not due:
                            return stats
                        timer = due[0]
                        pending = _Pending()
                        self._process(timer, single, pending)
                        self._flush(pending)
                except Exception as exc:
                    if timer is None:
                        raise
                    if attempt == 1:
                        continue
                    self._record_failure(timer, exc)
                    single = SchedulerStats(failed=1)
                stats.add(single)
                break
        return stats

    def _record_failure(self, timer: TimerRecord, exc: BaseException) -> None:
        log.error("timer %s of dossier %s failed twice: %s: %s", timer.name, timer.dossier_id,
                  type(exc).__name__, exc)
        try:
            with self.store.transaction():
                self.store.finish_timer(timer, outcome="failed", action="?", at=self.engine.clock.now(),
                                        worker=self.worker, detail=f"{type(exc).__name__}: {exc}"[:1000])
        except Exception:  # another worker recorded an outcome meanwhile: theirs stands
            log.exception("could not record the failure of timer %s of %s", timer.name, timer.dossier_id)

    # -- one timer --------------------------------------------------------------------------------------
    def _flush(self, pending: _Pending) -> None:
        """Write the batch's notices and outcomes together (inside its transaction): one statement each."""
        if pending.outbox:
            # both stores offer it (INSERT … ON CONFLICT DO NOTHING): a key already there is not sent twice
            self.store.enqueue_outbox(pending.outbox, now=self.engine.clock.now())
        if not pending.finished:
            return
        many = getattr(self.store, "finish_timers", None)
        if many is not None:
            many(pending.finished, worker=self.worker)
            return
        for timer, outcome, action, at, detail in pending.finished:
            self.store.finish_timer(timer, outcome=outcome, action=action, at=at, worker=self.worker, detail=detail)

    def _left(self, timer: TimerRecord) -> tuple[str, str] | None:
        """``(action, reason)`` when the dossier has left every state the timer lives in — most of a busy
        queue: leaving a state cancels its armings by writing nothing — read without decoding the whole
        record (stores that offer ``dossier_state``); None when the full check must decide."""
        head = getattr(self.store, "dossier_state", None)
        found = head(timer.dossier_id) if head is not None else None
        if found is None:
            return None
        procedure, version, state = found
        table = self.engine.timer_table(procedure, version)
        spec = table.by_name.get(timer.name) if table is not None else None
        if spec is None or state in spec.states:
            return None
        return spec.action.value, f"cancelled: the dossier moved on to state {state!r}"  # as ``settled`` says

    def _process(self, timer: TimerRecord, stats: SchedulerStats, pending: _Pending) -> None:
        action = "?"
        left = self._left(timer)
        if left is not None:
            pending.finished.append((timer, "cancelled", left[0], self.engine.clock.now(), left[1]))
            stats.cancelled += 1
            return
        try:
            try:
                d = self.store.get(timer.dossier_id)
            except DossierNotFound:
                raise _Discard("the dossier no longer exists") from None
            table = self.engine.timer_table(d.procedure, d.definition_version)
            spec = table.by_name.get(timer.name) if table is not None else None
            if table is None or spec is None:
                raise _Discard(f"procedure {d.procedure} v{d.definition_version} declares no timer {timer.name!r}")
            action = spec.action.value
            why = settled(self.engine, d, table, timer)
            if why is not None:  # the dossier moved on (or re-armed it) since: recorded, nothing else happens
                pending.finished.append((timer, "cancelled", action, self.engine.clock.now(), why))
                stats.cancelled += 1
                return
            defn = table.definition
            cal = self.engine.calendar
            if "citizen" in spec.notify:  # the citizen's phone / e-mail: personal values opened from the vault
                d = self.engine.open_record(d)
            actor = Actor.system(d.custodian, "scheduler")
            writer = self.engine.writer  # seals the notices as the engine's rows: by its memo, else the store's
            if spec.action is TimerAction.NOTIFY:
                pending.outbox += writer.seal_outbox(notices(spec, d, defn, cal, armed_seq=timer.armed_seq), d)
            elif spec.action is TimerAction.FIRE:
                assert spec.trigger is not None
                try:
                    new = self.engine.fire(d, spec.trigger, actor, note=f"timer {spec.name}")
                except ProcflowError as exc:  # custody, guards, state: refused and audited by the engine
                    raise _Discard(f"the engine refused {spec.trigger!r}: {exc}") from exc
                stats.touched.add(d.id)
                pending.outbox += writer.seal_outbox(notices(spec, new, defn, cal, armed_seq=timer.armed_seq), new)
            elif spec.action is TimerAction.ESCALATE:
                escalate(self.engine, d, spec, timer, defn, cal, actor)
                stats.touched.add(d.id)
            else:  # overdue: record the lateness only (form 04 is issued before the due date: Engine.extend)
                at = self.engine.clock.now()
                try:
                    effects = lateness_effects(d, cal, at)
                except ValueError as exc:
                    raise _Discard(str(exc)) from exc
                officials = attrs.evolve(spec, notify=tuple(w for w in spec.notify if w != "citizen"))
                msgs = notices(officials, d, defn, cal, armed_seq=timer.armed_seq, extra=effects)
                self.engine.record(d, EventKind.OVERDUE, actor, effects=effects,
                                   note=f"timer {spec.name}: overdue since {d.sla.due_at.isoformat()}"  # type: ignore[union-attr]
                                        f" ({effects['overdue']['working_days_late']} working day(s) late)",
                                   outbox=msgs)
                stats.touched.add(d.id)
        except _Discard as why:
            pending.finished.append((timer, "discarded", action, self.engine.clock.now(), str(why)[:1000]))
            stats.discarded += 1
            return
        pending.finished.append((timer, "fired", action, self.engine.clock.now(), ""))
        stats.fired += 1
        stats.by_action[action] = stats.by_action.get(action, 0) + 1
