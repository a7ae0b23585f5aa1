"""Overdue dossiers: finding them and recording their lateness.

The one-stop rules (Decree 118/2025/NĐ-CP; Circular 03/2025/TT-VPCP, Annex I, form 04) ask the agency to
apologise and propose a new appointment *before* the due date, when it foresees lateness: that is
``Engine.extend`` (``procflow.forms.extension``). Once the due date has passed there is nothing left to
issue: the overdue timer only records the lateness (an ``overdue`` event with this module's effects), so the
processing-control slip (form 06) and the province's ranking show that, when and by how much the dossier ran
late. Lateness is always measured against the legal limit (``SlaClock.due_at``), never an extension's date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from procflow.calendar import WorkingCalendar
from procflow.dossier import Dossier
from procflow.errors import UsageError

__all__ = ["find_overdue", "lateness_effects", "was_overdue"]


def find_overdue(dossiers: Iterable[Dossier], at: datetime) -> Iterator[Dossier]:
    """Open dossiers whose running clock has passed its due date (paused clocks are never overdue)."""
    for d in dossiers:
        if not d.sla.stopped and d.sla.is_overdue(at):
            yield d


def lateness_effects(d: Dossier, calendar: WorkingCalendar, at: datetime) -> dict[str, Any]:
    """What the ``overdue`` event records; raises ``ValueError`` for a dossier that is not overdue at ``at``."""
    if d.sla.due_at is None or not d.sla.is_overdue(at):
        raise UsageError(f"dossier {d.id} is not overdue at {at.isoformat()}")
    ext = d.sla.extended_due_at
    return {"overdue": {"due_at": d.sla.due_at.isoformat(), "detected_at": at.isoformat(),
                        "custodian": d.custodian, "working_days": d.sla.working_days,
                        "working_days_late": calendar.working_days_late(d.sla.due_at, at),
                        "extended_due_at": None if ext is None else ext.isoformat()}}


def was_overdue(effects: Iterable[object]) -> bool:
    """True when any of a dossier's event effects records lateness (``lateness_effects``): a dossier that ran
    late stays late in the ranking even if a restarted clock would make it look on time."""
    return any(isinstance(fx, dict) and "overdue" in fx for fx in effects)
