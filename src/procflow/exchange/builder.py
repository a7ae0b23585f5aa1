"""Envelope → bytes in procflow's edXML profile, deterministically.

Deterministic means the same Envelope always yields the same bytes: children in the schema's order,
attributes in a fixed order, namespace declarations in fixed places, no pretty-printing. That is what
makes ``parse(build(e)) == e`` exact and lets a sender re-sign or compare envelopes byte for byte.
Values XML cannot carry are refused here, with the path of the offending value, rather than producing a
document the receiver would reject.
"""

from __future__ import annotations

import re

from lxml import etree

from procflow.exchange.errors import AttachmentDigestMismatch, EncodingError
from procflow.exchange.lexical import (
    CONTAINER_TYPES,
    VALUE_TAGS,
    check_text,
    encode_base64,
    format_datetime,
    format_edxml_date,
    format_trace_timestamp,
    format_value,
)
from procflow.exchange.model import Attachment, DossierPayload, Envelope, Field, FieldType, Party, PayloadEvent
from procflow.exchange.schema import EDXML_NS, ENVELOPE_ID, PF_NS, XLINK_NS, edxml, pf

__all__ = ["build_envelope", "content_id", "envelope_tree"]

_MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
_CODE = re.compile(r"\S{1,128}")
_UINT_MAX = 2**32 - 1
_USHORT_MAX = 2**16 - 1
MAX_NESTING = 16
"""Maps and lists nest at most this deep: with the envelope's own levels it stays inside a receiver's depth
limit (``Limits.max_depth``, 32 by default), so a value is refused here rather than there."""

_HREF = f"{{{XLINK_NS}}}href"
_XLINK_TYPE = f"{{{XLINK_NS}}}type"


def content_id(index: int) -> str:
    """The ContentId binding manifest entry ``index`` to its encoded content (``cid:`` + this)."""
    return f"att{index + 1}"


def _code(value: str, where: str) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise EncodingError(f"{where}: {value!r} is not a code (1-128 characters, no whitespace)")
    return check_text(value, where)


def _non_empty(value: str, where: str) -> str:
    if not value:
        raise EncodingError(f"{where}: must not be empty")
    return check_text(value, where)


def _uint(value: int, where: str, maximum: int = _UINT_MAX) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise EncodingError(f"{where}: {value!r} is not an integer in 0..{maximum}")
    return str(value)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _organization(parent: etree._Element, tag: str, party: Party, where: str) -> None:
    org = _sub(parent, edxml(tag))
    _sub(org, edxml("OrganId"), _code(party.code, f"{where}.code"))
    if party.name:
        _sub(org, edxml("OrganName"), check_text(party.name, f"{where}.name"))


def _values(parent: etree._Element, fields: tuple[Field, ...], where: str, depth: int = 0) -> None:
    for i, field in enumerate(fields):
        at = f"{where}[{i}]"
        if field.type in CONTAINER_TYPES:
            if depth >= MAX_NESTING:
                raise EncodingError(f"{at}: maps and lists nest deeper than {MAX_NESTING} levels")
            element = _sub(parent, pf(VALUE_TAGS[field.type]))
            element.set("name", check_text(field.name, f"{at}.name"))
            _values(element, field.value, f"{at}.value", depth + 1)  # type: ignore[arg-type]
            continue
        tag, text = format_value(field, f"{at}.value")
        element = _sub(parent, pf(tag), None if field.type is FieldType.NULL else text)
        element.set("name", check_text(field.name, f"{at}.name"))


def _event(parent: etree._Element, event: PayloadEvent, where: str) -> None:
    element = _sub(parent, pf("Event"))
    element.set("seq", _uint(event.seq, f"{where}.seq"))
    element.set("at", format_datetime(event.at, f"{where}.at"))
    element.set("kind", _non_empty(event.kind, f"{where}.kind"))
    if event.trigger is not None:
        element.set("trigger", check_text(event.trigger, f"{where}.trigger"))
    if event.from_state is not None:
        element.set("fromState", check_text(event.from_state, f"{where}.from_state"))
    if event.to_state is not None:
        element.set("toState", check_text(event.to_state, f"{where}.to_state"))
    element.set("actor", _non_empty(event.actor, f"{where}.actor"))
    element.set("agency", _code(event.agency, f"{where}.agency"))
    if event.custodian is not None:
        element.set("custodian", _code(event.custodian, f"{where}.custodian"))
    element.set("definitionVersion", _uint(event.definition_version, f"{where}.definition_version"))
    if event.status is not None:
        element.set("status", _uint(event.status, f"{where}.status", _USHORT_MAX))
    if event.note is not None:
        element.set("note", check_text(event.note, f"{where}.note"))
    for attribute, value in (("prevLink", event.prev_link), ("link", event.link), ("linkScheme", event.link_scheme)):
        if value is not None:
            element.set(attribute, check_text(value, f"{where}.{attribute}"))
    _values(element, event.data, f"{where}.data")


def _dossier(parent: etree._Element, payload: DossierPayload) -> None:
    where = "payload"
    element = _sub(parent, pf("Dossier"))
    element.set("id", _non_empty(payload.dossier_id, f"{where}.dossier_id"))
    element.set("procedure", _non_empty(payload.procedure_code, f"{where}.procedure_code"))
    element.set("procedureVersion", _uint(payload.procedure_version, f"{where}.procedure_version"))
    element.set("state", _non_empty(payload.state, f"{where}.state"))
    element.set("custodian", _code(payload.custodian, f"{where}.custodian"))
    element.set("receivingAgency", _code(payload.receiving_agency, f"{where}.receiving_agency"))
    if payload.definition_hash is not None:
        element.set("definitionHash", payload.definition_hash)
    _values(_sub(element, pf("Fields")), payload.fields, f"{where}.fields")
    events = _sub(element, pf("Events"))
    for i, event in enumerate(payload.events):
        _event(events, event, f"{where}.events[{i}]")


