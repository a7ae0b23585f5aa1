"""The seven one-stop forms as typed records (Circular 03/2025/TT-VPCP, Annex I).

Each record is a frozen value built from a dossier's events (``procflow.forms.build``) and rendered to
printable HTML or JSON (``procflow.forms.render``); it never reads the store itself. Personal values arrive
already masked unless the reader was allowed to unmask them (``FormHeader.masked`` says which), so a record
can be printed or logged as it is.

Moments are aware datetimes; renderers show them in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import attrs

from procflow.officehours import VN_TZ

__all__ = [
    "CIRCULAR",
    "DOSSIER_CODE",
    "FORM_TITLES",
    "ControlRow",
    "ControlSlip",
    "DossierFacts",
    "DossierRegister",
    "ExtensionLetter",
    "Form",
    "FormHeader",
    "ReceiptSlip",
    "RefusalSlip",
    "RegisterRow",
    "StopNotice",
    "SupplementRequest",
    "form_to_dict",
]

CIRCULAR = ("Thông tư số 03/2025/TT-VPCP ngày 15/9/2025 của Văn phòng Chính phủ hướng dẫn Nghị định số "
            "118/2025/NĐ-CP, Phụ lục I")
"""The source every template cites (the form's number is added: "Mẫu số 01, ...")."""

DOSSIER_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}$")
"""The dossier code (mã số hồ sơ) procflow issues: ``V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX`` — the receiving
agency's code (mã định danh), the receipt day, the day's sequence number. This is the structure of Circular
01/2018/TT-VPCP, art. 19; Circular 03/2025/TT-VPCP (which replaces it and also sets the dossier code) was not
readable word for word here, so that it keeps the same structure is UNCONFIRMED."""

FORM_TITLES: dict[str, tuple[str, str]] = {
    "01": ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "Receipt and appointment slip"),
    "02": ("PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", "Request to supplement and complete the dossier"),
    "03": ("PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ", "Refusal to receive the dossier"),
    "04": ("VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT",
           "Apology and request to extend the time limit"),
    "05": ("THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ", "Notice of stopped processing"),
    "06": ("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", "Processing-control slip"),
    "07": ("SỔ THEO DÕI HỒ SƠ", "Dossier register"),
}


@attrs.frozen(kw_only=True)
class FormHeader:
    """What every form carries: its number, issuing agency, place and date, addressee and signer."""

    form: str  # "01" … "07"
    number: str  # Số: procflow numbers a dossier's form by dossier code, form and event (see docs/concepts/forms)
    agency_code: str
    agency_name: str
    superior_name: str  # the governing body printed above the agency (cơ quan chủ quản), e.g. the province
    place: str  # địa danh on the date line
    issued_at: datetime
    addressee: str  # Kính gửi / người nộp hồ sơ (masked unless unmasked)
    signer_role: str  # chức danh người ký
    signer: str  # the official (procflow actor id) who acted
    masked: bool = True

    @property
    def title_vi(self) -> str:
        return FORM_TITLES[self.form][0]

    @property
    def title_en(self) -> str:
        return FORM_TITLES[self.form][1]

    @property
    def source(self) -> str:
        return f"Mẫu số {self.form}, {CIRCULAR}"


@attrs.frozen(kw_only=True)
class DossierFacts:
    """The dossier as the forms name it (personal values masked unless the reader may unmask)."""

    dossier_id: str  # mã số hồ sơ
    procedure_code: str
    procedure_name: str
    applicant: str
    applicant_id: str  # số định danh cá nhân (masked)
    phone: str
    address: str
    fields: tuple[tuple[str, str], ...] = ()  # (label, value) of the dossier's declared data


@attrs.frozen(kw_only=True)
class ReceiptSlip:
    """Mẫu số 01: received, and when to come back for the result."""

    header: FormHeader
    dossier: DossierFacts
    received_at: datetime
    appointment_at: datetime | None  # ngày hẹn trả kết quả, as promised at receipt
    working_days: int
    return_place: str  # where the result is returned (the receiving desk)
    online: bool


@attrs.frozen(kw_only=True)
class SupplementRequest:
    """Mẫu số 02: what is missing or incomplete, why, and who asked."""

    header: FormHeader
    dossier: DossierFacts
    requested_at: datetime
    items: tuple[str, ...]  # each document or piece of information to supplement
    reason: str
    officer: str


@attrs.frozen(kw_only=True)
class RefusalSlip:
    """Mẫu số 03: the dossier is not received, with the reasons."""

    header: FormHeader
    dossier: DossierFacts
    refused_at: datetime
    reasons: tuple[str, ...]
    officer: str


@attrs.frozen(kw_only=True)
class ExtensionLetter:
    """Mẫu số 04: apology and a new appointment, issued before the due date (``Engine.extend``)."""

    header: FormHeader
    dossier: DossierFacts
    received_at: datetime
    original_due_at: datetime  # the legal limit (lateness is still counted against it)
    previous_due_at: datetime  # the appointment the citizen had
    new_due_at: datetime
    reason: str
    responsible_agency: str  # the custodian that apologises
    receiving_agency: str  # the desk that received the dossier and returns the result


@attrs.frozen(kw_only=True)
class StopNotice:
    """Mẫu số 05: processing stopped, and why."""

    header: FormHeader
    dossier: DossierFacts
    stopped_at: datetime
    reason: str
    officer: str


@attrs.frozen(kw_only=True)
class ControlRow:
    """One hand-over on the processing-control slip: who gave, who received, when, and how the step ended."""

    seq: int
    step: str  # the task handed over (the state entered)
    giver: str  # agency (and official) handing over
    receiver: str  # agency receiving
    at: datetime
    due_at: datetime | None  # the limit of the step being finished (its own, else the dossier's)
    outcome: str  # "trước hạn" / "đúng hạn" / "quá hạn" / "" (still open, or no limit)
    note: str = ""


@attrs.frozen(kw_only=True)
class ControlSlip:
    """Mẫu số 06: the dossier's custody trail, step by step."""

    header: FormHeader
    dossier: DossierFacts
    received_at: datetime
    due_at: datetime | None
    appointment_at: datetime | None
    rows: tuple[ControlRow, ...]


@attrs.frozen(kw_only=True)
class RegisterRow:
    """One dossier in a desk's register."""

    no: int
    dossier_id: str
    procedure_name: str
    applicant: str
    received_at: datetime
    due_at: datetime | None  # legal limit
    appointment_at: datetime | None  # differs from due_at after an extension (form 04)
    competent: str
    returned_at: datetime | None
    status: str
    outcome: str  # "đúng hạn" / "trước hạn" / "quá hạn" / "" (open)


@attrs.frozen(kw_only=True)
class DossierRegister:
    """Mẫu số 07: a desk's register of dossiers received in a period."""

    header: FormHeader
    period_from: date
    period_to: date
    rows: tuple[RegisterRow, ...]


Form = ReceiptSlip | SupplementRequest | RefusalSlip | ExtensionLetter | StopNotice | ControlSlip | DossierRegister


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # moments as Vietnam reads them, with the offset (+07:00)
        return value.astimezone(VN_TZ).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def form_to_dict(form: Form) -> dict[str, Any]:
    """The record as JSON-ready data (ISO moments), with the form's title and source beside its fields."""
    out: dict[str, Any] = _plain(attrs.asdict(form, recurse=True))
    out["header"]["title_vi"] = form.header.title_vi
    out["header"]["title_en"] = form.header.title_en
    out["header"]["source"] = form.header.source
    return out
