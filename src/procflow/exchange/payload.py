"""A dossier and its events as an envelope's payload, and back; who handed a dossier over, and the message id.

Pure conversions, apart from the node (procflow.exchange.transfer) that signs, sends and imports them, so the
mapping between the store's records and the envelope's reads on its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from procflow.definition.model import ProcedureDefinition
from procflow.dossier import Dossier, DossierEvent
from procflow.errors import UsageError
from procflow.exchange.history import payload_links
from procflow.exchange.model import (
    DossierPayload,
    Field,
    PayloadEvent,
)

__all__ = [
    "StoreReplayGuard",
    "dossier_event",
    "dossier_payload",
    "handed_over_by",
    "handoff_message_id",
    "payload_event",
]


_MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


_COMPARED = ("seq", "at", "kind", "trigger", "from_state", "to_state", "status", "actor", "agency", "custodian",
             "definition_version", "effects", "note")


# -- the mapping between the engine's records and the envelope's payload ------------------------------------
def payload_event(e: DossierEvent) -> PayloadEvent:
    """An engine event as the envelope carries it: every field, effects as typed values."""
    return PayloadEvent(seq=e.seq, at=e.at, kind=e.kind, actor=e.actor, agency=e.agency,
                        definition_version=e.definition_version, trigger=e.trigger, from_state=e.from_state,
                        to_state=e.to_state, custodian=e.custodian, status=e.status, note=e.note,
                        data=tuple(Field.of(k, v) for k, v in (e.effects or {}).items()), **payload_links(e))


def dossier_event(dossier_id: str, p: PayloadEvent) -> DossierEvent:
    """The inverse of :func:`payload_event`; ``ValueError`` when the payload lacks what the engine needs."""
    missing = [name for name in ("to_state", "custodian", "status") if getattr(p, name) is None]
    if missing:
        raise UsageError(f"event {p.seq} has no {', '.join(missing)}")
    effects = {f.name: f.to_python() for f in p.data}
    if len(effects) != len(p.data):
        raise UsageError(f"event {p.seq} names an effect twice")
    return DossierEvent(dossier_id=dossier_id, seq=p.seq, at=p.at, kind=p.kind, trigger=p.trigger,
                        from_state=p.from_state, to_state=p.to_state, status=p.status,  # type: ignore[arg-type]
                        actor=p.actor, agency=p.agency, custodian=p.custodian,  # type: ignore[arg-type]
                        definition_version=p.definition_version, effects=effects or None, note=p.note)


def dossier_payload(d: Dossier, events: Sequence[DossierEvent], defn: ProcedureDefinition | None = None
                    ) -> DossierPayload:
    """Snapshot plus full history. ``d`` and ``events`` must hold real values (``Engine.get``/``history``)."""
    return DossierPayload(dossier_id=d.id, procedure_code=d.procedure, procedure_version=d.definition_version,
                          state=d.state, custodian=d.custodian, receiving_agency=d.receiving,
                          definition_hash=defn.content_hash if defn is not None else None,
                          fields=tuple(Field.of(k, v) for k, v in d.data.items()),
                          events=tuple(payload_event(e) for e in events))


def handoff_message_id(dossier_id: str, seq: int) -> str:
    """``{dossier}:{seq}``: one message per hand-off event, the same however often it is sent or exported,
    so a receiver applies it once. Dossier ids that cannot be message ids are hashed."""
    candidate = f"{dossier_id}:{seq}"
    if _MESSAGE_ID.fullmatch(candidate):
        return candidate
    return f"h{hashlib.sha256(dossier_id.encode()).hexdigest()[:40]}:{seq}"


def handed_over_by(events: Sequence[DossierEvent]) -> str:
    """The agency that gave the dossier to its current custodian (the filing agency if custody never moved)."""
    return _last_handoff(events).previous


def _last_handoff(events: Sequence[DossierEvent]) -> _Handoff:
    """The event that gave the dossier to its current custodian, and who held it before."""
    for i in range(len(events) - 1, 0, -1):
        if events[i].custodian != events[i - 1].custodian:
            return _Handoff(events[i], events[i - 1].custodian)
    first = events[0]
    return _Handoff(first, first.agency)


def _comparable(e: DossierEvent) -> tuple[Any, ...]:
    return tuple(getattr(e, name) for name in _COMPARED)


# -- the replay guard, in the store -------------------------------------------------------------------------
class StoreReplayGuard:
    """Message ids a node has imported, in the store's ``exchange_received`` table.

    :meth:`record` runs inside the import's transaction (it uses the store's own connection), so the id
    commits with the dossier it brought, or neither does.
    """

    def __init__(self, store: Any, *, clock: Any = None) -> None:
        self.store = store
        self.clock = clock

    def record(self, message_id: str, *, sender: str | None = None, dossier_id: str | None = None,
               at: datetime | None = None) -> bool:
        """True if ``message_id`` is new (and now recorded); False if it was recorded before."""
        when = at or (self.clock.now() if self.clock is not None else datetime.now().astimezone())
        return bool(self.store.record_received(message_id, at=when, sender=sender, dossier_id=dossier_id))

    def seen_or_record(self, message_id: str) -> bool:
        """The :class:`~procflow.exchange.verifier.ReplayGuard` protocol."""
        return not self.record(message_id)

    def __contains__(self, message_id: object) -> bool:
        return isinstance(message_id, str) and bool(self.store.is_received(message_id))

    def received(self, dossier_id: str | None = None) -> list[tuple[str, str | None, str | None]]:
        """(message id, sender, dossier id) in id order, for inspection and tests."""
        return list(self.store.received_messages(dossier_id))

    def forget_before(self, when: datetime) -> int:
        """Drop ids received before ``when``. Safe once ``when`` is older than the verifier's window plus its
        future skew: an envelope that old is refused as stale before its id is looked at."""
        return int(self.store.forget_received_before(when))


@attrs.frozen
class _Handoff:
    event: DossierEvent
    previous: str  # the custodian before ``event``

