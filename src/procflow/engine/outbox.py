"""Outbox topics: which external effects a state change causes, and the message an adapter receives.

A topic turns an event into zero or more payloads while the transition's transaction is open, so the
messages commit with the snapshot and the event or not at all (invariant 2). Payloads are plain JSON in
procflow's own vocabulary; each adapter translates them into its receiver's format when it delivers,
outside any transaction (invariant 5). The idempotency key is derived from the dossier and the event
sequence number, so it is the same on every retry and unique per effect.

The standard topics (status sync, citizen notification, payment request, result document) are built
here; a plugin subscribes to one by returning it from ``procflow_register_outbox_topics``. Without a
subscriber no rows are written: the hot path pays only for effects someone delivers.

Personal values stay sealed at rest. A topic builds its payload from the dossier as the engine holds it
(real values: a notice needs the citizen's phone), but the outbox table is as much "at rest" as the
snapshot: a copy of the database file, its WAL or a backup would otherwise carry every citizen's phone
and name in clear, and the vault's encryption would protect nothing. So before a row is written,
``procflow.engine.payloadrefs.seal_payload`` replaces every payload value that equals one of the dossier's
sealed personal values with that value's vault reference (``{"$vault": "<dossier>/<seq>/<field>"}``). The
delivery worker opens the references just before it hands the message to an adapter, and audits that disclosure
(``procflow.workers.delivery``). The match is by whole value: a custom topic must put a personal value in a field
of its own — a value embedded inside a longer text (``"call 0912…"``) cannot be recognised and would be
stored as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from procflow.definition.model import ProcedureDefinition
from procflow.definition.statuses import PORTAL_STATUS
from procflow.dossier import Dossier, DossierEvent
from procflow.jsontext import isotext
from procflow.officehours import local_time
from procflow.store.base import OutboxMessage, Store

__all__ = [
    "DOCUMENTS_FILE",
    "EXCHANGE_HANDOFF",
    "NOTIFY_CITIZEN",
    "PAYMENT_REQUEST",
    "STATUS_SYNC",
    "Delivery",
    "OutboxTopic",
    "citizen_recipient",
    "document_topic",
    "message_key",
    "notification_topic",
    "payment_topic",
    "status_payload",
    "status_sync_topic",
    "topic_rule",
]

STATUS_SYNC = "portal.status"
EXCHANGE_HANDOFF = "exchange.handoff"
PAYMENT_REQUEST = "payment.request"
NOTIFY_CITIZEN = "notify.citizen"
DOCUMENTS_FILE = "documents.file"

Payloads = Callable[[Dossier, DossierEvent, ProcedureDefinition], Iterable[Mapping[str, Any]]]


@attrs.frozen
class OutboxTopic:
    """A named kind of external effect and the rule that decides, per event, which payloads it causes.

    ``payloads`` runs inside the state transaction: it must be fast, pure and deterministic (no I/O,
    no wall clock). It may read the store through a closure (the same connection, same transaction).
    """

    name: str
    payloads: Payloads = attrs.field(eq=False)
    description: str = ""


@attrs.frozen
class Delivery:
    """What an adapter receives: one claimed outbox row. ``key`` is the idempotency key: send it to the
    receiver so a retry of an effect that already landed is recognised and not applied twice. The worker
    hands the adapter ``payload`` with its vault references opened (real personal values); built from a
    stored row (``from_row``) it still holds the references."""

    id: int
    topic: str
    key: str
    dossier_id: str
    payload: Mapping[str, Any]
    attempt: int = 1
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Delivery:
        created = row.get("created_at")
        return cls(id=row["id"], topic=row["topic"], key=row["key"], dossier_id=row["dossier_id"],
                   payload=row["payload"], attempt=int(row.get("attempts") or 0) + 1,
                   created_at=datetime.fromisoformat(created) if isinstance(created, str) else created)


def message_key(topic: str, dossier_id: str, seq: int, index: int = 0) -> str:
    """``topic:dossier:seq`` (``:index`` for the second and later payloads of one event)."""
    return f"{topic}:{dossier_id}:{seq}" + (f":{index}" if index else "")


def topic_rule(topics: Sequence[OutboxTopic]) -> Callable[[Dossier, DossierEvent, ProcedureDefinition],
                                                           list[OutboxMessage]]:
    """Combine subscribed topics into one engine outbox rule."""
    frozen = tuple(topics)

    def rule(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> list[OutboxMessage]:
        out: list[OutboxMessage] = []
        for t in frozen:
            for i, payload in enumerate(t.payloads(d, e, defn)):
                out.append(OutboxMessage(t.name, message_key(t.name, d.id, e.seq, i), d.id, dict(payload)))
        return out

    return rule


# -- helpers shared by the standard topics ---------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _previous_status(e: DossierEvent, defn: ProcedureDefinition) -> int | None:
    return None if e.from_state is None else _static(defn)[0][e.from_state][0]


_Static = tuple[dict[str, tuple[int, str]], dict[str, Any]]
_STATIC: dict[int, tuple[ProcedureDefinition, _Static]] = {}


def _static(defn: ProcedureDefinition) -> _Static:
    """What a status payload takes from the definition, computed once per definition (it runs on every fire):
    ({state: (portal status, label)}, the procedure's constant payload fields). Keyed by identity, checked."""
    hit = _STATIC.get(id(defn))
    if hit is not None and hit[0] is defn:
        return hit[1]
    steps = {s.name: (s.portal_status, s.label_vi or s.label) for s in defn.states}
    const = {"procedure": defn.code, "procedure_name": defn.name_vi, "procedure_version": defn.version,
             "applicant_kind": defn.applicant_kind_code, "field_code": defn.sector_code or None}
    if len(_STATIC) > 4096:  # definitions parsed and dropped (tests): do not keep them all alive
        _STATIC.clear()
    _STATIC[id(defn)] = (defn, (steps, const))
    return steps, const


def _applicant(d: Dossier, defn: ProcedureDefinition) -> Any:
    """The dossier holder (chủ hồ sơ): the rule the printed forms use too (``ProcedureDefinition.applicant_value``)."""
    return defn.applicant_value(d.data, "name")


def status_payload(d: Dossier, defn: ProcedureDefinition, *, event: DossierEvent | None = None,
                   reason: str = "event", supplement: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The dossier as the national portal needs to see it, in procflow's words (the adapter maps them to
    the portal's fields). ``event`` is None for a reconciliation snapshot that no event caused."""
    steps, const = _static(defn)
    state_label = steps[d.state][1] if d.state in steps else defn.step(d.state).label  # KeyError as before
    sla = d.sla
    due = sla.due_at
    appointment = sla.appointment_at if sla.extended_due_at is not None else due
    due_text = None if due is None else due.isoformat()
    step_due = d.step_due_at
    agencies = d.agencies
    payload: dict[str, Any] = {
        "reason": reason,
        "dossier_id": d.id,
        "revision": d.revision,
        "procedure": const["procedure"],
        "procedure_name": const["procedure_name"],
        "procedure_version": const["procedure_version"],
        "status": d.status,
        "status_label": PORTAL_STATUS.get(d.status, ""),
        "state": d.state,
        "state_label": state_label,
        "received_at": d.received_at.isoformat(),
        # the appointment promised to the citizen (NgayHenTra): an extension's new date (form 04) once issued;
        # the legal limit stays in original_due_at (lateness is still counted against it)
        "due_at": due_text if appointment is due else (None if appointment is None else appointment.isoformat()),
        "original_due_at": due_text,
        "step_due_at": None if step_due is None else step_due.isoformat(),
        "returned_at": d.updated_at.isoformat() if d.status == 10 else None,
        "receiving_agency": agencies.get("receiving"),
        "competent_agency": agencies.get("competent"),
        "custodian": d.custodian,
        "location_independent": d.location_independent,
        "applicant": _applicant(d, defn),
        "applicant_kind": const["applicant_kind"],
        "field_code": const["field_code"],
        "event": None,
        "supplement": dict(supplement) if supplement else None,
        "extension": None,
    }
    if event is not None and event.kind == "extended":  # form 04: the previous appointment is kept beside the new
        ext = (event.effects or {}).get("extension") or {}
        payload["extension"] = {"previous_due_at": ext.get("previous_due_at"), "new_due_at": ext.get("new_due_at"),
                                "reason": ext.get("reason"), "issued_at": ext.get("issued_at")}
    if event is not None:
        payload["event"] = {"seq": event.seq, "at": isotext(event.at), "kind": event.kind,
                            "trigger": event.trigger, "actor": event.actor, "agency": event.agency,
                            "from_status": _previous_status(event, defn)}
    return payload


def _supplement(store: Store | None, d: Dossier, e: DossierEvent) -> dict[str, Any] | None:
    """When a supplemented dossier comes back, the portal wants the old and the new due date
    (NgayHenTraTruoc / NgayHenTraMoi). The old one is in the event that paused the clock."""
    if store is None:
        return None
    for past in reversed(store.events(d.id)):
        if past.seq >= e.seq:
            continue
        sla = (past.effects or {}).get("sla")
        if sla and sla.get("paused_at"):
            return {"requested_at": sla["paused_at"], "previous_due_at": sla["due_at"],
                    "new_due_at": _iso(d.sla.due_at), "resubmitted_at": _iso(e.at)}
    return None


_DEADLINE_EVENTS = frozenset({"extended", "due_recounted"})  # move NgayHenTra without changing the status


def status_sync_topic(store: Store | None = None) -> OutboxTopic:
    """``portal.status``: every filing, national-portal status change and hand-off is synced. With the
    store, a return from a supplement request carries the previous and new due dates."""

    def payloads(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> Iterator[dict[str, Any]]:
        before = _previous_status(e, defn)
        if before is not None and before == e.status and not e.handoff and e.kind not in _DEADLINE_EVENTS:
            return
        supplement = _supplement(store, d, e) if before == 5 and e.status != 5 else None
        yield status_payload(d, defn, event=e, supplement=supplement)

    return OutboxTopic(STATUS_SYNC, payloads, "dossier status and progress for the national portal")


def citizen_recipient(data: Mapping[str, Any], defn: ProcedureDefinition) -> dict[str, Any]:
    """``{"phone", "email"}`` a citizen notice (status or timer) goes to: the dossier holder's (chủ hồ sơ, the
    person who files, whom the portal row, the forms and the payer name: ``ProcedureDefinition.applicant_value``),
    never merely the first phone in the file, which may be a representative's or a guardian's. Only when the
    holder rule finds neither a phone nor an e-mail (a declared ``[applicant]`` contact left empty) does the
    notice fall back to the first phone / e-mail given, in file order (``personal_value``): a dossier someone
    can be told about is better than a silent one, and a holder who can be reached is never copied to anyone
    else. The values are as ``data`` holds them; the row is sealed before it is stored."""
    phone, email = defn.applicant_value(data, "phone"), defn.applicant_value(data, "email")
    if phone is None and email is None:
        phone, email = defn.personal_value(data, "phone"), defn.personal_value(data, "email")
    return {"phone": phone, "email": email}


_NOTICES = {
    2: ("Hồ sơ {id} đã được tiếp nhận; hẹn trả kết quả {due}.", "Dossier {id} was received; result due {due}."),
    3: ("Hồ sơ {id} không được tiếp nhận.", "Dossier {id} was not received."),
    5: ("Hồ sơ {id} cần bổ sung giấy tờ; vui lòng liên hệ bộ phận một cửa.",
        "Dossier {id} needs more documents; please contact the one-stop desk."),
    6: ("Hồ sơ {id}: vui lòng thực hiện nghĩa vụ tài chính.", "Dossier {id}: please pay the financial obligation."),
    8: ("Hồ sơ {id} đã dừng xử lý.", "Processing of dossier {id} was stopped."),
    9: ("Hồ sơ {id} đã có kết quả tại bộ phận một cửa.", "The result of dossier {id} is ready at the one-stop desk."),
}


_EXTENSION = ("Hồ sơ {id}: cơ quan giải quyết xin lỗi vì chưa thể trả kết quả đúng hẹn; hẹn trả kết quả mới {due} "
              "(văn bản xin lỗi và đề nghị gia hạn, mẫu số 04).",
              "Dossier {id}: the agency apologises that the result cannot be ready on time; new appointment {due} "
              "(apology and extension letter, form 04).")


def notification_topic() -> OutboxTopic:
    """``notify.citizen``: the texts a citizen gets when their dossier needs them or is done."""

    def payloads(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> Iterator[dict[str, Any]]:
        due = local_time(d.sla.appointment_at, "%d/%m/%Y")
        if e.kind == "extended":  # form 04 issued: the citizen is told of the apology and the new appointment
            yield {"dossier_id": d.id, "status": e.status, "procedure": defn.code, "template": "extension",
                   "text_vi": _EXTENSION[0].format(id=d.id, due=due), "text_en": _EXTENSION[1].format(id=d.id, due=due),
                   "recipient": citizen_recipient(d.data, defn)}
            return
        if e.status not in _NOTICES or _previous_status(e, defn) == e.status:
            return
        vi, en = _NOTICES[e.status]
        yield {"dossier_id": d.id, "status": e.status, "procedure": defn.code, "template": f"status-{e.status}",
               "text_vi": vi.format(id=d.id, due=due), "text_en": en.format(id=d.id, due=due),
               "recipient": citizen_recipient(d.data, defn)}

    return OutboxTopic(NOTIFY_CITIZEN, payloads, "SMS / e-mail / app notices to the citizen (content only)")


def payment_topic() -> OutboxTopic:
    """``payment.request``: entering status 6 asks the payment platform to bill the obligation. The payer is
    the dossier holder (chủ hồ sơ, the person who files and pays: ``ProcedureDefinition.applicant_value``),
    the person the portal row names too, never merely the first name field (a birth registration's newborn)."""

    def payloads(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> Iterator[dict[str, Any]]:
        if e.status != 6 or _previous_status(e, defn) == 6:
            return
        yield {"dossier_id": d.id, "procedure": defn.code, "procedure_name": defn.name_vi,
               "payer": _applicant(d, defn), "requested_at": _iso(e.at), "agency": e.agency,
               "amount": d.data.get("obligation_amount")}

    return OutboxTopic(PAYMENT_REQUEST, payloads, "fee / financial-obligation requests to a payment platform")


def document_topic() -> OutboxTopic:
    """``documents.file``: a processed dossier (status 9) files its result document."""

    def payloads(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> Iterator[dict[str, Any]]:
        if e.status != 9 or _previous_status(e, defn) == 9:
            return
        yield {"dossier_id": d.id, "procedure": defn.code, "title": f"Kết quả giải quyết: {defn.name_vi}",
               "issued_at": _iso(e.at), "issued_by": e.agency, "signed_by": e.actor}

    return OutboxTopic(DOCUMENTS_FILE, payloads, "result documents to the document-management system")
