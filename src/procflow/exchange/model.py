"""The neutral envelope model: what an inter-agency message *means*, independent of its XML.

Readers for every wire form (procflow's own edXML profile, foreign edXML) produce these values and the
builders consume them, so verification, import and tests never touch XML elements. All classes are frozen
attrs values: equality is structural, which is what the round-trip property ``parse(build(e)) == e``
relies on. Datetimes must be timezone-aware; readers hand them back in Asia/Ho_Chi_Minh.
"""
from __future__ import annotations

import enum
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from procflow.errors import UsageError

__all__ = [
    "VN_TZ",
    "Attachment",
    "DocumentInfo",
    "DossierPayload",
    "Envelope",
    "Field",
    "FieldType",
    "FieldValue",
    "Party",
    "PayloadEvent",
    "TraceHop",
]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

FieldValue = str | int | Decimal | float | bool | date | datetime | None | tuple["Field", ...]

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _aware(_instance: Any, attribute: attrs.Attribute[Any], value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


class FieldType(enum.Enum):
    """The typed-element vocabulary of the payload; each maps to one XSD type.

    The first six are what procedure definitions declare. ``FLOAT``, ``NULL``, ``MAP`` and ``LIST`` exist so
    that everything an engine event records (JSON: nested objects, lists, nulls, binary floats) travels as
    typed elements and comes back *equal*, which is what keeps both nodes' event logs identical.
    """

    STRING = "string"
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    FLOAT = "float"
    NULL = "null"
    MAP = "map"
    LIST = "list"


def _value_matches(kind: FieldType, value: object) -> bool:
    # bool is an int and datetime is a date: check the narrower type explicitly.
    if kind is FieldType.STRING:
        return isinstance(value, str)
    if kind is FieldType.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is FieldType.DECIMAL:
        return isinstance(value, Decimal)
    if kind is FieldType.BOOL:
        return isinstance(value, bool)
    if kind is FieldType.DATE:
        return isinstance(value, date) and not isinstance(value, datetime)
    if kind is FieldType.DATETIME:
        return isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None
    if kind is FieldType.FLOAT:
        return type(value) is float and math.isfinite(value)
    if kind is FieldType.NULL:
        return value is None
    return isinstance(value, tuple) and all(isinstance(item, Field) for item in value)


@attrs.frozen
class Field:
    """One typed dossier value. Typed so a receiving node gets a date back as a date, not a string."""

    name: str
    type: FieldType = attrs.field(converter=FieldType)
    value: FieldValue = attrs.field()

    @value.validator
    def _check_value(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if not _value_matches(self.type, value):
            raise UsageError(f"field {self.name!r}: {value!r} is not a valid {self.type.value} value")
        if self.type is FieldType.MAP:
            names = [item.name for item in value]  # type: ignore[union-attr]
            if len(set(names)) != len(names):
                raise UsageError(f"field {self.name!r}: a map cannot hold two entries with the same name")

    @classmethod
    def of(cls, name: str, value: object) -> Field:
        """Infer the type from the Python value, so callers rarely spell it out.

        A mapping (string keys) becomes a ``MAP`` and a list or tuple a ``LIST`` of unnamed items, so any
        JSON value can be carried; :meth:`to_python` turns it back into the same value.
        """
        if value is None:
            return cls(name, FieldType.NULL, None)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise UsageError(f"field {name!r}: {value!r} is not a finite number")
            return cls(name, FieldType.FLOAT, value)
        if isinstance(value, Mapping):
            for key in value:
                if not isinstance(key, str):
                    raise UsageError(f"field {name!r}: map key {key!r} is not a string")
            return cls(name, FieldType.MAP, tuple(cls.of(k, v) for k, v in value.items()))
        if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
            return cls(name, FieldType.LIST, tuple(cls.of("", v) for v in value))
        kind: FieldType
        if isinstance(value, bool):
            kind = FieldType.BOOL
        elif isinstance(value, int):
            kind = FieldType.INT
        elif isinstance(value, Decimal):
            kind = FieldType.DECIMAL
        elif isinstance(value, datetime):
            kind = FieldType.DATETIME
        elif isinstance(value, date):
            kind = FieldType.DATE
        elif isinstance(value, str):
            kind = FieldType.STRING
        else:
            raise UsageError(f"field {name!r}: no payload type for {type(value).__name__}")
        return cls(name, kind, value)  # type: ignore[arg-type]

    def to_python(self) -> object:
        """The plain value: maps become dicts and lists lists, recursively (the inverse of :meth:`of`)."""
        if self.type is FieldType.MAP:
            return {item.name: item.to_python() for item in self.value}  # type: ignore[union-attr]
        if self.type is FieldType.LIST:
            return [item.to_python() for item in self.value]  # type: ignore[union-attr]
        return self.value


@attrs.frozen(kw_only=True)
class PayloadEvent:
    """One entry of the dossier's event log, complete enough to replay it on the receiving node."""

    seq: int
    at: datetime = attrs.field(validator=_aware)
    kind: str
    actor: str
    agency: str
    definition_version: int
    trigger: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    custodian: str | None = None
    status: int | None = None  # national-portal status (TrangThaiHoSo) after the event
    note: str | None = None
    data: tuple[Field, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class DossierPayload:
    """The dossier as it leaves the sender: snapshot plus full history, in procflow's namespace.

    ``definition_hash`` is the SHA-256 of the procedure definition's text: a receiver refuses a dossier
    whose (code, version) it knows with other content, since replaying the history there would diverge.
    """

    dossier_id: str
    procedure_code: str
    procedure_version: int
    state: str
    custodian: str
    receiving_agency: str
    definition_hash: str | None = attrs.field(default=None)
    fields: tuple[Field, ...] = attrs.field(default=(), converter=tuple)
    events: tuple[PayloadEvent, ...] = attrs.field(default=(), converter=tuple)

    @definition_hash.validator
    def _check_hash(self, _attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None and not _SHA256_HEX.fullmatch(value):
            raise UsageError(f"dossier {self.dossier_id}: definition_hash must be 64 lowercase hex digits")


@attrs.frozen
class Party:
    """An agency as edXML names it: its code (mã định danh) and, optionally, its display name."""

    code: str
    name: str = ""


@attrs.frozen
class TraceHop:
    """One agency the message passed through. edXML carries these to the second only."""

    agency: str
    at: datetime = attrs.field(validator=_aware)


@attrs.frozen(kw_only=True)
class Attachment:
    """A document travelling with the message, inline (``content``) or by reference (``uri``).

    The digest is declared, not computed, because a reader must be able to hold a declared digest that
    disagrees with the content: that disagreement is what verification reports.
    """

    name: str
    media_type: str
    sha256: str = attrs.field()
    content: bytes | None = attrs.field(default=None, repr=False)
    uri: str | None = None
    description: str = ""

    @sha256.validator
    def _check_sha256(self, _attribute: attrs.Attribute[Any], value: str) -> None:
        if not _SHA256_HEX.fullmatch(value):
            raise UsageError(f"attachment {self.name!r}: sha256 must be 64 lowercase hex digits")

    def __attrs_post_init__(self) -> None:
        if (self.content is None) == (self.uri is None):
            raise UsageError(f"attachment {self.name!r}: give exactly one of content or uri")

    @classmethod
    def inline(cls, name: str, media_type: str, content: bytes, *, description: str = "") -> Attachment:
        digest = hashlib.sha256(content).hexdigest()
        return cls(name=name, media_type=media_type, sha256=digest, content=content, description=description)

    @classmethod
    def external(cls, name: str, media_type: str, uri: str, sha256: str, *, description: str = "") -> Attachment:
        return cls(name=name, media_type=media_type, sha256=sha256, uri=uri, description=description)

    def digest_matches(self, content: bytes | None = None) -> bool:
        """Check inline content, or content fetched from ``uri`` by the caller, against the digest."""
        data = self.content if content is None else content
        if data is None:
            raise UsageError(f"attachment {self.name!r} is external: pass the fetched content")
        return hashlib.sha256(data).hexdigest() == self.sha256


@attrs.frozen(kw_only=True)
class DocumentInfo:
    """The edXML document identity (số, ký hiệu, ngày ban hành) that exchange platforms route and file by."""

    document_id: str
    code_number: str
    code_notation: str
    promulgation_date: date
    promulgation_place: str = ""
    document_type: int = 18
    type_name: str = "Công văn"
    due_date: date | None = None

    @classmethod
    def for_message(cls, sender_code: str, on: date, number: str, notation: str, **kwargs: Any) -> DocumentInfo:
        """Compose the DocumentId the way edXML systems do: ``{sender},{YYYY/MM/DD},{number}/{notation}``."""
        document_id = f"{sender_code},{on:%Y/%m/%d},{number}/{notation}"
        return cls(
            document_id=document_id,
            code_number=number,
            code_notation=notation,
            promulgation_date=on,
            **kwargs,
        )


@attrs.frozen(kw_only=True)
class Envelope:
    """One inter-agency message. ``payload`` is None for documents from foreign (non-procflow) systems."""

    message_id: str
    sender: Party
    recipients: tuple[Party, ...] = attrs.field(converter=tuple)
    created_at: datetime = attrs.field(validator=_aware)
    subject: str
    document: DocumentInfo
    trigger: str | None = None
    trace: tuple[TraceHop, ...] = attrs.field(default=(), converter=tuple)
    payload: DossierPayload | None = None
    attachments: tuple[Attachment, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not self.recipients:
            raise UsageError(f"envelope {self.message_id}: at least one recipient is required")

    @property
    def recipient_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.recipients)

    @property
    def dossier_id(self) -> str | None:
        return self.payload.dossier_id if self.payload else None

    @property
    def procedure_code(self) -> str | None:
        return self.payload.procedure_code if self.payload else None

    @property
    def procedure_version(self) -> int | None:
        return self.payload.procedure_version if self.payload else None
