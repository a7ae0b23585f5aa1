"""Issuing form 04 (văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết) — an engine action.

Decree 118/2025/NĐ-CP and Circular 03/2025/TT-VPCP (Annex I, form 04): when the agency handling a dossier
foresees that it will not finish in time, it apologises to the citizen in writing and proposes a new
appointment *before* the due date; it may do so once per dossier. procflow records that act as one event
(kind ``extended``) that sets ``SlaClock.extended_due_at``: the new appointment is what the citizen is
promised, what the portal is sent as NgayHenTra (the previous date kept in the payload), and what reminders
count to. ``SlaClock.due_at`` keeps the legal limit, so statistics still count the dossier late when it
finishes after that original limit: an extension is an apology, not a new time limit.

Refusals (``ExtensionRefused``, or ``NotCustodian`` for an agency that does not hold the dossier) change
nothing on the dossier and are recorded in the audit table like any refused action.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from procflow.dossier import Actor, Dossier, DossierEvent, EventKind
from procflow.errors import CalendarError, ExtensionRefused, NotCustodian

if TYPE_CHECKING:
    from procflow.engine.core import Engine

__all__ = ["EXTEND_ACTION", "extend", "extension_of"]

EXTEND_ACTION = "extend:form04"
"""The action name refusals are audited under."""

# Letters only Vietnamese (among Latin scripts) writes: a reason without any is almost surely not Vietnamese.
_VIETNAMESE = re.compile("[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.IGNORECASE)


def extension_of(events: list[DossierEvent]) -> dict[str, Any] | None:
    """The extension recorded in a dossier's events (its ``extension`` effects), or None."""
    for e in events:
        if e.kind == EventKind.EXTENDED:
            return dict((e.effects or {}).get("extension") or {})
    return None


def _refuse(engine: Engine, actor: Actor, d: Dossier, rule: str, message: str) -> None:
    engine._refuse(actor, d, EXTEND_ACTION, ExtensionRefused(message, dossier_id=d.id, rule=rule))


def extend(engine: Engine, dossier: Dossier | str, actor: Actor, *, reason: str, new_due: datetime | date,
           signer_role: str = "") -> Dossier:
    """Issue form 04 for ``dossier`` as ``actor`` (the custodian): see ``Engine.extend``."""
    d = engine.get(dossier) if isinstance(dossier, str) else dossier
    actor = engine.authoriser.authenticate(actor, d, EXTEND_ACTION)  # who they are comes from the provider
    if actor.agency != d.custodian:
        engine._refuse(actor, d, EXTEND_ACTION, NotCustodian(
            dossier_id=d.id, agency=actor.agency, custodian=d.custodian, trigger="extend",
            reason=f"dossier {d.id} is held by {d.custodian}; only the custodian may apologise and propose a "
                   f"new appointment (form 04), not {actor.agency}"))
    now = engine.clock.now()
    cal = engine.calendar
    sla = d.sla
    events = engine.store.events(d.id)
    previous = extension_of(events)
    if previous is not None:
        _refuse(engine, actor, d, "already_extended", f"an extension was already issued "
                f"(new appointment {previous.get('new_due_at')}); the time limit is extended at most once")
    if sla.stopped or sla.due_at is None:
        _refuse(engine, actor, d, "clock_stopped", "the dossier's time limit is no longer running "
                "(finished, refused, withdrawn or stopped)")
    assert sla.due_at is not None
    if sla.paused:
        _refuse(engine, actor, d, "clock_paused", "the clock is paused while the dossier waits for the citizen; "
                "an extension is issued while the agency holds the time")
    if now >= sla.due_at:
        _refuse(engine, actor, d, "after_due", f"the due date {sla.due_at.astimezone(cal.tz):%H:%M %d/%m/%Y} has "
                "passed; form 04 is issued before the due date, not after it (the dossier is counted late)")
    text = (reason or "").strip()
    if not text:
        _refuse(engine, actor, d, "no_reason", "a reason is required (it is printed in the letter to the citizen)")
    if not _VIETNAMESE.search(text):
        _refuse(engine, actor, d, "no_reason", "the reason is printed in the letter to the citizen: write it in "
                "Vietnamese, with diacritics")
    if isinstance(new_due, datetime):
        if new_due.tzinfo is None:
            _refuse(engine, actor, d, "bad_date", f"new appointment {new_due.isoformat()} has no time zone")
        when = new_due
    else:
        try:
            when = cal.close_of(new_due)
        except CalendarError as exc:
            _refuse(engine, actor, d, "bad_date", str(exc))
            raise AssertionError("unreachable") from exc
    local = when.astimezone(cal.tz)
    if not cal.is_working_day(local.date()):
        _refuse(engine, actor, d, "bad_date", f"the new appointment {local:%d/%m/%Y} is not a working day")
    appointment = sla.appointment_at
    assert appointment is not None
    if when <= appointment:
        _refuse(engine, actor, d, "bad_date", f"the new appointment {local:%H:%M %d/%m/%Y} is not later than the "
                f"current one {appointment.astimezone(cal.tz):%H:%M %d/%m/%Y}")
    new_sla = attrs.evolve(sla, extended_due_at=when)
    extension = {"number": 1, "reason": text, "issued_at": now.isoformat(), "previous_due_at": appointment.isoformat(),
                 "original_due_at": sla.due_at.isoformat(), "new_due_at": when.isoformat(),
                 "signer_role": signer_role or "Thủ trưởng cơ quan", "agency": actor.agency, "officer": actor.id}
    return engine.amend_deadline(dossier if not isinstance(dossier, str) else d, EventKind.EXTENDED, actor,
                                 sla=new_sla, step_due_at=d.step_due_at, effects={"extension": extension}, note=text)
