"""The one-stop paperwork (Circular 03/2025/TT-VPCP, Annex I, guiding Decree 118/2025/NĐ-CP) as data.

Seven forms: 01 receipt and appointment slip, 02 request to supplement, 03 refusal to receive, 04 apology and
extension (issued by ``Engine.extend``), 05 notice of stopped processing, 06 processing-control slip, 07 the
desk's dossier register. ``build_form`` / ``build_register`` make typed records from a dossier's events (read
as a person reads: checked, audited, masked); ``render_html`` / ``render_json`` print them.
"""

from procflow.forms.build import DOSSIER_FORMS, build_form, build_register, check_form_number, step_outcome
from procflow.forms.extension import extend, extension_of
from procflow.forms.records import (
    CIRCULAR,
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
    form_to_dict,
)
from procflow.forms.render import render_html, render_json, vn_time

__all__ = [
    "CIRCULAR",
    "DOSSIER_FORMS",
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
    "build_form",
    "build_register",
    "check_form_number",
    "extend",
    "extension_of",
    "form_to_dict",
    "render_html",
    "render_json",
    "step_outcome",
    "vn_time",
]
