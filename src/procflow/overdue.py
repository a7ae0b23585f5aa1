"""Overdue dossiers and the apology / extension letter (form 04 of the one-stop regulation).

When a dossier passes its due date the agency at fault must apologise to the citizen in writing and
propose a new date (văn bản xin lỗi và hẹn lại ngày trả kết quả). This module finds those dossiers and
produces the letter's data; rendering and delivery belong to adapters (the notification hook).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import attrs

from procflow.calendar import WorkingCalendar
from procflow.definition import ProcedureDefinition
from procflow.dossier import Dossier

__all__ = ["ExtensionLetter", "extension_letter", "find_overdue", "overdue_effects", "was_overdue"]


@attrs.frozen
class ExtensionLetter:
    """The data of form 04 (văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết)."""

    dossier_id: str
    procedure_code: str
    procedure_name: str
    receiving_agency: str  # where the citizen collects the result
    responsible_agency: str  # the custodian when the deadline passed
    received_at: datetime
    original_due_at: datetime
    working_days_late: int
    new_due_at: datetime
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in attrs.asdict(self).items()}


def extension_letter(dossier: Dossier, definition: ProcedureDefinition, calendar: WorkingCalendar, at: datetime,
                     *, extra_working_days: int = 1, reason: str = "") -> ExtensionLetter:
    """Propose a new date ``extra_working_days`` after ``at``; refuse for a dossier that is not overdue."""
    if dossier.sla.due_at is None or not dossier.sla.is_overdue(at):
        raise ValueError(f"dossier {dossier.id} is not overdue at {at.isoformat()}")
    if extra_working_days < 1:
        raise ValueError("extra_working_days must be >= 1")
    return ExtensionLetter(
        dossier_id=dossier.id, procedure_code=definition.code, procedure_name=definition.name,
        receiving_agency=dossier.receiving, responsible_agency=dossier.custodian, received_at=dossier.received_at,
        original_due_at=dossier.sla.due_at, working_days_late=calendar.working_days_late(dossier.sla.due_at, at),
        new_due_at=calendar.due_at(at, extra_working_days),
        reason=reason or f"processing at {dossier.custodian} exceeded the time limit of "
                         f"{dossier.sla.working_days} working day(s)",
    )


def find_overdue(dossiers: Iterable[Dossier], at: datetime) -> Iterator[Dossier]:
    """Open dossiers whose running clock has passed its due date (paused clocks are never overdue)."""
    for d in dossiers:
        if not d.sla.stopped and d.sla.is_overdue(at):
            yield d


def overdue_effects(letter: ExtensionLetter) -> dict[str, object]:
    """What the ``overdue`` event records: the letter's data, so the processing-control slip (form 06) and
    the province's ranking can show that, when and by how much the dossier ran late."""
    return {"overdue": letter.to_dict()}


def was_overdue(effects: Iterable[object]) -> bool:
    """True when any of a dossier's event effects records an overdue letter (``overdue_effects``): a dossier
    that ran late stays late in the ranking even if a restarted clock would make it look on time."""
    return any(isinstance(fx, dict) and "overdue" in fx for fx in effects)
