"""Masking of citizens' personal data wherever it leaves the engine for human eyes.

Declared personal fields (``personal = "national_id"`` etc. in a definition) are masked by kind; a final
pattern pass masks anything that looks like a 12-digit national ID (CCCD) or a Vietnamese mobile number
even where a field was not declared.

This is the masking API adapters, reports and exports use:

* :func:`mask_value` — one value of a known kind (``079212345667`` → ``0792******67``);
* :func:`mask_record` — a data mapping, by the definition's declared kinds (+ the pattern pass);
* :func:`mask_text` — free text (log lines, exception messages, notes): the pattern pass only;
* :func:`mask_dossier` / :func:`mask_event` — a whole snapshot / event as people may see it;
* :func:`mask_json` — any JSON-like structure (reports, exports, payload listings), recursively.

Machine channels to authorised receivers (signed envelopes, portal sync, backups) carry real values and
are audited instead (``procflow.privacy.access.record_disclosure``); they are never logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from procflow.definition.model import ProcedureDefinition

if TYPE_CHECKING:
    from procflow.dossier import Dossier, DossierEvent

__all__ = [
    "mask_dossier",
    "mask_event",
    "mask_json",
    "mask_record",
    "mask_text",
    "mask_value",
    "personal_kinds",
]

_ID = re.compile(r"(?<!\d)(\d{4})\d{6}(\d{2})(?!\d)")
# 10-digit mobile (09x…) and 11-digit landline (02xx xxxx xxx, area codes since 2017) written in one run
_PHONE = re.compile(r"(?<!\d)(0\d{2})\d{5,6}(\d{2})(?!\d)")
# +84 / 84 international form (9 or 10 digits after the country code), also "(+84)"
_PHONE_INTL = re.compile(r"(?<![\d+])(\(?\+84\)?[ .-]?|84)(\d{2})\d{5,6}(\d{2})(?!\d)")
# a number written in groups: 0912 345 678, 091.234.5678, 091-234-5678, +84 912 345 678, (+84) 912.345.678,
# 0292 3812 345 (landline), 0921 2345 6789 (ID in groups)
_GROUPED = re.compile(r"(?<![\d.-])(?:\(?\+84\)?[ .-]?|0)\d{1,4}(?:[ .-]\d{2,4}){1,3}(?![\d])")
# old 9-digit identity-card numbers (CMND) and 12-digit ones, where the text says they are ID numbers: a bare
# 9-digit number is as likely an amount or a register number, so only the personal context masks it
_ID_CONTEXT = re.compile(
    r"(?i)((?:CMND|CCCD|CMTND|chứng minh(?: nhân dân)?|căn cước(?: công dân)?|định danh(?: cá nhân)?|"
    r"identity(?: card)?|national id|ID)\b[^\d\n]{0,24})(\d{3}[ .]?\d{3}[ .]?\d{3})(?!\d)")


def mask_value(value: Any, kind: str | None) -> Any:
    """``079212345667`` → ``0792******67``; names keep initials; addresses keep nothing but their length."""
    if value is None or kind is None:
        return value
    text = str(value)
    if kind == "national_id":
        return text[:4] + "*" * max(len(text) - 6, 0) + text[-2:] if len(text) > 6 else "*" * len(text)
    if kind == "phone":
        return text[:3] + "*" * max(len(text) - 5, 0) + text[-2:] if len(text) > 5 else "*" * len(text)
    if kind == "name":
        return " ".join(w[:1] + "." for w in text.split())
    if kind == "date_of_birth":
        return text[:4] + "-**-**" if len(text) >= 4 else "****"
    if kind == "email" and "@" in text:
        local, _, domain = text.partition("@")
        return local[:1] + "***@" + domain
    return "*" * min(len(text), 8)


def personal_kinds(definition: ProcedureDefinition | None) -> dict[str, str]:
    """``{field: kind}`` for the definition's declared personal fields."""
    if definition is None:
        return {}
    return {f.name: f.personal for f in definition.fields if f.personal is not None}


