"""Rendering the one-stop forms: printable, self-contained HTML (A5 / A4, print CSS) and JSON.

The HTML comes from ``string.Template`` files shipped as package data (``procflow/forms/templates``): a
shared page (national motto, issuing agency, number, place and date, signature block, the source cited) and
one body per form. Every value is HTML-escaped; nothing is fetched from the network (no fonts, scripts or
images), so a form prints the same on an offline desk PC. Moments are shown in Asia/Ho_Chi_Minh.

The wording follows the structure of Circular 03/2025/TT-VPCP, Annex I (forms 01–07) as procflow could
read it from secondary sources; the official text of each form was not available to check word for word
(unconfirmed), so each page cites the circular and says so.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from procflow.errors import UsageError
from procflow.forms.records import (
    ControlSlip,
    DossierRegister,
    ExtensionLetter,
    Form,
    FormHeader,
    ReceiptSlip,
    RefusalSlip,
    StopNotice,
    SupplementRequest,
    form_to_dict,
)
from procflow.officehours import VN_TZ

__all__ = ["render_html", "render_json", "vn_time"]

# page size, margin, base font size, screen width; the slip (01) fits A5, the register is A4 landscape
# (page size, margins, font size, screen width, header font size, signature space)
_PAGE = {"01": ("A5", "8mm 9mm", "9.5pt", "130mm", ".84em", "9mm"),
         "07": ("A4 landscape", "12mm 10mm", "9.5pt", "277mm", "1em", "12mm")}
_DEFAULT_PAGE = ("A4", "15mm 15mm 15mm 20mm", "11.5pt", "180mm", ".92em", "14mm")


@cache
def _template(name: str) -> Template:
    return Template(files("procflow.forms").joinpath("templates", name).read_text(encoding="utf-8"))


def vn_time(value: datetime | None, *, with_time: bool = True) -> str:
    """``08 giờ 30 phút, ngày 20/04/2026`` in Vietnam's time (``—`` for None)."""
    if value is None:
        return "—"
    local = value.astimezone(VN_TZ)
    day = f"ngày {local:%d/%m/%Y}"
    return f"{local:%H} giờ {local:%M} phút, {day}" if with_time else day


