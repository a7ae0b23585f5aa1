"""Inter-agency document exchange: signed edXML envelopes (QCVN 102:2016) carrying procflow dossiers.

A sending node builds and signs::

    keys = NodeKeys.load("000.00.31.H22", "node.key.pem", "node.cert.pem")   # once, at start-up
    signed = sign_envelope(envelope_tree(envelope), keys)

and the receiving node lets nothing in except through the verifier::

    verifier = Verifier(TrustStore.load("trust/"), me="000.00.01.H22", replay=store_replay_guard)
    envelope = verifier.verify(signed)   # or raises an EnvelopeRejected subclass with a .reason code

Foreign edXML from document-management systems is read with :func:`read_edxml` (and verified by the same
:class:`Verifier`, which refuses it unsigned unless the node allows that); :func:`write_edxml` writes what
those systems read.
"""

from procflow.exchange.builder import build_envelope, envelope_tree
from procflow.exchange.edxml import read_edxml, write_edxml
from procflow.exchange.errors import (
    AttachmentDigestMismatch,
    EncodingError,
    EnvelopeRejected,
    ReplayedMessage,
    SchemaInvalid,
    SignatureInvalid,
    SignatureMissing,
    SignedContentTampered,
    SignerMismatch,
    StaleMessage,
    UnsignedForeignEnvelope,
    UntrustedSender,
    WrongNamespace,
    WrongRecipient,
    XmlBadEncoding,
    XmlForbiddenConstruct,
    XmlMalformed,
    XmlTooDeep,
    XmlTooLarge,
    XmlTruncated,
)
from procflow.exchange.keys import generate_test_keys, generate_test_pki
from procflow.exchange.model import (
    VN_TZ,
    Attachment,
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    FieldType,
    Party,
    PayloadEvent,
    TraceHop,
)
from procflow.exchange.parser import DEFAULT_LIMITS, Limits, parse_envelope
from procflow.exchange.schema import EDXML_NS, PF_NS, envelope_schema, validate_tree
from procflow.exchange.signing import NodeKeys, TrustStore, sign_envelope
from procflow.exchange.verifier import MemoryReplayGuard, ReplayGuard, Verifier

__all__ = [
    "DEFAULT_LIMITS",
    "EDXML_NS",
    "PF_NS",
    "VN_TZ",
    "Attachment",
    "AttachmentDigestMismatch",
    "DocumentInfo",
    "DossierPayload",
    "EncodingError",
    "Envelope",
    "EnvelopeRejected",
    "Field",
    "FieldType",
    "Limits",
    "MemoryReplayGuard",
    "NodeKeys",
    "Party",
    "PayloadEvent",
    "ReplayGuard",
    "ReplayedMessage",
    "SchemaInvalid",
    "SignatureInvalid",
    "SignatureMissing",
    "SignedContentTampered",
    "SignerMismatch",
    "StaleMessage",
    "TraceHop",
    "TrustStore",
    "UnsignedForeignEnvelope",
    "UntrustedSender",
    "Verifier",
    "WrongNamespace",
    "WrongRecipient",
    "XmlBadEncoding",
    "XmlForbiddenConstruct",
    "XmlMalformed",
    "XmlTooDeep",
    "XmlTooLarge",
    "XmlTruncated",
    "build_envelope",
    "envelope_schema",
    "envelope_tree",
    "generate_test_keys",
    "generate_test_pki",
    "parse_envelope",
    "read_edxml",
    "sign_envelope",
    "validate_tree",
    "write_edxml",
]
