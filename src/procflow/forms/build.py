"""Building the one-stop forms from a dossier's events (Circular 03/2025/TT-VPCP, Annex I).

``build_form`` reads the dossier and its history the way a person reads them (``Engine.read`` /
``read_history``: checked against the custody path, audited, masked unless the reader may unmask), then
picks the event each form documents: the receipt (01), the supplement request (02), the refusal (03), the
extension (04), the stop (05), or every hand-over (06). ``build_register`` lists a desk's dossiers (07).
Nothing here writes to the dossier; a form that the history does not support raises ``FormNotAvailable``.

Numbering (procflow's, the circular leaves it to the agency): form 01 and 06 carry the dossier code (mã số
hồ sơ, which is also the receipt number); forms 02–05 are numbered ``<dossier code>/<form>.<event seq>``, so a
reprint has the same number; form 07 ``<agency code>/<from>-<to>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from procflow.definition.model import ProcedureDefinition
from procflow.definition.statuses import PORTAL_STATUS
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind, sla_from_dict
from procflow.errors import FormNotAvailable, ProcflowError
from procflow.forms.records import (
    FORM_TITLES,
    ControlRow,
    ControlSlip,
    DossierFacts,
    DossierRegister,
    ExtensionLetter,
    Form,
    FormHeader,
    ReceiptSlip,
    RefusalSlip,
    RegisterRow,
    StopNotice,
    SupplementRequest,
)

if TYPE_CHECKING:
    from procflow.calendar import WorkingCalendar
    from procflow.engine.core import Engine

__all__ = ["DOSSIER_FORMS", "build_form", "build_register", "step_outcome"]

DOSSIER_FORMS = ("01", "02", "03", "04", "05", "06")
"""Forms built for one dossier; form 07 is a desk's register (``build_register``)."""

_ROLE = {"01": "Người tiếp nhận hồ sơ", "02": "Người tiếp nhận hồ sơ", "03": "Người tiếp nhận hồ sơ",
         "05": "Thủ trưởng cơ quan giải quyết", "06": "Bộ phận Một cửa", "07": "Người lập sổ"}


def check_form_number(form: str) -> str:
    """``"1"`` / ``"01"`` → ``"01"``; anything else raises ``FormNotAvailable`` naming the seven forms."""
    text = str(form).strip()
    if text.isdigit() and len(text) <= 2 and f"{int(text):02d}" in FORM_TITLES:
        return f"{int(text):02d}"
    raise FormNotAvailable(f"unknown form number {form!r}: the one-stop forms are 01–07 "
                           f"({', '.join(f'{k} {v[1].lower()}' for k, v in FORM_TITLES.items())})", form=text)


def step_outcome(at: datetime, due: datetime | None, tz: Any) -> str:
    """Trước hạn (a day or more early) / đúng hạn (on the due day, by the due moment) / quá hạn (late)."""
    if due is None:
        return ""
    if at > due:
        return "quá hạn"
    return "trước hạn" if at.astimezone(tz).date() < due.astimezone(tz).date() else "đúng hạn"


class _Names:
    def __init__(self, engine: Engine) -> None:
        self.registry = engine.registry

    def agency(self, code: str) -> str:
        try:
            return " ".join(self.registry.agency(code).name.split())
        except ProcflowError:
            return code

    def superior(self, code: str) -> str:
        try:
            agency = self.registry.agency(code)
            if agency.kind == "province":
                return ""
            return " ".join(self.registry.province_of(agency).name.split()).upper()
        except ProcflowError:
            return ""

    def place(self, code: str) -> str:
        try:
            name = " ".join(self.registry.province_of(code).name.split())
        except ProcflowError:
            return ""
        return re.sub(r"^(Ủy ban nhân dân\s+)?(tỉnh|thành phố|TP\.?)\s+", "", name, flags=re.IGNORECASE)


