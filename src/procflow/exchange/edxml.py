"""Interop with edXML as other agencies' document systems emit and expect it.

Reading is lenient about what such systems vary on (extra MessageHeader elements, the ``Bussiness`` block,
``DigitalSignature``, a missing outer ``<edXML>`` root, attachments listed only in ``AttachmentEncoded``)
and strict about what matters: the same hardened parser, edXML namespace, a sender, at least one
recipient, a document id, and attachments whose base64 decodes. The result is the neutral
:class:`Envelope` with ``payload=None``, ``trigger=None`` and ``message_id`` = the edXML ``DocumentId``
(what those systems use to de-duplicate). A procflow-profile document is read in full instead.

Writing produces the shape those systems parse: outer ``<edXML>`` root with xsi/xsd declarations,
``TraceHeaderList`` with its SOAP-style attributes and a ``Bussiness`` block, an empty
``DigitalSignature`` (where :func:`sign_envelope` puts the signature), manifest references with
``ContentId``, and the content in ``AttachmentEncoded``. procflow's payload is not included: these
systems file documents, they do not run dossiers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from lxml import etree

from procflow.exchange.builder import content_id
from procflow.exchange.errors import EncodingError, EnvelopeRejected, SchemaInvalid
from procflow.exchange.lexical import (
    check_text,
    format_edxml_date,
    format_trace_timestamp,
    parse_edxml_date,
    parse_trace_timestamp,
)
from procflow.exchange.model import VN_TZ, Attachment, DocumentInfo, Envelope, Party, TraceHop
from procflow.exchange.parser import (
    DEFAULT_LIMITS,
    Limits,
    check_root,
    envelope_from_tree,
    is_procflow_profile,
    parse_xml,
)
from procflow.exchange.redaction import redacted, shown
from procflow.exchange.schema import EDXML_NS, XLINK_NS, edxml, validate_tree

__all__ = ["envelope_from_edxml_tree", "read_edxml", "write_edxml"]

_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_XSD_NS = "http://www.w3.org/2001/XMLSchema"
_SOAP_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"
_HREF = f"{{{XLINK_NS}}}href"


def _envelope_element(root: etree._Element, source: str) -> etree._Element:
    if root.tag == edxml("edXMLEnvelope"):
        return root
    if root.tag == edxml("edXML"):
        envelope = root.find(edxml("edXMLEnvelope"))
        if envelope is not None:
            return envelope
    raise SchemaInvalid(f"{source}: expected edXML/edXMLEnvelope, found {etree.QName(root).localname}")


def _text(parent: etree._Element | None, path: str) -> str:
    if parent is None:
        return ""
    found = parent.findtext("/".join(edxml(step) for step in path.split("/")))
    return (found or "").strip()


def _decode(text: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SchemaInvalid(f"{where}: ContentTransferEncoded is not valid base64 ({redacted(str(exc))})") from exc


def _attachments(root: etree._Element, envelope: etree._Element, source: str) -> tuple[Attachment, ...]:
    encoded: dict[str, etree._Element] = {}
    order: list[str] = []
    for i, attached in enumerate(root.iterfind(f"{edxml('AttachmentEncoded')}/{edxml('Attachment')}")):
        cid = _text(attached, "ContentId").removeprefix("cid:") or f"#{i}"
        encoded[cid] = attached
        order.append(cid)
    result: list[Attachment] = []
    used: set[str] = set()
    manifest = envelope.iterfind(f"{edxml('edXMLBody')}/{edxml('edXMLManifest')}/{edxml('Reference')}")
    for i, reference in enumerate(manifest):
        href = (reference.get(_HREF) or _text(reference, "ContentId")).strip()
        if not href.startswith("cid:"):
            raise SchemaInvalid(
                f"{source}: manifest Reference {i} points outside the message ({shown(href)}) without a digest"
            )
        cid = href[4:]
        item = encoded.get(cid)
        if item is None:
            raise SchemaInvalid(f"{source}: manifest Reference {i} names {shown(href, quote=False)} but no such "
                                "content is attached")
        used.add(cid)
        result.append(_attachment(item, reference, f"{source}: attachment {shown(href, quote=False)}"))
    for cid in order:
        if cid not in used:
            result.append(_attachment(encoded[cid], None, f"{source}: attachment {shown(cid, quote=False)}"))
    return tuple(result)


def _attachment(item: etree._Element, reference: etree._Element | None, where: str) -> Attachment:
    content = _decode(item.findtext(edxml("ContentTransferEncoded")) or "", where)
    return Attachment(
        name=_text(item, "AttachmentName") or _text(reference, "AttachmentName"),
        media_type=_text(item, "ContentType") or _text(reference, "ContentType") or "application/octet-stream",
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        description=_text(item, "Description") or _text(reference, "Description"),
    )


def _party(element: etree._Element) -> Party:
    return Party(_text(element, "OrganId"), _text(element, "OrganName"))


def envelope_from_edxml_tree(root: etree._Element, *, source: str = "edXML") -> Envelope:
    """Map a foreign edXML tree (already hardened-parsed) into the neutral model."""
    envelope = _envelope_element(root, source)
    header = envelope.find(edxml("edXMLHeader"))
    message_header = header.find(edxml("MessageHeader")) if header is not None else None
    if header is None or message_header is None:
        raise SchemaInvalid(f"{source}: edXMLEnvelope has no edXMLHeader/MessageHeader")
    sender_element = message_header.find(edxml("From"))
    if sender_element is None or not _text(sender_element, "OrganId"):
        raise SchemaInvalid(f"{source}: MessageHeader/From/OrganId is missing")
    sender = _party(sender_element)
    recipients = tuple(_party(to) for to in message_header.iterfind(edxml("To")) if _text(to, "OrganId"))
    if not recipients:
        raise SchemaInvalid(f"{source}: MessageHeader has no To/OrganId")
    try:
        trace = tuple(
            TraceHop(_text(hop, "OrganId"), parse_trace_timestamp(_text(hop, "Timestamp")))
            for hop in header.iterfind(f"{edxml('TraceHeaderList')}/{edxml('TraceHeader')}")
        )
        promulgated = _text(message_header, "PromulgationInfo/PromulgationDate")
        due = _text(message_header, "DueDate")
        by_sender = [hop.at for hop in trace if hop.agency == sender.code]
        if by_sender or trace:
            created_at = (by_sender or [trace[0].at])[0]
        elif promulgated:
            on = parse_edxml_date(promulgated)
            created_at = datetime(on.year, on.month, on.day, tzinfo=VN_TZ)
        else:
            raise SchemaInvalid(f"{source}: neither a TraceHeader nor a PromulgationDate dates the message")
        number = _text(message_header, "Code/CodeNumber")
        notation = _text(message_header, "Code/CodeNotation")
        promulgation_date = parse_edxml_date(promulgated) if promulgated else created_at.date()
        document_id = _text(message_header, "DocumentId") or (
            f"{sender.code},{format_edxml_date(promulgation_date)},{number}/{notation}"
        )
        document = DocumentInfo(
            document_id=document_id,
            code_number=number,
            code_notation=notation,
            promulgation_date=promulgation_date,
            promulgation_place=_text(message_header, "PromulgationInfo/Place"),
            document_type=int(_text(message_header, "DocumentType/Type") or "18"),
            type_name=_text(message_header, "DocumentType/TypeName"),
            due_date=parse_edxml_date(due) if due else None,
        )
    except EnvelopeRejected:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise SchemaInvalid(f"{source}: a header value cannot be read: {redacted(str(exc))}") from exc
    return Envelope(
        message_id=document_id,
        sender=sender,
        recipients=recipients,
        created_at=created_at,
        subject=_text(message_header, "Subject"),
        document=document,
        trace=trace,
        attachments=_attachments(root, envelope, source),
    )


def read_edxml(data: bytes, *, limits: Limits = DEFAULT_LIMITS, source: str = "edXML") -> Envelope:
    """Read edXML from any system: the strict profile when procflow wrote it, leniently otherwise.

    This only reads. Whether an unsigned foreign document is acceptable is the receiving node's policy,
    applied by :class:`~procflow.exchange.verifier.Verifier`.
    """
    root = parse_xml(data, limits=limits, source=source)
    check_root(root, source=source)
    if is_procflow_profile(root):
        validate_tree(root, source=source)
        return envelope_from_tree(root, source=source)
    return envelope_from_edxml_tree(root, source=source)


# --- writing --------------------------------------------------------------------------------------------


def _sub(parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, edxml(local))
    if text is not None:
        child.text = text
    return child


def write_edxml(env: Envelope) -> bytes:
    """The envelope as plain edXML for document-management systems (no procflow payload)."""
    root = etree.Element(edxml("edXML"), nsmap={"xsi": _XSI_NS, "xsd": _XSD_NS, None: EDXML_NS})
    envelope = etree.SubElement(root, edxml("edXMLEnvelope"), nsmap={"edXML": EDXML_NS})
    header = _sub(envelope, "edXMLHeader")
    message_header = _sub(header, "MessageHeader")
    for tag, parties in (("From", (env.sender,)), ("To", env.recipients)):
        for i, party in enumerate(parties):
            organization = _sub(message_header, tag)
            _sub(organization, "OrganId", check_text(party.code, f"{tag}[{i}].code"))
            _sub(organization, "OrganName", check_text(party.name, f"{tag}[{i}].name"))
    doc = env.document
    code = _sub(message_header, "Code")
    _sub(code, "CodeNumber", check_text(doc.code_number, "document.code_number"))
    _sub(code, "CodeNotation", check_text(doc.code_notation, "document.code_notation"))
    promulgation = _sub(message_header, "PromulgationInfo")
    _sub(promulgation, "Place", check_text(doc.promulgation_place, "document.promulgation_place"))
    _sub(promulgation, "PromulgationDate", format_edxml_date(doc.promulgation_date))
    doc_type = _sub(message_header, "DocumentType")
    _sub(doc_type, "Type", str(doc.document_type))
    _sub(doc_type, "TypeName", check_text(doc.type_name, "document.type_name"))
    _sub(message_header, "Subject", check_text(env.subject, "subject"))
    if doc.due_date is not None:
        _sub(message_header, "DueDate", format_edxml_date(doc.due_date))
    _sub(message_header, "DocumentId", check_text(doc.document_id, "document.document_id"))

    trace_id = hashlib.sha256(doc.document_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    trace = _sub(header, "TraceHeaderList")
    for name, value in (("id", trace_id), ("version", "1.0"), ("mustUnderstand", "1"), ("actor", _SOAP_ACTOR)):
        trace.set(name, value)
    for i, hop in enumerate(env.trace):
        trace_header = _sub(trace, "TraceHeader")
        _sub(trace_header, "OrganId", check_text(hop.agency, f"trace[{i}].agency"))
        _sub(trace_header, "Timestamp", format_trace_timestamp(hop.at, f"trace[{i}].at"))
    business = _sub(trace, "Bussiness")
    _sub(business, "BussinessDocType", "0")  # 0: a new document
    _sub(business, "BussinessDocReason", "")
    _sub(business, "Paper", "0")  # 0: no paper copy follows
    _sub(header, "DigitalSignature")

    manifest = _sub(_sub(envelope, "edXMLBody"), "edXMLManifest")
    manifest.set("version", "1.0")
    encoded = None
    for i, attachment in enumerate(env.attachments):
        where = f"attachments[{i}]"
        if attachment.content is None:
            raise EncodingError(f"{where} ({attachment.name!r}): edXML systems take attachments inline only")
        cid = content_id(i)
        reference = etree.SubElement(manifest, edxml("Reference"), nsmap={"xlink": XLINK_NS})
        reference.set(_HREF, "cid:" + cid)
        reference.set(f"{{{XLINK_NS}}}type", "simple")
        _sub(reference, "Description", check_text(attachment.description, f"{where}.description"))
        _sub(reference, "AttachmentName", check_text(attachment.name, f"{where}.name"))
        _sub(reference, "ContentType", check_text(attachment.media_type, f"{where}.media_type"))
        _sub(reference, "ContentId", "cid:" + cid)
        if encoded is None:
            encoded = _sub(root, "AttachmentEncoded")
        item = _sub(encoded, "Attachment")
        _sub(item, "ContentType", attachment.media_type)
        _sub(item, "ContentId", cid)
        _sub(item, "Description", attachment.description)
        _sub(item, "ContentTransferEncoded", base64.b64encode(attachment.content).decode("ascii"))
        _sub(item, "AttachmentName", attachment.name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
