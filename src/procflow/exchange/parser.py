"""Bytes → Envelope, treating every byte as hostile until proven otherwise.

The order is cheapest-refusal-first: size, declared encoding, a DOCTYPE anywhere in the prolog (refused
outright, so no entity can ever be declared, let alone expanded or fetched), then libxml2 with entity
resolution, DTD loading and network access off and its own huge-document guards on, then a depth limit,
the root namespace, the XSD, and only then the mapping into the neutral model. Every failure is an
:class:`EnvelopeRejected` subclass with a stable reason code; libxml2's errors are converted here.
"""

from __future__ import annotations

import re
from functools import lru_cache

import attrs
from lxml import etree

from procflow.errors import UsageError
from procflow.exchange.errors import (
    EnvelopeRejected,
    SchemaInvalid,
    WrongNamespace,
    XmlBadEncoding,
    XmlForbiddenConstruct,
    XmlMalformed,
    XmlTooDeep,
    XmlTooLarge,
    XmlTruncated,
)
from procflow.exchange.lexical import (
    CONTAINER_TYPES,
    VALUE_TAGS,
    decode_base64,
    parse_datetime,
    parse_edxml_date,
    parse_trace_timestamp,
    parse_value,
)
from procflow.exchange.model import (
    Attachment,
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    Party,
    PayloadEvent,
    TraceHop,
)
from procflow.exchange.schema import EDXML_NS, PF_NS, PF_NS_PREFIX, XLINK_NS, edxml, pf, validate_tree

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "check_root",
    "envelope_from_tree",
    "is_procflow_profile",
    "parse_envelope",
    "parse_xml",
]


@attrs.frozen(kw_only=True)
class Limits:
    """Resource limits for one incoming document. Inline attachments above ~7 MB belong behind a URI:
    libxml2 (without ``huge_tree``) refuses text nodes over 10 MB anyway."""

    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 32


DEFAULT_LIMITS = Limits()

_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._\-]+)[\"']")
_VALUE_TAGS = {pf(tag): tag for tag in VALUE_TAGS.values()}
_CONTAINER_TAGS = {pf(VALUE_TAGS[kind]): kind for kind in CONTAINER_TYPES}
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
_PROLOG_ITEMS = 64
_ELEMENT_START = re.compile(rb"<[A-Za-z_:]")


def _parser() -> etree.XMLParser:
    # A new parser per call costs well under a microsecond and avoids sharing one across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _prolog_has_doctype(data: bytes) -> bool:
    """True if a DOCTYPE follows the XML declaration, comments and PIs of the prolog.

    A fast pre-check so DTD text never reaches libxml2; bounded (a prolog of thousands of comments is
    not worth scanning in Python), which is safe because the parsed tree's docinfo is checked as well.
    """
    i = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    for _ in range(_PROLOG_ITEMS):
        i = _WHITESPACE.match(data, i).end()  # type: ignore[union-attr]
        if data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
        else:
            return data.startswith(b"<!DOCTYPE", i)
        if end < 0:
            return False
        i = end + 2 if data[i + 1 : i + 2] == b"?" else end + 3
    doctype = data.find(b"<!DOCTYPE", i)  # an absurdly long prolog: fall back to a plain search
    element = _ELEMENT_START.search(data, i)
    return doctype >= 0 and (element is None or doctype < element.start())


@lru_cache(maxsize=8)
def _deeper_than(depth: int) -> etree.XPath:
    return etree.XPath("boolean(/" + "*/" * depth + "*)")


def _syntax_error(data: bytes, exc: etree.XMLSyntaxError, source: str) -> EnvelopeRejected:
    message = (exc.msg or str(exc)).strip()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        if bad.reason == "unexpected end of data" and bad.end == len(data):
            return XmlTruncated(f"{source}: ends inside a UTF-8 character at byte {bad.start}")
        return XmlBadEncoding(f"{source}: byte {bad.start} is not valid UTF-8 ({bad.reason})")
    if "entity" in message.lower() and b"<!ENTITY" in data:
        return XmlForbiddenConstruct(f"{source}: declares entities ({message}); DTDs are never accepted")
    if "Excessive depth" in message:
        return XmlTooDeep(f"{source}: {message}")
    if "huge" in message.lower():
        return XmlTooLarge(f"{source}: {message}")
    where = f"{source}, line {exc.lineno}, column {exc.position[1]}"
    if exc.code == etree.ErrorTypes.ERR_DOCUMENT_EMPTY:
        return XmlMalformed(f"{source}: empty document")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if exc.position == (len(lines), len(lines[-1]) + 1):
        return XmlTruncated(f"{where}: document ends before it is complete ({message})")
    return XmlMalformed(f"{where}: {message}")