def _facts(d: Dossier, defn: ProcedureDefinition) -> DossierFacts:
    def first(kind: str) -> str:  # the dossier holder's, as the portal's status row names them
        value = defn.applicant_value(d.data, kind)
        return "" if value is None else str(value)

    labels = {f.name: (f.label_vi or f.label_en or f.name.replace("_", " ")) for f in defn.fields}
    fields = tuple((labels.get(k, k), _show(v)) for k, v in d.data.items() if k in labels and v not in (None, ""))
    return DossierFacts(dossier_id=d.id, procedure_code=defn.code, procedure_name=defn.name_vi or defn.name,
                        applicant=first("name"), applicant_id=first("national_id"),
                        phone=first("phone"), address=first("address"), fields=fields)


def _show(v: Any) -> str:
    if v is True:
        return "có"
    if v is False:
        return "không"
    return str(v)


def _items(note: str | None) -> tuple[str, ...]:
    """A note's reasons / items, one per line or ``;``-separated."""
    parts = [p.strip(" -•\t") for p in re.split(r"[;\n]", note or "")]
    return tuple(p for p in parts if p)


def _entering(events: Sequence[DossierEvent], status: int) -> DossierEvent | None:
    """The last event that moved the dossier into portal ``status`` (from another status)."""
    found = None
    before: int | None = None
    for e in events:
        if e.status == status and before != status:
            found = e
        before = e.status
    return found


def _sla_at(events: Sequence[DossierEvent], seq: int) -> Any:
    sla = None
    for e in events:
        if e.seq > seq:
            break
        fx = e.effects or {}
        if "sla" in fx:
            sla = sla_from_dict(fx["sla"])
    return sla


def build_form(engine: Engine, dossier_id: str, form: str, actor: Actor, *, purpose: str = "forms",
               unmask: bool = False) -> Form:
    """Form ``form`` (01–06) for a dossier, read as ``actor`` (checked, audited, masked unless ``unmask``)."""
    number = check_form_number(form)
    if number == "07":
        raise FormNotAvailable("form 07 is a desk's register, not one dossier's form: give an agency and a period "
                               "(build_register / procflow forms --form 07 --agency CODE --from DATE --to DATE)",
                               form=number, dossier_id=dossier_id)
    d = engine.read(dossier_id, actor, purpose=f"{purpose}:{number}", unmask=unmask)
    events = engine.read_history(dossier_id, actor, purpose=f"{purpose}:{number}", unmask=unmask)
    defn = engine.definition(d.procedure, d.definition_version)
    return _BUILDERS[number](_Ctx(engine, d, defn, events, masked=not unmask))


class _Ctx:
    def __init__(self, engine: Engine, d: Dossier, defn: ProcedureDefinition, events: Sequence[DossierEvent], *,
                 masked: bool) -> None:
        self.engine, self.d, self.defn, self.events, self.masked = engine, d, defn, list(events), masked
        self.names = _Names(engine)
        self.facts = _facts(d, defn)
        self.tz = engine.calendar.tz

    def header(self, form: str, agency: str, at: datetime, signer: str, *, number: str,
               role: str | None = None) -> FormHeader:
        return FormHeader(form=form, number=number, agency_code=agency, agency_name=self.names.agency(agency),
                          superior_name=self.names.superior(agency), place=self.names.place(agency), issued_at=at,
                          addressee=self.facts.applicant, signer_role=role or _ROLE.get(form, ""), signer=signer,
                          masked=self.masked)

    def missing(self, form: str, what: str) -> FormNotAvailable:
        return FormNotAvailable(f"dossier {self.d.id} has no {what}: form {form} "
                                f"({FORM_TITLES[form][1].lower()}) does not apply", form=form, dossier_id=self.d.id)


def _receipt(c: _Ctx) -> ReceiptSlip:
    e = _entering(c.events, 2)
    if e is None:
        raise c.missing("01", "receipt at the desk yet (portal status 2)")
    sla = _sla_at(c.events, e.seq)
    return ReceiptSlip(header=c.header("01", e.agency, e.at, e.actor, number=c.d.id), dossier=c.facts,
                       received_at=e.at, appointment_at=None if sla is None else sla.due_at,
                       working_days=c.d.sla.working_days, return_place=c.names.agency(c.d.receiving),
                       online=c.events[0].status == 1)