def _reference(manifest: etree._Element, index: int, attachment: Attachment) -> None:
    where = f"attachments[{index}]"
    reference = _sub(manifest, edxml("Reference"))
    if attachment.content is not None:
        href = "cid:" + content_id(index)
        if not attachment.digest_matches():
            raise AttachmentDigestMismatch(
                f"{where} ({attachment.name!r}): declared sha256 {attachment.sha256} does not match its content"
            )
    else:
        href = _non_empty(attachment.uri or "", f"{where}.uri")
    reference.set(_HREF, href)
    reference.set(_XLINK_TYPE, "simple")
    if attachment.description:
        _sub(reference, edxml("Description"), check_text(attachment.description, f"{where}.description"))
    _sub(reference, edxml("AttachmentName"), check_text(attachment.name, f"{where}.name"))
    _sub(reference, edxml("ContentType"), _non_empty(attachment.media_type, f"{where}.media_type"))
    digest = _sub(reference, pf("Digest"), attachment.sha256)
    digest.set("algorithm", "sha-256")


def _encoded(parent: etree._Element, index: int, attachment: Attachment) -> None:
    assert attachment.content is not None
    # Names and types were checked when the manifest entry was written.
    element = _sub(parent, edxml("Attachment"))
    _sub(element, edxml("ContentType"), attachment.media_type)
    _sub(element, edxml("ContentId"), content_id(index))
    if attachment.description:
        _sub(element, edxml("Description"), attachment.description)
    _sub(element, edxml("ContentTransferEncoded"), encode_base64(attachment.content))
    _sub(element, edxml("AttachmentName"), attachment.name)


def envelope_tree(env: Envelope) -> etree._Element:
    """The envelope as an lxml tree (root ``<edXML>``), for callers that sign without re-parsing."""
    if not isinstance(env.message_id, str) or not _MESSAGE_ID.fullmatch(env.message_id):
        raise EncodingError(f"message_id {env.message_id!r}: use 1-128 of A-Z a-z 0-9 . _ : - (starting alphanumeric)")
    root = etree.Element(edxml("edXML"), nsmap={None: EDXML_NS})
    envelope = etree.SubElement(
        root, edxml("edXMLEnvelope"), {"Id": ENVELOPE_ID}, nsmap={"edXML": EDXML_NS, "pf": PF_NS, "xlink": XLINK_NS}
    )
    header = _sub(envelope, edxml("edXMLHeader"))
    message_header = _sub(header, edxml("MessageHeader"))
    _organization(message_header, "From", env.sender, "sender")
    for i, party in enumerate(env.recipients):
        _organization(message_header, "To", party, f"recipients[{i}]")

    doc = env.document
    code = _sub(message_header, edxml("Code"))
    _sub(code, edxml("CodeNumber"), check_text(doc.code_number, "document.code_number"))
    _sub(code, edxml("CodeNotation"), check_text(doc.code_notation, "document.code_notation"))
    promulgation = _sub(message_header, edxml("PromulgationInfo"))
    if doc.promulgation_place:
        _sub(promulgation, edxml("Place"), check_text(doc.promulgation_place, "document.promulgation_place"))
    _sub(promulgation, edxml("PromulgationDate"), format_edxml_date(doc.promulgation_date))
    doc_type = _sub(message_header, edxml("DocumentType"))
    if isinstance(doc.document_type, bool) or not 0 <= doc.document_type <= 0xFFFF:
        raise EncodingError(f"document.document_type: {doc.document_type!r} is not in 0..65535")
    _sub(doc_type, edxml("Type"), str(doc.document_type))
    _sub(doc_type, edxml("TypeName"), check_text(doc.type_name, "document.type_name"))
    _sub(message_header, edxml("Subject"), check_text(env.subject, "subject"))
    if doc.due_date is not None:
        _sub(message_header, edxml("DueDate"), format_edxml_date(doc.due_date))
    _sub(message_header, edxml("DocumentId"), _non_empty(doc.document_id, "document.document_id"))

    trace = _sub(header, edxml("TraceHeaderList"))
    for i, hop in enumerate(env.trace):
        trace_header = _sub(trace, edxml("TraceHeader"))
        _sub(trace_header, edxml("OrganId"), _code(hop.agency, f"trace[{i}].agency"))
        _sub(trace_header, edxml("Timestamp"), format_trace_timestamp(hop.at, f"trace[{i}].at"))

    message = _sub(header, pf("Message"))
    message.set("id", env.message_id)
    message.set("createdAt", format_datetime(env.created_at, "created_at"))
    if env.trigger is not None:
        message.set("trigger", check_text(env.trigger, "trigger"))

    body = _sub(envelope, edxml("edXMLBody"))
    manifest = _sub(body, edxml("edXMLManifest"))
    for i, attachment in enumerate(env.attachments):
        _reference(manifest, i, attachment)
    if env.payload is not None:
        _dossier(body, env.payload)

    inline = [(i, a) for i, a in enumerate(env.attachments) if a.content is not None]
    if inline:
        encoded = _sub(root, edxml("AttachmentEncoded"))
        for i, attachment in inline:
            _encoded(encoded, i, attachment)
    return root


def build_envelope(env: Envelope) -> bytes:
    """Serialize ``env`` as UTF-8 edXML bytes that validate against the shipped profile XSD."""
    return etree.tostring(envelope_tree(env), xml_declaration=True, encoding="UTF-8")