def parse_xml(data: bytes, *, limits: Limits = DEFAULT_LIMITS, source: str = "envelope") -> etree._Element:
    """Parse untrusted bytes with every libxml2 feature that reaches outside the document switched off."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UsageError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise XmlTooLarge(f"{source}: {len(data)} bytes exceeds the limit of {limits.max_bytes}")
    declared = _DECLARED_ENCODING.match(data[:512])
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        name = declared.group(1).decode("ascii")
        raise XmlBadEncoding(f"{source}: declares encoding {name!r}; envelopes must be UTF-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise XmlBadEncoding(f"{source}: starts with a UTF-16 byte-order mark; envelopes must be UTF-8")
    if _prolog_has_doctype(data):
        raise XmlForbiddenConstruct(f"{source}: contains a DOCTYPE declaration; DTDs and entities are never accepted")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(data, exc, source) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlForbiddenConstruct(f"{source}: contains a DTD; DTDs and entities are never accepted")
    if _deeper_than(limits.max_depth)(root):
        raise XmlTooDeep(f"{source}: elements nest deeper than the limit of {limits.max_depth}")
    return root


_OTHER_PAYLOAD_VERSION = etree.XPath("//*[starts-with(namespace-uri(), $prefix) and namespace-uri() != $current][1]")


def check_root(root: etree._Element, *, source: str = "envelope") -> None:
    """Refuse documents that are not edXML, or that carry a procflow payload version we do not read."""
    namespace = etree.QName(root).namespace or ""
    if namespace != EDXML_NS:
        raise WrongNamespace(f"{source}: root element {root.tag!r} is not in the edXML namespace {EDXML_NS}")
    other = _OTHER_PAYLOAD_VERSION(root, prefix=PF_NS_PREFIX, current=PF_NS)
    if other:
        element = etree.QName(other[0])
        raise WrongNamespace(
            f"{source}: element {element.localname} is in {element.namespace}; this node reads {PF_NS}"
        )


def is_procflow_profile(root: etree._Element) -> bool:
    """True when the header carries procflow's pf:Message, i.e. the strict profile applies."""
    envelope = root.find(edxml("edXMLEnvelope")) if root.tag == edxml("edXML") else None
    return envelope is not None and envelope.find(f"{edxml('edXMLHeader')}/{pf('Message')}") is not None


def parse_envelope(data: bytes, *, limits: Limits = DEFAULT_LIMITS, source: str = "envelope") -> Envelope:
    """Hardened parse, root and namespace checks, XSD validation, then the neutral model.

    This does not check signatures, recipients or replays; :class:`~procflow.exchange.verifier.Verifier`
    does, and should be the only door for envelopes arriving from another node.
    """
    root = parse_xml(data, limits=limits, source=source)
    check_root(root, source=source)
    if root.tag != edxml("edXML"):
        raise SchemaInvalid(f"{source}: root element must be edXML, found {etree.QName(root).localname}")
    validate_tree(root, source=source)
    return envelope_from_tree(root, source=source)


# --- tree → model (the tree has passed the XSD, so shapes are known; values may still be impossible) ---


def _text(element: etree._Element | None) -> str:
    return "" if element is None or element.text is None else element.text


def _child(parent: etree._Element, local: str) -> etree._Element:
    found = parent.find(edxml(local))
    if found is None:
        raise SchemaInvalid(f"{parent.tag}: missing {local}")
    return found


def _party(element: etree._Element) -> Party:
    return Party(_text(element.find(edxml("OrganId"))), _text(element.find(edxml("OrganName"))))


def _fields(parent: etree._Element) -> tuple[Field, ...]:
    out = []
    for child in parent:
        kind = _CONTAINER_TAGS.get(child.tag)
        if kind is not None:
            out.append(Field(child.get("name", ""), kind, _fields(child)))
        elif child.tag in _VALUE_TAGS:
            out.append(parse_value(_VALUE_TAGS[child.tag], child.get("name", ""), _text(child)))
    return tuple(out)


def _int_attr(element: etree._Element, name: str) -> int:
    return int(element.get(name, "").strip())


def _event(element: etree._Element) -> PayloadEvent:
    return PayloadEvent(
        seq=_int_attr(element, "seq"),
        at=parse_datetime(element.get("at", "")),
        kind=element.get("kind", ""),
        trigger=element.get("trigger"),
        from_state=element.get("fromState"),
        to_state=element.get("toState"),
        actor=element.get("actor", ""),
        agency=element.get("agency", ""),
        custodian=element.get("custodian"),
        definition_version=_int_attr(element, "definitionVersion"),
        status=_int_attr(element, "status") if element.get("status") is not None else None,
        note=element.get("note"),
        data=_fields(element),
    )


