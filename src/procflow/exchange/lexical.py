"""Lexical forms: how each Python value is spelled on the wire and read back.

Kept in one place so the builder, the parser and the edXML reader cannot disagree about a date format,
and so the round trip ``parse(build(e)) == e`` has a single owner for every value type.
Writers raise :class:`EncodingError` (a value XML 1.0 cannot carry); readers raise ``ValueError`` and the
caller turns it into a located :class:`SchemaInvalid`.
"""

from __future__ import annotations

import binascii
import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from procflow.errors import UsageError
from procflow.exchange.errors import EncodingError
from procflow.exchange.model import VN_TZ, Field, FieldType

__all__ = [
    "CONTAINER_TYPES",
    "VALUE_TAGS",
    "check_text",
    "decode_base64",
    "encode_base64",
    "format_datetime",
    "format_edxml_date",
    "format_trace_timestamp",
    "format_value",
    "parse_datetime",
    "parse_edxml_date",
    "parse_trace_timestamp",
    "parse_value",
]

try:  # the "fast" extra: SIMD base64, ~10-40x the stdlib on a 100 KB scan (the biggest cost of a receive)
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - depends on the environment
    _pybase64 = None  # type: ignore[assignment]


def decode_base64(text: str) -> bytes:
    """Attachment content from base64 text (``xs:base64Binary``: line breaks and spaces allowed).

    Characters outside the alphabet are skipped, as the stdlib does by default; the signed SHA-256 of the
    content, not the base64 text, is what the receiver checks.
    """
    if _pybase64 is not None:
        try:
            return _pybase64.b64decode(text, validate=True)  # the common case: one unbroken line
        except (binascii.Error, ValueError):
            return _pybase64.b64decode(text)
    return binascii.a2b_base64(text)


def encode_base64(content: bytes) -> str:
    """One unbroken line of base64 (what the profile writes)."""
    if _pybase64 is not None:
        return _pybase64.b64encode(content).decode("ascii")
    return binascii.b2a_base64(content, newline=False).decode("ascii")


# XML 1.0 Char production, negated. Lone surrogates land here too (they are outside every range).
_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # xs:long: what Java and .NET peers can hold
_MAX_DECIMAL_EXPONENT = 1000

VALUE_TAGS: dict[FieldType, str] = {
    FieldType.STRING: "String",
    FieldType.INT: "Int",
    FieldType.DECIMAL: "Decimal",
    FieldType.BOOL: "Bool",
    FieldType.DATE: "Date",
    FieldType.DATETIME: "DateTime",
    FieldType.FLOAT: "Float",
    FieldType.NULL: "Null",
    FieldType.MAP: "Map",
    FieldType.LIST: "List",
}
CONTAINER_TYPES = frozenset({FieldType.MAP, FieldType.LIST})  # elements holding values, not text
_TYPES_BY_TAG = {tag: kind for kind, tag in VALUE_TAGS.items()}


def check_text(value: str, where: str) -> str:
    """Refuse text XML cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF), naming where."""
    if not isinstance(value, str):
        raise EncodingError(f"{where}: expected text, got {type(value).__name__}")
    bad = _ILLEGAL.search(value)
    if bad is not None:
        raise EncodingError(
            f"{where}: character U+{ord(bad.group()):04X} at position {bad.start()} cannot be carried in XML 1.0"
        )
    return value


def format_datetime(value: datetime, where: str) -> str:
    """Vietnam local time with its offset; UTC when the zone's offset has seconds (pre-1906 LMT)."""
    try:
        local = value.astimezone(VN_TZ)
        offset = local.utcoffset() or timedelta(0)
        if offset.seconds % 60 or offset.microseconds:
            local = value.astimezone(UTC)
        return local.isoformat()
    except (OverflowError, ValueError) as exc:
        raise EncodingError(f"{where}: datetime {value!r} cannot be written: {exc}") from exc


def parse_datetime(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        raise UsageError(f"datetime {text!r} has no offset")
    return parsed.astimezone(VN_TZ)


def format_edxml_date(value: date) -> str:
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def parse_edxml_date(text: str) -> date:
    year, month, day = text.strip().split("/")
    return date(int(year), int(month), int(day))


def format_trace_timestamp(value: datetime, where: str) -> str:
    """edXML trace timestamps are local Vietnam time to the second, without an offset."""
    if value.microsecond:
        raise EncodingError(f"{where}: edXML trace timestamps carry whole seconds, got {value.isoformat()}")
    try:
        local = value.astimezone(VN_TZ)
    except (OverflowError, ValueError) as exc:
        raise EncodingError(f"{where}: datetime {value!r} cannot be written: {exc}") from exc
    return f"{format_edxml_date(local)} {local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def parse_trace_timestamp(text: str) -> datetime:
    day, _, clock = text.strip().partition(" ")
    hour, minute, second = clock.split(":")
    on = parse_edxml_date(day)
    return datetime(on.year, on.month, on.day, int(hour), int(minute), int(second), tzinfo=VN_TZ)


def format_value(field: Field, where: str) -> tuple[str, str]:
    """The element name and text for one typed value."""
    value = field.value
    kind = field.type
    if kind is FieldType.STRING:
        text = check_text(str(value), where)
    elif kind is FieldType.BOOL:
        text = "true" if value else "false"
    elif kind is FieldType.INT:
        assert isinstance(value, int)
        if not INT_MIN <= value <= INT_MAX:
            raise EncodingError(f"{where}: integer {value} is outside the 64-bit range peers can hold")
        text = str(value)
    elif kind is FieldType.DECIMAL:
        assert isinstance(value, Decimal)
        if not value.is_finite():
            raise EncodingError(f"{where}: decimal {value} is not a finite number")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if abs(exponent) > _MAX_DECIMAL_EXPONENT:
            raise EncodingError(f"{where}: decimal {value} has an exponent beyond ±{_MAX_DECIMAL_EXPONENT}")
        text = format(value, "f")
    elif kind is FieldType.DATE:
        assert isinstance(value, date)
        text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    elif kind is FieldType.DATETIME:
        assert isinstance(value, datetime)
        text = format_datetime(value, where)
    elif kind is FieldType.FLOAT:
        assert isinstance(value, float)
        text = repr(value)  # the shortest text that reads back as the same double
    elif kind is FieldType.NULL:
        text = ""
    else:
        raise EncodingError(f"{where}: a {kind.value} holds values, not text")
    return VALUE_TAGS[kind], text


def parse_value(tag: str, name: str, text: str) -> Field:
    kind = _TYPES_BY_TAG[tag]
    value: object
    if kind is FieldType.STRING:
        value = text
    elif kind is FieldType.BOOL:
        value = text.strip() in ("true", "1")
    elif kind is FieldType.INT:
        value = int(text.strip())
    elif kind is FieldType.DECIMAL:
        value = Decimal(text.strip())
    elif kind is FieldType.DATE:
        value = date.fromisoformat(text.strip())
    elif kind is FieldType.FLOAT:
        value = float(text.strip())
        if not math.isfinite(value):
            raise UsageError(f"float {text.strip()!r} is out of range")
    elif kind is FieldType.NULL:
        value = None
    elif kind is FieldType.DATETIME:
        value = parse_datetime(text)
    else:
        raise UsageError(f"{tag} holds values, not text")
    return Field(name, kind, value)  # type: ignore[arg-type]