def _short(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")


def _place_date(h: FormHeader) -> str:
    local = h.issued_at.astimezone(VN_TZ)
    place = f"{h.place}, " if h.place else ""
    return f"{place}ngày {local:%d} tháng {local:%m} năm {local:%Y}"


def _list(items: Iterable[str], tag: str = "ol", css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<{tag}{cls}>" + "".join(f"<li>{escape(i)}</li>" for i in items) + f"</{tag}>"


def _e(value: object) -> str:
    return escape("" if value is None else str(value)) or "—"


def _sign(h: FormHeader, left: str = "") -> str:
    who = escape(h.signer) if h.signer else ""
    return (f'<table class="sign"><tr><td>{left}</td><td><div class="bold upper">{escape(h.signer_role)}</div>'
            f'<div class="hint">(Ký, ghi rõ họ tên)</div><div class="sign-space"></div><div>{who}</div></td></tr>'
            "</table>")


def _common(form: Form) -> dict[str, str]:
    facts = getattr(form, "dossier", None)
    out = {"agency": _e(form.header.agency_name)}
    if facts is not None:
        out.update(applicant=_e(facts.applicant), applicant_id=_e(facts.applicant_id), phone=_e(facts.phone),
                   address=_e(facts.address), procedure_name=_e(facts.procedure_name),
                   procedure_code=_e(facts.procedure_code), dossier_id=_e(facts.dossier_id))
    return out


def _body(form: Form) -> tuple[str, str]:
    """(body HTML, left signature cell) for the form."""
    v = _common(form)
    if isinstance(form, ReceiptSlip):
        fields = form.dossier.fields
        v.update(channel="trực tuyến" if form.online else "trực tiếp tại Bộ phận Một cửa",
                 fields=_list((f"{k}: {val}" for k, val in fields), "ol", "inline") if fields else "<p>—</p>",
                 working_days=("trong ngày" if form.working_days == 0 else f"{form.working_days} ngày làm việc"),
                 received_at=vn_time(form.received_at), appointment_at=vn_time(form.appointment_at),
                 return_place=_e(form.return_place))
        return _template("01.html").substitute(v), '<div class="bold">NGƯỜI NỘP HỒ SƠ</div>' \
            '<div class="hint">(Ký, ghi rõ họ tên)</div>'
    if isinstance(form, SupplementRequest):
        v.update(requested_date=vn_time(form.requested_at, with_time=False).removeprefix("ngày "),
                 items=_list(form.items), reason=_e(form.reason), officer=_e(form.officer))
        return _template("02.html").substitute(v), ""
    if isinstance(form, RefusalSlip):
        v.update(refused_at=vn_time(form.refused_at), reasons=_list(form.reasons), officer=_e(form.officer))
        return _template("03.html").substitute(v), ""
    if isinstance(form, ExtensionLetter):
        v.update(received_at=vn_time(form.received_at, with_time=False).removeprefix("ngày "),
                 receiving=_e(form.receiving_agency),
                 responsible=_e(form.responsible_agency), original_due_at=vn_time(form.original_due_at),
                 previous_due_at=vn_time(form.previous_due_at), new_due_at=vn_time(form.new_due_at),
                 reason=_e(form.reason))
        return _template("04.html").substitute(v), ""
    if isinstance(form, StopNotice):
        v.update(stopped_at=vn_time(form.stopped_at), reason=_e(form.reason), officer=_e(form.officer))
        return _template("05.html").substitute(v), ""
    if isinstance(form, ControlSlip):
        rows = "\n".join(
            f'<tr><td class="c">{i}</td><td>{_e(r.step)}</td><td>{_e(r.giver)}</td><td>{_e(r.receiver)}</td>'
            f'<td class="nowrap">{_short(r.at)}</td>'
            f'<td class="c{" late" if r.outcome == "quá hạn" else ""}">{escape(r.outcome)}</td>'
            f"<td>{escape(r.note)}</td></tr>" for i, r in enumerate(form.rows, 1))
        v.update(received_at=vn_time(form.received_at), due_at=vn_time(form.due_at),
                 appointment_at=vn_time(form.appointment_at), rows=rows)
        return _template("06.html").substitute(v), ""
    if isinstance(form, DossierRegister):
        rows = "\n".join(
            f'<tr><td class="c">{r.no}</td><td class="nowrap">{_e(r.dossier_id)}</td><td>{_e(r.procedure_name)}</td>'
            f'<td>{_e(r.applicant)}</td><td class="nowrap">{_short(r.received_at)}</td>'
            f'<td class="nowrap">{_short(r.due_at)}</td>'
            f'<td class="nowrap">{_short(r.appointment_at) if r.appointment_at != r.due_at else ""}</td>'
            f'<td>{_e(r.competent)}</td><td class="nowrap">{_short(r.returned_at) if r.returned_at else ""}</td>'
            f'<td>{_e(r.status)}</td><td class="c{" late" if r.outcome == "quá hạn" else ""}">{escape(r.outcome)}</td>'
            "<td></td></tr>" for r in form.rows) or '<tr><td colspan="12" class="c">(không có hồ sơ)</td></tr>'
        v.update(agency_code=_e(form.header.agency_code), period_from=f"{form.period_from:%d/%m/%Y}",
                 period_to=f"{form.period_to:%d/%m/%Y}", count=str(len(form.rows)), rows=rows)
        return _template("07.html").substitute(v), ""
    raise UsageError(f"not a one-stop form record: {type(form).__name__}")


def render_html(form: Form) -> str:
    """The form as one self-contained, printable HTML page (Vietnamese)."""
    h = form.header
    body, left = _body(form)
    size, margin, font, width, head, sign_space = _PAGE.get(h.form, _DEFAULT_PAGE)
    masked = ("Dữ liệu cá nhân đã được che theo quyền của người đọc (personal data masked)." if h.masked
              else "Bản đầy đủ dữ liệu cá nhân — người đọc có quyền xem (unmasked; the read is audited).")
    page = _template("base.html").substitute(
        doc_title=escape(f"Mẫu số {h.form} — {h.number}"), page_size=size, margin=margin, font_size=font,
        screen_width=width, head_size=head, sign_space=sign_space,
        superior=_e(h.superior_name) if h.superior_name else "&nbsp;",
        agency=_e(h.agency_name), number_line=f"Số: {escape(h.number)}", place_date=escape(_place_date(h)),
        title_vi=escape(h.title_vi), subtitle=escape(f"Mẫu số {h.form} — {h.title_en}"), body=body,
        sign=_sign(h, left), source=escape(f"Mẫu số {h.form}, Phụ lục I, Thông tư 03/2025/TT-VPCP ngày 15/9/2025 "
                                           "(hướng dẫn Nghị định 118/2025/NĐ-CP). Trình bày theo cấu trúc mẫu, chưa "
                                           "đối chiếu từng chữ với văn bản gốc (unconfirmed)."),
        masked_note=escape(masked))
    # names from the divisions data may be decomposed (NFD): printed so, a font without the combining marks
    # falls back glyph by glyph to another font and the words look patched; composed text prints in one font
    return unicodedata.normalize("NFC", page)


def render_json(form: Form) -> str:
    """The form's record as JSON (ISO moments with their offsets; Vietnamese text as UTF-8)."""
    data: dict[str, Any] = form_to_dict(form)
    data["form"] = form.header.form
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default)


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
