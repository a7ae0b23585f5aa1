"""XML-DSig for envelopes: a node's keys, the certificates it trusts, signing, and signature checks.

Keys are parsed once, when a node starts (:meth:`NodeKeys.load`), and handed to signxml as key objects:
given PEM text signxml re-parses the RSA key on every call (~30 ms, against ~0.4 ms per signature).

The signature is enveloped, RSA-SHA256 over exclusive c14n, with exactly one reference:

* procflow profile: ``URI="#envelope"``, the ``edXMLEnvelope`` element (header, trace, payload and the
  manifest). Attachments in ``AttachmentEncoded`` are bound by the SHA-256 in their signed manifest entry,
  as edXML manifests intend, so a 100 KB scan is hashed once instead of being canonicalized and copied by
  the signature code on both sides. Exclusive c14n makes the envelope's digest independent of its place in
  the document: a standard verifier given the whole document resolves ``#envelope`` to the same bytes.
  This profile is signed and checked by :mod:`procflow.exchange.dsig` (lxml C14N + ``cryptography``, about
  a quarter of signxml's cost); a signature in any other shape is verified by signxml.
* foreign edXML (written by :func:`write_edxml`, no digests in its manifest): ``URI=""``, the whole
  document, attachments included, signed and verified with signxml.

The signature sits in ``edXMLHeader`` (inside ``edXML:DigitalSignature`` when the header has one, as
foreign systems place it). A receiver verifies against the certificate its trust store holds for the
*claimed sender*; a certificate embedded in the message is never trusted, only used to explain a refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    InvalidCertificate,
    InvalidDigest,
    InvalidInput,
    InvalidSignature,
    SignatureConfiguration,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)

from procflow.exchange.dsig import envelope_digest_matches, parse_profile, sign_profile, signed_info_verifies
from procflow.exchange.errors import (
    EncodingError,
    SignatureInvalid,
    SignatureMissing,
    SignedContentTampered,
    SignerMismatch,
    UntrustedSender,
)
from procflow.exchange.nodekeys import NodeKeys, TrustStore
from procflow.exchange.parser import DEFAULT_LIMITS, Limits, is_procflow_profile, parse_xml
from procflow.exchange.redaction import redacted, shown
from procflow.exchange.schema import DS_NS, ENVELOPE_ID, edxml

__all__ = ["sign_envelope", "verify_signature"]

_ACCEPTED_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
_ACCEPTED_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
_DS_SIGNATURE = f"{{{DS_NS}}}Signature"
_CLAIMING_ID = etree.XPath("count(//@Id[. = $id])")  # one element named #envelope, or wrapping is possible
_SPLICE_MARKER = "\ue000procflow-signed-envelope\ue000"  # private-use text; never leaves _splice


class _NoCanonicalDump(logging.Filter):
    """signxml logs every document it canonicalizes at DEBUG level; envelopes carry personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Canonicalized")


logging.getLogger("signxml.processor").addFilter(_NoCanonicalDump())


def _header(root: etree._Element) -> etree._Element:
    envelope = root if root.tag == edxml("edXMLEnvelope") else root.find(edxml("edXMLEnvelope"))
    header = envelope.find(edxml("edXMLHeader")) if envelope is not None else None
    if header is None:
        raise EncodingError("not an edXML envelope: no edXMLEnvelope/edXMLHeader to carry a signature")
    return header


def _scope(root: etree._Element) -> tuple[etree._Element, str]:
    """The element a signature covers and the Reference URI that names it (see the module docstring)."""
    if is_procflow_profile(root):
        envelope = root.find(edxml("edXMLEnvelope"))
        assert envelope is not None
        return envelope, f"#{ENVELOPE_ID}"
    return root, ""


