"""Recount the deadlines of dossiers written before procflow counted time limits as the law does.

Before 2026.12 procflow counted the receipt day as day 1 of a limit of N working days, so every limit of
one working day or more fell due one working day early. The Civil Code 2015 (art. 147) does not count the
day of the event: the limit starts on the working day after receipt. ``procflow db upgrade`` calls
``recount_due_dates`` once per store: each dossier that was already stored when the schema step ran
(``due_recount`` table) and is still open gets its deadline — and its current step's deadline — moved to
the next working day, as one ``due_recounted`` event (so the history is untouched, replay and the hash
chain verify, and timers anchored to the due date are re-armed in the same transaction). Same-day limits
and closed dossiers need nothing and are only marked done.
"""

from __future__ import annotations

from datetime import date, datetime

import attrs

from procflow.calendar import WorkingCalendar
from procflow.dossier import Actor, EventKind
from procflow.engine.core import Engine

__all__ = ["RULE", "RecountReport", "recount_due_dates", "shift_one_working_day"]

RULE = "Bộ luật Dân sự 2015, Điều 147: ngày tiếp nhận không tính vào thời hạn (receipt day not counted)"


@attrs.frozen
class RecountReport:
    recounted: int
    unchanged: int
    closed: int

    @property
    def total(self) -> int:
        return self.recounted + self.unchanged + self.closed


def shift_one_working_day(cal: WorkingCalendar, moment: datetime) -> datetime:
    """The same local time on the next working day: what counting from the day after receipt adds to a
    deadline the old rule computed (and to any office time a paused clock had added to it)."""
    local = moment.astimezone(cal.tz)
    nxt: date = cal.next_working_day(local.date())
    return datetime.combine(nxt, local.timetz().replace(tzinfo=None), cal.tz)


def recount_due_dates(engine: Engine) -> RecountReport:
    """Recount every pending dossier (see the module docstring); safe to run again (done rows are skipped)."""
    store, cal = engine.store, engine.calendar
    recounted = unchanged = closed = 0
    for dossier_id in store.due_recount_pending():
        d = store.get(dossier_id)
        defn = engine.definition(d.procedure, d.definition_version)
        step = defn.step(d.state)
        now = engine.clock.now()
        if step.final or d.sla.stopped:
            store.mark_due_recounted(d.id, at=now)
            closed += 1
            continue
        sla = d.sla
        if sla.working_days >= 1 and sla.due_at is not None:
            sla = attrs.evolve(sla, due_at=shift_one_working_day(cal, sla.due_at))
        step_due = d.step_due_at
        if step_due is not None and step.sla_days:
            step_due = shift_one_working_day(cal, step_due)
        if sla == d.sla and step_due == d.step_due_at:
            store.mark_due_recounted(d.id, at=now)
            unchanged += 1
            continue
        with store.transaction():
            engine.amend_deadline(
                d, EventKind.DUE_RECOUNTED, Actor.system(d.custodian, "procflow-upgrade"), sla=sla,
                step_due_at=step_due, note=RULE,
                effects={"recount": {"previous_due_at": None if d.sla.due_at is None else d.sla.due_at.isoformat(),
                                     "previous_step_due_at": None if d.step_due_at is None
                                     else d.step_due_at.isoformat()}})
            store.mark_due_recounted(d.id, at=now)
        recounted += 1
    return RecountReport(recounted, unchanged, closed)