def _supplement(c: _Ctx) -> SupplementRequest:
    e = _entering(c.events, 5)
    if e is None:
        raise c.missing("02", "supplement request (portal status 5)")
    items = _items(e.note)
    return SupplementRequest(header=c.header("02", e.agency, e.at, e.actor, number=f"{c.d.id}/02.{e.seq}"),
                             dossier=c.facts, requested_at=e.at, items=items or ("(không ghi nội dung)",),
                             reason=e.note or "", officer=e.actor)


def _refusal(c: _Ctx) -> RefusalSlip:
    e = _entering(c.events, 3)
    if e is None:
        raise c.missing("03", "refusal to receive (portal status 3)")
    return RefusalSlip(header=c.header("03", e.agency, e.at, e.actor, number=f"{c.d.id}/03.{e.seq}"),
                       dossier=c.facts, refused_at=e.at, reasons=_items(e.note) or ("(không ghi lý do)",),
                       officer=e.actor)


def _extension(c: _Ctx) -> ExtensionLetter:
    e = next((x for x in c.events if x.kind == EventKind.EXTENDED), None)
    if e is None:
        raise c.missing("04", "extension (procflow extend)")
    ext: Mapping[str, Any] = (e.effects or {}).get("extension") or {}
    return ExtensionLetter(
        header=c.header("04", e.agency, e.at, e.actor, number=f"{c.d.id}/04.{e.seq}",
                        role=str(ext.get("signer_role") or "Thủ trưởng cơ quan")),
        dossier=c.facts, received_at=c.d.received_at, original_due_at=datetime.fromisoformat(ext["original_due_at"]),
        previous_due_at=datetime.fromisoformat(ext["previous_due_at"]),
        new_due_at=datetime.fromisoformat(ext["new_due_at"]), reason=str(ext.get("reason") or e.note or ""),
        responsible_agency=c.names.agency(e.agency), receiving_agency=c.names.agency(c.d.receiving))


def _stop(c: _Ctx) -> StopNotice:
    e = _entering(c.events, 8)
    if e is None:
        raise c.missing("05", "stop of processing (portal status 8)")
    return StopNotice(header=c.header("05", e.agency, e.at, e.actor, number=f"{c.d.id}/05.{e.seq}"),
                      dossier=c.facts, stopped_at=e.at, reason=e.note or "(không ghi lý do)", officer=e.actor)


def _control(c: _Ctx) -> ControlSlip:
    rows: list[ControlRow] = []
    first = c.events[0]
    fx = first.effects or {}
    sla = sla_from_dict(fx["sla"]) if "sla" in fx else c.d.sla
    step_due = datetime.fromisoformat(fx["step_due_at"]) if fx.get("step_due_at") else None
    custodian = first.custodian
    label = {s.name: (s.label_vi or s.label or s.name) for s in c.defn.states}
    rows.append(ControlRow(seq=first.seq, step=label.get(first.to_state, first.to_state),
                           giver=f"Người nộp hồ sơ: {c.facts.applicant or '—'}",
                           receiver=c.names.agency(first.custodian), at=first.at, due_at=None, outcome="",
                           note="nộp trực tuyến" if first.status == 1 else "tiếp nhận tại Bộ phận Một cửa"))
    for e in c.events[1:]:
        fx = e.effects or {}
        limit = step_due if step_due is not None else (sla.due_at if sla.running else None)
        new_sla = sla_from_dict(fx["sla"]) if "sla" in fx else sla
        if e.kind == EventKind.FIRED or e.kind == EventKind.MIGRATED:
            outcome = step_outcome(e.at, limit, c.tz)
            note = e.note or ""
            if fx.get("custodian_from"):
                note = (note + "; " if note else "") + "chuyển hồ sơ"
            rows.append(ControlRow(seq=e.seq, step=label.get(e.to_state, e.to_state),
                                   giver=f"{c.names.agency(custodian)} ({e.actor})",
                                   receiver=c.names.agency(e.custodian), at=e.at, due_at=limit, outcome=outcome,
                                   note=note))
        else:  # a fact that moves nothing: shown, without a hand-over
            what = {EventKind.EXTENDED: "xin lỗi, gia hạn (mẫu 04)", EventKind.OVERDUE: "ghi nhận quá hạn",
                    EventKind.ESCALATED: "báo cáo lãnh đạo đơn vị"}.get(e.kind, e.kind)
            rows.append(ControlRow(seq=e.seq, step=what, giver=f"{c.names.agency(e.agency)} ({e.actor})",
                                   receiver=c.names.agency(e.custodian), at=e.at, due_at=None, outcome="",
                                   note=e.note or ""))
        if "step_due_at" in fx:
            step_due = datetime.fromisoformat(fx["step_due_at"]) if fx["step_due_at"] else None
        sla, custodian = new_sla, e.custodian
    return ControlSlip(header=c.header("06", c.d.receiving, c.events[-1].at, "", number=c.d.id), dossier=c.facts,
                       received_at=c.d.received_at, due_at=c.d.sla.due_at, appointment_at=c.d.sla.appointment_at,
                       rows=tuple(rows))