def sign_envelope(data: bytes | etree._Element, keys: NodeKeys, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Sign an envelope as ``keys.agency``; returns the signed document's bytes.

    Accepts the bytes :func:`build_envelope` produced or the tree from :func:`envelope_tree` (which saves
    one parse; the tree is left as it was). A node signs only what it sends: an envelope from another
    sender is refused.
    """
    root = parse_xml(data, limits=limits, source="envelope to sign") if isinstance(data, bytes) else data
    header = _header(root)
    if root.find(f".//{_DS_SIGNATURE}") is not None:
        raise EncodingError("envelope is already signed")
    sender = header.findtext(f"{edxml('MessageHeader')}/{edxml('From')}/{edxml('OrganId')}")
    if sender != keys.agency:
        raise SignerMismatch(f"node {keys.agency} cannot sign an envelope whose sender is {shown(sender)}")
    covered, uri = _scope(root)
    if uri and covered.get("Id") != uri[1:]:
        raise EncodingError(f"edXMLEnvelope must carry Id={uri[1:]!r} to be signed in the procflow profile")
    holder = header.find(edxml("DigitalSignature"))
    if covered is not root:
        return sign_profile(root, covered, header if holder is None else holder, agency=keys.agency,
                            private_key=keys.private_key, certificate=keys.certificate)
    return _signxml_sign(root, covered, header if holder is None else holder, keys, uri)


def _signxml_sign(root: etree._Element, covered: etree._Element, holder: etree._Element, keys: NodeKeys,
                  uri: str) -> bytes:
    """Sign with signxml: foreign edXML (the whole document), and procflow's profile in interop tests."""
    placeholder = etree.SubElement(holder, _DS_SIGNATURE, Id="placeholder", nsmap={"ds": DS_NS})
    try:
        signer = XMLSigner(
            method=SignatureConstructionMethod.enveloped,
            signature_algorithm=keys.signature_method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=_C14N,
        )
        signed = signer.sign(
            covered,
            key=keys.private_key,
            cert=[keys.certificate],
            key_name=keys.agency,
            reference_uri=uri or None,
        )
    finally:
        parent = placeholder.getparent()
        if parent is not None:  # always the holder: the placeholder was made as its child above
            parent.remove(placeholder)
    if covered is root:
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    return _splice(root, covered, etree.tostring(signed, encoding="UTF-8", xml_declaration=False))


def _splice(root: etree._Element, covered: etree._Element, signed_envelope: bytes) -> bytes:
    """Serialize ``root`` with the signed envelope's bytes in place of ``covered``, leaving the tree as is.

    Bytes, not a tree move: moving an element between documents lets lxml re-declare its namespaces
    (``edXML:`` prefixes become the root's default namespace), and prefixes are part of the canonical form
    the digest was computed over.
    """
    shell = etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap)
    shell.text = _SPLICE_MARKER
    head, marker, tail = etree.tostring(shell, xml_declaration=True, encoding="UTF-8").partition(
        _SPLICE_MARKER.encode()
    )
    if not marker:
        raise EncodingError("cannot place the signed envelope in its document")
    if (root.text or "").strip():
        raise EncodingError("the edXML root must not carry text of its own")
    parts = [head, (root.text or "").encode()]
    for child in root:
        if child is covered:
            parts.append(signed_envelope + (child.tail or "").encode())
        else:
            parts.append(etree.tostring(child, encoding="UTF-8", xml_declaration=False, with_tail=True))
    parts.append(tail)
    return b"".join(parts)


def find_signature(root: etree._Element, *, source: str = "envelope") -> etree._Element | None:
    """The one ds:Signature, where edXML puts it; a signature anywhere else is refused, not ignored."""
    signatures = root.findall(f".//{_DS_SIGNATURE}")
    if not signatures:
        return None
    if len(signatures) > 1:
        raise SignatureInvalid(f"{source}: {len(signatures)} signatures; exactly one is accepted")
    signature = signatures[0]
    parent = signature.getparent()
    if parent is not None and parent.tag == edxml("DigitalSignature"):
        parent = parent.getparent()
    if parent is None or parent.tag != edxml("edXMLHeader"):
        raise SignatureInvalid(f"{source}: the signature is not in edXMLHeader")
    return signature


def _location(covered: etree._Element, signature: etree._Element) -> str:
    """Where signxml must find the signature, relative to the element it verifies."""
    header_path = f"./{edxml('edXMLHeader')}/"
    if covered.tag == edxml("edXML"):
        header_path = f"./{edxml('edXMLEnvelope')}/{edxml('edXMLHeader')}/"
    parent = signature.getparent()
    if parent is not None and parent.tag == edxml("DigitalSignature"):
        return f"{header_path}{edxml('DigitalSignature')}/"
    return header_path


def _check_shape(signature: etree._Element, uri: str, source: str) -> None:
    references = signature.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != uri:
        what = "the whole document" if not uri else f"the envelope ({uri})"
        raise SignatureInvalid(f"{source}: the signature must have exactly one reference, covering {what}")


def _signxml_parser() -> etree.XMLParser:
    # Same hardening as parse_xml, but comments and PIs stay: signxml must see the bytes as signed.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False)


def _verifies(signed: bytes | etree._Element, cert: x509.Certificate, location: str, at: datetime) -> None:
    config = SignatureConfiguration(
        location=location,
        expect_references=1,
        signature_methods=_ACCEPTED_METHODS,
        digest_algorithms=_ACCEPTED_DIGESTS,
        verification_time=at,
    )
    XMLVerifier().verify(signed, x509_cert=cert, expect_config=config, parser=_signxml_parser())


