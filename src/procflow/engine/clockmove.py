"""How a move between two steps moves the SLA clock (running, paused while waiting for the citizen, stopped).

Kept apart from the engine so the rule reads in one place: an online filing's limit starts at the desk's
receipt (portal status 2), not at submission; a pause for a supplement resumes under the procedure's
``supplement_policy`` (``ClockPolicy.RESTART`` unless the definition says otherwise); a step with its own
resume policy overrides it. Moved out of ``procflow.engine.core`` unchanged.
"""

from __future__ import annotations

from datetime import datetime

from procflow.calendar import WorkingCalendar
from procflow.definition.model import ClockMode, ProcedureDefinition, Step
from procflow.sla import ClockPolicy, SlaClock

__all__ = ["advance_clock"]


def advance_clock(calendar: WorkingCalendar, src: Step, dest: Step, sla: SlaClock, now: datetime,
                  defn: ProcedureDefinition) -> SlaClock:
    """The dossier's SLA clock after a move from ``src`` to ``dest`` at ``now``."""
    if src.name == defn.online_initial and src.name != dest.name and not sla.stopped:
        # an online filing leaves "newly registered": received → the limit starts now; refused → stopped
        if dest.clock is ClockMode.STOPPED:
            return sla.stop(now)
        if dest.portal_status == 5:  # asked to supplement before receipt: still not received
            return sla
        started = SlaClock.start(calendar, now, sla.working_days)
        return started if dest.clock is ClockMode.RUNNING else started.pause(now)
    if src.clock is dest.clock or sla.stopped:
        return sla
    if dest.clock is ClockMode.STOPPED:
        return sla.stop(now)
    if dest.clock is ClockMode.RUNNING:
        if src.resume_policy is not None:
            return sla.resume(calendar, now, ClockPolicy(src.resume_policy))
        if src.clock is ClockMode.CITIZEN:
            return sla.resume(calendar, now, ClockPolicy(defn.supplement_policy))
        return sla.resume(calendar, now, ClockPolicy.PAUSE)
    return sla.pause(now) if sla.running else sla
