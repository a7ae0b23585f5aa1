"""Escalation: a dossier that sits too long with one agency (or at one step) goes to the head of the unit.

A timer with ``action = "escalate"`` (usually ``anchor = "custody"``: counted from when the current
custodian agency took the dossier, re-armed at every hand-off) records an ``escalated`` event in the dossier's
log (the processing-control slip, form 06, shows it), and notifies the head of the custodian unit through
the ``notify.official`` outbox topic. With ``reassign_to`` the event also names the role within the same
agency that takes the dossier over; custody stays with the agency (one custodian at a time), so nothing
moves between agencies and the state is unchanged.
"""

from __future__ import annotations

from datetime import datetime

from procflow.calendar import WorkingCalendar
from procflow.definition.model import ProcedureDefinition, TimerSpec
from procflow.dossier import Actor, Dossier, EventKind
from procflow.engine.core import Engine
from procflow.engine.timers import notices
from procflow.store.base import TimerRecord

__all__ = ["escalate", "held_since"]


def held_since(engine: Engine, d: Dossier, timer: TimerRecord) -> datetime:
    """When the arming event happened (the dossier entered the state, or the custodian took it)."""
    for e in engine.store.events(d.id):
        if e.seq == timer.armed_seq:
            return e.at
    return d.updated_at


def escalate(engine: Engine, d: Dossier, spec: TimerSpec, timer: TimerRecord, defn: ProcedureDefinition,
             cal: WorkingCalendar, actor: Actor) -> Dossier:
    """Record the escalation and its notices in one event (same transaction as the caller's)."""
    since = held_since(engine, d, timer)
    detail = {"timer": spec.name, "custodian": d.custodian, "state": d.state, "held_since": since.isoformat(),
              "working_days_held": cal.working_days_between(since.astimezone(cal.tz).date(),
                                                            engine.clock.now().astimezone(cal.tz).date()),
              "notified": list(spec.notify), "reassign_to": spec.reassign_to}
    messages = notices(spec, d, defn, cal, armed_seq=timer.armed_seq,
                       extra={"held_since": detail["held_since"], "reassign_to": spec.reassign_to})
    note = f"timer {spec.name}: escalated to the head of the unit" + (
        f", reassigned to {spec.reassign_to}" if spec.reassign_to else "")
    return engine.record(d, EventKind.ESCALATED, actor, effects={"escalation": detail}, note=note, outbox=messages)