def _dossier(element: etree._Element) -> DossierPayload:
    return DossierPayload(
        dossier_id=element.get("id", ""),
        procedure_code=element.get("procedure", ""),
        procedure_version=_int_attr(element, "procedureVersion"),
        state=element.get("state", ""),
        custodian=element.get("custodian", ""),
        receiving_agency=element.get("receivingAgency", ""),
        definition_hash=element.get("definitionHash"),
        fields=_fields(element.find(pf("Fields"))),
        events=tuple(_event(e) for e in element.iterfind(f"{pf('Events')}/{pf('Event')}")),
    )


def _attachments(root: etree._Element, manifest: etree._Element, source: str) -> tuple[Attachment, ...]:
    encoded: dict[str, etree._Element] = {}
    for item in root.iterfind(f"{edxml('AttachmentEncoded')}/{edxml('Attachment')}"):
        cid = _text(item.find(edxml("ContentId")))
        if cid in encoded:
            raise SchemaInvalid(f"{source}: two encoded attachments share ContentId {cid!r}")
        encoded[cid] = item
    result = []
    for i, reference in enumerate(manifest.iterfind(edxml("Reference"))):
        href = reference.get(f"{{{XLINK_NS}}}href", "")
        name = _text(reference.find(edxml("AttachmentName")))
        media_type = _text(reference.find(edxml("ContentType")))
        description = _text(reference.find(edxml("Description")))
        digest = _text(reference.find(pf("Digest"))).strip()
        if not href.startswith("cid:"):
            result.append(Attachment.external(name, media_type, href, digest, description=description))
            continue
        item = encoded.pop(href[4:], None)
        if item is None:
            raise SchemaInvalid(f"{source}: manifest Reference {i} names {href} but no such content is attached")
        for local, expected in (("ContentType", media_type), ("AttachmentName", name), ("Description", description)):
            if _text(item.find(edxml(local))) != expected:
                raise SchemaInvalid(f"{source}: attachment {href}: {local} disagrees with its manifest Reference")
        content = decode_base64(_text(item.find(edxml("ContentTransferEncoded"))))
        result.append(
            Attachment(name=name, media_type=media_type, sha256=digest, content=content, description=description)
        )
    if encoded:
        raise SchemaInvalid(f"{source}: encoded attachments {sorted(encoded)} are not in the manifest")
    return tuple(result)


def envelope_from_tree(root: etree._Element, *, source: str = "envelope") -> Envelope:
    """Map a schema-valid procflow-profile tree into the model; impossible values become SchemaInvalid."""
    try:
        envelope = _child(root, "edXMLEnvelope")
        header = _child(envelope, "edXMLHeader")
        message_header = _child(header, "MessageHeader")
        code = _child(message_header, "Code")
        promulgation = _child(message_header, "PromulgationInfo")
        doc_type = _child(message_header, "DocumentType")
        due = message_header.find(edxml("DueDate"))
        document = DocumentInfo(
            document_id=_text(message_header.find(edxml("DocumentId"))),
            code_number=_text(code.find(edxml("CodeNumber"))),
            code_notation=_text(code.find(edxml("CodeNotation"))),
            promulgation_date=parse_edxml_date(_text(promulgation.find(edxml("PromulgationDate")))),
            promulgation_place=_text(promulgation.find(edxml("Place"))),
            document_type=int(_text(doc_type.find(edxml("Type")))),
            type_name=_text(doc_type.find(edxml("TypeName"))),
            due_date=parse_edxml_date(_text(due)) if due is not None else None,
        )
        trace = tuple(
            TraceHop(_text(hop.find(edxml("OrganId"))), parse_trace_timestamp(_text(hop.find(edxml("Timestamp")))))
            for hop in header.iterfind(f"{edxml('TraceHeaderList')}/{edxml('TraceHeader')}")
        )
        message = header.find(pf("Message"))
        if message is None:
            raise SchemaInvalid(f"{source}: edXMLHeader has no pf:Message")
        body = _child(envelope, "edXMLBody")
        dossier = body.find(pf("Dossier"))
        return Envelope(
            message_id=message.get("id", ""),
            sender=_party(_child(message_header, "From")),
            recipients=tuple(_party(to) for to in message_header.iterfind(edxml("To"))),
            created_at=parse_datetime(message.get("createdAt", "")),
            subject=_text(message_header.find(edxml("Subject"))),
            document=document,
            trigger=message.get("trigger"),
            trace=trace,
            payload=_dossier(dossier) if dossier is not None else None,
            attachments=_attachments(root, _child(body, "edXMLManifest"), source),
        )
    except EnvelopeRejected:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise SchemaInvalid(f"{source}: a value cannot be read: {exc}") from exc