_BUILDERS: dict[str, Callable[[_Ctx], Form]] = {
    "01": _receipt, "02": _supplement, "03": _refusal, "04": _extension, "05": _stop, "06": _control}


def _final_outcome(d: Dossier, at: datetime, tz: Any) -> str:
    if d.sla.due_at is None:
        return ""
    if d.sla.stopped:
        assert d.sla.stopped_at is not None
        return step_outcome(d.sla.stopped_at, d.sla.due_at, tz)
    return "quá hạn" if d.sla.is_overdue(at) else ""


def build_register(engine: Engine, agency: str, date_from: date, date_to: date, actor: Actor, *,
                   purpose: str = "forms", unmask: bool = False) -> DossierRegister:
    """Mẫu số 07: the dossiers received at desk ``agency`` from ``date_from`` to ``date_to`` (inclusive, Vietnam
    time). Each dossier is read as ``actor`` (checked, audited): one the actor may not read raises
    ``AccessDenied``."""
    engine.registry.agency(agency)  # UnknownAgency for a code that names nothing
    if date_to < date_from:
        raise FormNotAvailable(f"register period ends {date_to.isoformat()} before it starts "
                               f"{date_from.isoformat()}", form="07")
    cal: WorkingCalendar = engine.calendar
    tz = cal.tz
    code = agency.strip().upper()
    picked = sorted((d.received_at, d.id) for d in engine.store.iter_dossiers()
                    if d.agencies.get("receiving", "").upper() == code
                    and date_from <= d.received_at.astimezone(tz).date() <= date_to)
    names = _Names(engine)
    now = engine.clock.now()
    rows = []
    for no, (_, did) in enumerate(picked, 1):
        d = engine.read(did, actor, purpose=f"{purpose}:07", unmask=unmask)
        defn = engine.definition(d.procedure, d.definition_version)
        facts = _facts(d, defn)
        returned = None
        if d.status == 10:
            returned = next((e.at for e in reversed(engine.store.events(did)) if e.status == 10), d.updated_at)
        rows.append(RegisterRow(no=no, dossier_id=d.id, procedure_name=facts.procedure_name, applicant=facts.applicant,
                                received_at=d.received_at, due_at=d.sla.due_at, appointment_at=d.sla.appointment_at,
                                competent=names.agency(d.agencies.get("competent", d.custodian)), returned_at=returned,
                                status=f"{d.status} {PORTAL_STATUS.get(d.status, '')}",
                                outcome=_final_outcome(d, now, tz)))
    header = FormHeader(form="07", number=f"{code}/{date_from:%Y%m%d}-{date_to:%Y%m%d}", agency_code=code,
                        agency_name=names.agency(code), superior_name=names.superior(code), place=names.place(code),
                        issued_at=now, addressee="", signer_role=_ROLE["07"], signer=actor.id, masked=not unmask)
    return DossierRegister(header=header, period_from=date_from, period_to=date_to, rows=tuple(rows))