def _actual_signer(
    signature: etree._Element,
    *,
    trust: TrustStore,
    sender: str,
    verifies: Callable[[x509.Certificate], bool],
) -> str | None:
    """Explain a failed signature: was it made by *another* trusted agency? Never used to accept.

    Candidates come from the message (KeyName, the embedded certificate) but are only tried with the
    trust store's own certificates, and at most two are tried, so this costs nothing an attacker can grow.
    """
    candidates: list[str] = []
    key_name = signature.findtext(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}KeyName")
    if key_name:
        candidates.append(key_name)
    embedded = signature.findtext(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
    if embedded:
        try:
            pem = b"-----BEGIN CERTIFICATE-----\n" + embedded.strip().encode() + b"\n-----END CERTIFICATE-----\n"
            agency = trust.agency_of(x509.load_pem_x509_certificate(pem))
        except ValueError:
            agency = None
        if agency is not None and agency not in candidates:
            candidates.append(agency)
    for agency in candidates:
        certificate = trust.certificate(agency)
        if agency == sender or certificate is None:
            continue
        if verifies(certificate):
            return agency
    return None


def _signxml_verifies(
    signed: bytes | etree._Element, location: str, at: datetime
) -> Callable[[x509.Certificate], bool]:
    def verifies(certificate: x509.Certificate) -> bool:
        try:
            _verifies(signed, certificate, location, at)
        except (InvalidSignature, InvalidInput):
            return False
        return True

    return verifies


def _verify_profile(root: etree._Element, covered: etree._Element, signature: etree._Element,
                    certificate: x509.Certificate, *, trust: TrustStore, sender: str, at: datetime,
                    source: str) -> bool:
    """procflow's own profile, checked directly (:mod:`procflow.exchange.dsig`); False if the signature has
    another shape, which the caller then gives to signxml."""
    parsed = parse_profile(signature, source=source)
    if parsed is None:
        return False
    if _CLAIMING_ID(root, id=ENVELOPE_ID) != 1:
        raise SignatureInvalid(f"{source}: more than one element carries Id={ENVELOPE_ID!r}")
    if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
        raise SignatureInvalid(f"{source}: {sender}'s certificate is not valid at {at.isoformat()} (valid "
                               f"{certificate.not_valid_before_utc.isoformat()} to "
                               f"{certificate.not_valid_after_utc.isoformat()})")
    if not signed_info_verifies(parsed, certificate):
        actual = _actual_signer(signature, trust=trust, sender=sender,
                                verifies=lambda cert: signed_info_verifies(parsed, cert))
        if actual is not None:
            raise SignerMismatch(f"{source}: signed by {shown(actual, quote=False)}, but the envelope says it comes "
                                 f"from {shown(sender, quote=False)}")
        raise SignatureInvalid(f"{source}: signature does not verify with {sender}'s certificate")
    if not envelope_digest_matches(parsed, covered):
        raise SignedContentTampered(f"{source}: content signed by {shown(sender, quote=False)} was changed after "
                                    "signing")
    return True


def verify_signature(
    root: etree._Element,
    *,
    trust: TrustStore,
    sender: str,
    at: datetime,
    data: bytes | None = None,
    source: str = "envelope",
) -> None:
    """Check the envelope was signed by ``sender``'s trusted certificate and not changed since.

    ``root`` is the tree from :func:`parse_xml`. For whole-document signatures (foreign edXML) pass the
    original ``data`` too: signxml then parses the bytes once instead of serializing and re-parsing the
    tree. They have already passed the hardened parser, so they are safe to hand on. This checks the
    signature only; attachment digests are the caller's next step (the :class:`Verifier` does it).
    """
    signature = find_signature(root, source=source)
    if signature is None:
        raise SignatureMissing(f"{source}: no ds:Signature in edXMLHeader; envelopes must be signed")
    certificate = trust.certificate(sender)
    if certificate is None:
        raise UntrustedSender(f"{source}: sender {shown(sender)} has no certificate in this node's trust store")
    covered, uri = _scope(root)
    _check_shape(signature, uri, source)
    if covered is not root and _verify_profile(root, covered, signature, certificate, trust=trust, sender=sender,
                                               at=at, source=source):
        return
    location = _location(covered, signature)
    if covered is not root:
        signed: bytes | etree._Element = etree.tostring(covered)  # a few KB: the attachments stay outside
    else:
        signed = root if data is None else data
    try:
        _verifies(signed, certificate, location, at)
    except InvalidDigest as exc:
        raise SignedContentTampered(f"{source}: content signed by {shown(sender, quote=False)} was changed after "
                                    f"signing ({redacted(str(exc))})") from exc
    except InvalidCertificate as exc:
        raise SignatureInvalid(f"{source}: {sender}'s certificate is not valid: {exc}") from exc
    except InvalidSignature as exc:
        actual = _actual_signer(signature, trust=trust, sender=sender,
                                verifies=_signxml_verifies(signed, location, at))
        if actual is not None:
            raise SignerMismatch(f"{source}: signed by {shown(actual, quote=False)}, but the envelope says it comes "
                                 f"from {shown(sender, quote=False)}") from exc
        raise SignatureInvalid(f"{source}: signature does not verify with {sender}'s certificate") from exc
    except InvalidInput as exc:
        raise SignatureInvalid(f"{source}: unusable signature: {exc}") from exc