def _mask_field(v: Any, kind: str | None) -> Any:
    if kind is None:
        return mask_text(v) if isinstance(v, str) else v
    return mask_value(v, kind)


def mask_record(data: Mapping[str, Any], definition: ProcedureDefinition | None) -> dict[str, Any]:
    kinds = personal_kinds(definition)
    return {k: _mask_field(v, kinds.get(k)) for k, v in data.items()}


def _grouped(m: re.Match[str]) -> str:
    text = m.group(0)
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digits) < 9 or len(digits) > 13:  # too short for a phone or ID; longer runs are something else
        return text
    keep = set(digits[:3] + digits[-2:])
    return "".join(c if (not c.isdigit() or i in keep) else "*" for i, c in enumerate(text))


def _run(m: re.Match[str]) -> str:
    """A number in one run: keep the first 3 and the last 2 digits, mask the rest (length kept)."""
    return m.group(1) + "*" * (len(m.group(0)) - 5) + m.group(2)


def _run_intl(m: re.Match[str]) -> str:
    body = m.group(0)[len(m.group(1)):]
    return m.group(1) + m.group(2) + "*" * (len(body) - 4) + m.group(3)


def _id_in_context(m: re.Match[str]) -> str:
    number = m.group(2)
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    keep = set(digits[:2] + digits[-2:])
    return m.group(1) + "".join(c if (not c.isdigit() or i in keep) else "*" for i, c in enumerate(number))


def mask_text(text: str) -> str:
    """Last line of defence: mask national IDs and phone numbers found by pattern in free text.

    Masked: 12-digit ID numbers anywhere; 9-digit (old CMND) ones after an ID word; mobiles and 10–11
    digit landlines starting 0 or +84 (84, (+84)), in one run or in groups split by spaces, dots or dashes.
    Left alone: amounts (1.500.000 đồng), sequence and register numbers, dates, dossier codes.
    """
    if "0x" not in text:
        return _mask_plain(text)
    # a hex literal (a memory address in a library's debug log) is not a number a person owns: its digits
    # (0x7f0346989550 holds "0346989550", shaped like a mobile) are kept, the text around them is masked
    parts, last = [], 0
    for m in _HEX.finditer(text):
        parts += [_mask_plain(text[last:m.start()]), m.group(0)]
        last = m.end()
    parts.append(_mask_plain(text[last:]))
    return "".join(parts)


_HEX = re.compile(r"0x[0-9a-fA-F]+")


def _mask_plain(text: str) -> str:
    text = _ID_CONTEXT.sub(_id_in_context, text)
    text = _ID.sub(r"\1******\2", text)
    text = _PHONE.sub(_run, text)
    text = _PHONE_INTL.sub(_run_intl, text)
    return _GROUPED.sub(_grouped, text)


def mask_json(value: Any, kinds: Mapping[str, str] | None = None) -> Any:
    """Mask a JSON-like structure: keys named in ``kinds`` by their kind, every other string by pattern."""
    kinds = kinds or {}
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: (mask_value(v, kinds[k]) if k in kinds and not isinstance(v, Mapping | list)
                    else mask_json(v, kinds)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(v, kinds) for v in value]
    return value


def mask_dossier(d: Dossier, definition: ProcedureDefinition | None) -> Dossier:
    """A copy of the snapshot with its data masked (what a person sees by default)."""
    return attrs.evolve(d, data=mask_record(d.data, definition))


def mask_event(e: DossierEvent, definition: ProcedureDefinition | None) -> DossierEvent:
    """A copy of the event with the data it carries masked (``effects.data``), and its note by pattern."""
    fx = e.effects
    if fx and isinstance(fx.get("data"), Mapping):
        fx = {**fx, "data": mask_record(fx["data"], definition)}
    return attrs.evolve(e, effects=fx, note=mask_text(e.note) if e.note else e.note)
