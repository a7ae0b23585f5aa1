"""What a dossier's timers are and what the timer log says: the read side of the scheduler.

``settled`` decides whether a queued arming may still fire (the scheduler asks before every timer);
``armed_timers`` lists a dossier's timers for ``procflow timers``; ``timer_report`` sums the timer log for
reports; ``SchedulerStats`` counts a scheduler's outcomes. Kept apart from the firing loop
(``procflow.workers.scheduler``), which re-exports these names."""

from __future__ import annotations

from typing import Any

import attrs

from procflow.dossier import Dossier
from procflow.engine.core import Engine
from procflow.engine.timers import Arming, TimerTable, armings
from procflow.store.base import TimerRecord

__all__ = ["SchedulerStats", "armed_timers", "settled", "timer_report"]


@attrs.define
class SchedulerStats:
    fired: int = 0
    discarded: int = 0
    failed: int = 0
    cancelled: int = 0  # armings the dossier moved on from (cancelled, superseded): recorded, nothing else
    batches: int = 0
    by_action: dict[str, int] = attrs.field(factory=dict)
    touched: set[str] = attrs.field(factory=set)  # dossiers that got a new event (fire, escalation, overdue)

    def add(self, other: SchedulerStats) -> None:
        self.touched |= other.touched
        self.fired += other.fired
        self.discarded += other.discarded
        self.failed += other.failed
        self.cancelled += other.cancelled
        self.batches += other.batches
        for k, v in other.by_action.items():
            self.by_action[k] = self.by_action.get(k, 0) + v

    @property
    def total(self) -> int:
        return self.fired + self.discarded + self.failed + self.cancelled

    def to_dict(self) -> dict[str, object]:
        return {"fired": self.fired, "discarded": self.discarded, "failed": self.failed,
                "cancelled": self.cancelled, "batches": self.batches, "by_action": dict(sorted(self.by_action.items()))}


def settled(engine: Engine, d: Dossier, table: TimerTable, timer: TimerRecord) -> str | None:
    """Why a queued arming must not fire (cancelled, superseded, already fired for this deadline), or None.

    A timer that is not live for the dossier as it stands cannot fire (it was cancelled or paused by a later
    state change). A live one whose dossier has not changed since the arming (its revision is the arming's)
    is that arming. Otherwise the events are replayed through the timer table (``armings``), exactly as the
    engine armed them, to tell whether this arming is the live one."""
    spec = table.by_name[timer.name]
    if not table.live(spec, d):
        return (f"cancelled: the dossier moved on to state {d.state!r}" if d.state not in spec.states
                else "paused with the SLA clock: armed again when it resumes")
    if d.revision == timer.armed_seq and not timer.keep:
        return None
    now = armings(table, engine.store.events(d.id), engine.calendar).get(timer.name)
    if now is None or now.armed_seq != timer.armed_seq:
        return f"superseded: re-armed by event #{now.armed_seq}" if now is not None else "cancelled since"
    if now.status != "armed":
        return "paused with the SLA clock: armed again when it resumes"
    if timer.keep and _fired_for_deadline(engine, d.id, timer.name, now.run_seq, timer.armed_seq):
        return "already fired for this deadline"
    return None


def _fired_for_deadline(engine: Engine, dossier_id: str, name: str, run_seq: int, before_seq: int) -> bool:
    return any(e["name"] == name and run_seq <= e["armed_seq"] < before_seq and e["outcome"] in ("fired", "discarded")
               for e in engine.store.timer_log(dossier_id=dossier_id))


def armed_timers(engine: Engine, dossier_id: str) -> list[tuple[Arming, str]]:
    """A dossier's timers as its log says, in due order: ``(arming, status)`` with status ``armed``,
    ``paused`` (with the SLA clock), or the outcome once it has one (``fired``, ``discarded``, ``failed``)."""
    d = engine.store.get(dossier_id)
    table = engine.timer_table(d.procedure, d.definition_version)
    if table is None:
        return []
    log = {(e["name"], e["armed_seq"]): e["outcome"] for e in engine.store.timer_log(dossier_id=dossier_id)
           if e["outcome"] != "cancelled"}  # a paused arming's queue entry is dropped; the arming waits
    out = []
    for a in armings(table, engine.store.events(dossier_id), engine.calendar).values():
        status = log.get((a.name, a.armed_seq), a.status)
        if status in ("armed", "paused") and a.keep and _fired_for_deadline(engine, dossier_id, a.name, a.run_seq,
                                                                             a.armed_seq):
            status = "fired"  # for this deadline, before the pause that shifted it
        out.append((a, status))
    return sorted(out, key=lambda x: (x[0].fire_at, x[0].name))


def timer_report(store: Any) -> dict[str, Any]:
    """Timer outcomes of a store for reports: per action and per timer name (from the timer log)."""
    by_action: dict[str, dict[str, int]] = {}
    by_name: dict[str, dict[str, int]] = {}
    for (name, action, outcome), n in sorted(store.timer_counts().items()):
        for table, key in ((by_action, action), (by_name, name)):
            row = table.setdefault(key, {})
            row[outcome] = row.get(outcome, 0) + n
    fired = {k: v.get("fired", 0) for k, v in by_action.items()}
    return {"reminders": fired.get("notify", 0), "overdue_recorded": fired.get("overdue", 0),
            "escalations": fired.get("escalate", 0), "triggers_fired": fired.get("fire", 0),
            "supplements_expired": by_name.get("supplement_expiry", {}).get("fired", 0),
            "discarded": sum(v.get("discarded", 0) for v in by_action.values()),
            "cancelled": sum(v.get("cancelled", 0) for v in by_action.values()),
            "by_action": by_action, "by_name": by_name}
