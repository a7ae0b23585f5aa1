"""Declared field types, enforced where dossier data enters: ``Engine.file`` and ``Engine.fire``.

A definition's ``[[fields]]`` say what each item of dossier data is (``type = "date"``…); a value that is
not one is refused with :class:`~procflow.errors.InvalidData` naming the field, the declared type and the
*kind* of value received (never the value: it may be a citizen's ID number). Checkers are compiled once per
definition version and only the fields a call carries are checked, so a fire pays for what it writes.

Types: ``string``, ``int`` (64-bit), ``decimal`` (a finite number, or its text), ``bool``, ``date``
(``YYYY-MM-DD``, years 1900–2100), ``datetime`` (ISO 8601, years 1900–2100), ``enum`` (one of ``values``),
``national_id`` (the 12 digits of a citizen identity card, căn cước), ``phone`` (a Vietnamese number:
``0…`` or ``+84…``, with spaces, dots or dashes; stored normalised as ``0`` + 9 or 10 digits).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from procflow.errors import InvalidData, UsageError

__all__ = ["check_values", "field_checkers", "normalise_phone", "value_kind"]

Checker = Callable[[Any], Any]  # returns the value to store (normalised) or raises ValueError(expectation)

_INT64 = 2**63
_NATIONAL_ID = re.compile(r"\d{12}")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_PHONE = re.compile(r"0\d{9,10}")


def value_kind(value: Any) -> str:
    """What a value is, without what it says (safe to show for personal data)."""
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number" if math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return f"a text of {len(value)} character(s)" if value else "an empty text"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def normalise_phone(value: str) -> str:
    """``+84 912.345.678`` → ``0912345678``; raises ValueError for anything that is not a Vietnamese number."""
    digits = _PHONE_SEPARATORS.sub("", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("0084"):
        digits = "0" + digits[4:]
    if not _PHONE.fullmatch(digits):
        raise UsageError("a Vietnamese phone number (0… or +84…, 10 or 11 digits)")
    return digits


def _string(v: Any) -> Any:
    if not isinstance(v, str):
        raise UsageError("a text")
    return v


def _int(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or not -_INT64 <= v < _INT64:
        raise UsageError("a whole number (64-bit)")
    return v


def _decimal(v: Any) -> Any:
    if isinstance(v, bool):
        raise UsageError("a number")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise UsageError("a finite number")
        return v
    if isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise UsageError("a number (or its text, e.g. \"1250000.50\")") from None
        if not d.is_finite():
            raise UsageError("a finite number")
        return v
    raise UsageError("a number")


def _bool(v: Any) -> Any:
    if not isinstance(v, bool):
        raise UsageError("true or false")
    return v


def _date(v: Any) -> Any:
    if not isinstance(v, str) or len(v) != 10:
        raise UsageError("a date YYYY-MM-DD")
    try:
        d = date.fromisoformat(v)
    except ValueError:
        raise UsageError("a real date YYYY-MM-DD") from None
    if not 1900 <= d.year <= 2100:
        raise UsageError("a date between 1900 and 2100")
    return v


def _datetime(v: Any) -> Any:
    if not isinstance(v, str):
        raise UsageError("a date and time (ISO 8601)")
    try:
        d = datetime.fromisoformat(v)
    except ValueError:
        raise UsageError("a real date and time (ISO 8601, e.g. 2026-04-20T09:30:00+07:00)") from None
    if not 1900 <= d.year <= 2100:
        raise UsageError("a date and time between 1900 and 2100")
    return v


def _national_id(v: Any) -> Any:
    if not isinstance(v, str):
        raise UsageError("a national ID number of 12 digits, as text")
    digits = "".join(v.split())
    if not _NATIONAL_ID.fullmatch(digits):
        raise UsageError("a national ID number of 12 digits")
    return digits


def _phone(v: Any) -> Any:
    if not isinstance(v, str):
        raise UsageError("a Vietnamese phone number, as text")
    return normalise_phone(v)


def _enum(values: tuple[str, ...]) -> Checker:
    allowed = frozenset(values)

    def check(v: Any) -> Any:
        if not isinstance(v, str) or v not in allowed:
            raise UsageError(f"one of {', '.join(values)}")
        return v

    return check


_CHECKERS: dict[str, Checker] = {"string": _string, "int": _int, "decimal": _decimal, "bool": _bool, "date": _date,
                                 "datetime": _datetime, "national_id": _national_id, "phone": _phone}
_COMPILED: dict[int, tuple[Any, dict[str, tuple[str, Checker]]]] = {}


def field_checkers(defn: Any) -> dict[str, tuple[str, Checker]]:
    """``{field: (type, checker)}`` of a definition, compiled on first use."""
    hit = _COMPILED.get(id(defn))
    if hit is not None and hit[0] is defn:
        return hit[1]
    table = {f.name: (f.type, _enum(f.values) if f.type == "enum" else _CHECKERS.get(f.type, _string))
             for f in defn.fields}
    _COMPILED[id(defn)] = (defn, table)  # definitions are few and live as long as their engine
    return table


def check_values(defn: Any, data: Mapping[str, Any], *, dossier_id: str | None = None) -> dict[str, Any]:
    """``data`` checked against the declared types of ``defn``'s fields (None means "not given" and passes),
    with values normalised (phone numbers, national IDs). Raises :class:`InvalidData` naming the field."""
    hit = _COMPILED.get(id(defn))
    table = hit[1] if hit is not None and hit[0] is defn else field_checkers(defn)
    out = dict(data)
    for name, value in data.items():
        spec = table.get(name)
        if spec is None or value is None or (type(value) is dict and "$vault" in value):
            continue  # undeclared (the caller refuses it) / not given / a vault reference copied from a record
        try:
            checked = spec[1](value)
        except ValueError as exc:
            raise InvalidData(f"procedure {defn.code} v{defn.version}: field {name!r} ({spec[0]}) expects {exc}, "
                              f"got {value_kind(value)}", dossier_id=dossier_id, field=name) from None
        if checked is not value:
            out[name] = checked
    return out
