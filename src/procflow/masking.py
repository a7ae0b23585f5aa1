"""Masking of citizens' personal data wherever it leaves the engine for human eyes.

Declared personal fields (``personal = "national_id"`` etc. in a definition) are masked by kind; a final
pattern pass masks anything that looks like a 12-digit national ID (CCCD) or a Vietnamese mobile number
even where a field was not declared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from procflow.definition import ProcedureDefinition

__all__ = ["mask_record", "mask_text", "mask_value"]

_ID = re.compile(r"(?<!\d)(\d{4})\d{6}(\d{2})(?!\d)")
_PHONE = re.compile(r"(?<!\d)(0\d{2})\d{5}(\d{2})(?!\d)")


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
    return "*" * min(len(text), 8)


def mask_record(data: Mapping[str, Any], definition: ProcedureDefinition | None) -> dict[str, Any]:
    kinds = {f.name: f.personal for f in definition.fields} if definition is not None else {}
    return {k: mask_text(v) if kinds.get(k) is None and isinstance(v, str) else mask_value(v, kinds.get(k))
            for k, v in data.items()}


def mask_text(text: str) -> str:
    """Last line of defence: mask national IDs and phone numbers found by pattern in free text."""
    return _PHONE.sub(r"\1*****\2", _ID.sub(r"\1******\2", text))
