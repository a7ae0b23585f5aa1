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

Between procflow nodes, an :class:`ExchangeNode` bound to each node's engine does all of that for
hand-offs: a transition that gives custody to an agency hosted elsewhere enqueues the signed envelope,
:class:`HandoffAdapter` delivers it over a :class:`HandoffTransport`, and the receiving node's
:meth:`ExchangeNode.receive` verifies and imports it in one transaction::

    node = ExchangeNode(engine, "000.00.01.H22", keys=keys, trust=trust, hosts=["000.00.02.H22"])
    node.attach()                                   # hand-offs to other nodes go through the outbox
    pm = make_plugin_manager(plugins=[HandoffAdapter(transport)])
"""

from procflow.errors import HandoffError
from procflow.exchange.builder import build_envelope, envelope_tree
from procflow.exchange.edxml import read_edxml, write_edxml
from procflow.exchange.errors import (
    ActorNotCustodian,
    AttachmentDigestMismatch,
    BrokenChain,
    DefinitionMismatch,
    DiscontinuousHistory,
    EncodingError,
    EnvelopeRejected,
    ForbiddenTrigger,
    ForgedHistory,
    HandoffRefused,
    HistoryConflict,
    InconsistentPayload,
    NotAHandoff,
    ReplayedMessage,
    SchemaInvalid,
    SenderNotCustodian,
    SignatureInvalid,
    SignatureMissing,
    SignedContentTampered,
    SignerMismatch,
    StaleMessage,
    UnknownProcedure,
    UnknownState,
    UnsignedForeignEnvelope,
    UntrustedSender,
    WrongCustodian,
    WrongDestination,
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
from procflow.exchange.nodekeys import NodeKeys, TrustStore
from procflow.exchange.parser import DEFAULT_LIMITS, Limits, parse_envelope
from procflow.exchange.payload import (
    StoreReplayGuard,
    dossier_event,
    dossier_payload,
    handoff_message_id,
    payload_event,
)
from procflow.exchange.schema import EDXML_NS, PF_NS, envelope_schema, validate_tree
from procflow.exchange.signing import sign_envelope
from procflow.exchange.transfer import ExchangeNode, Received
from procflow.exchange.transport import HandoffAdapter, HandoffTransport, LocalTransport
from procflow.exchange.verifier import MemoryReplayGuard, ReplayGuard, Verifier

__all__ = [
    "DEFAULT_LIMITS",
    "EDXML_NS",
    "PF_NS",
    "VN_TZ",
    "ActorNotCustodian",
    "Attachment",
    "AttachmentDigestMismatch",
    "BrokenChain",
    "DefinitionMismatch",
    "DiscontinuousHistory",
    "DocumentInfo",
    "DossierPayload",
    "EncodingError",
    "Envelope",
    "EnvelopeRejected",
    "ExchangeNode",
    "Field",
    "FieldType",
    "ForbiddenTrigger",
    "ForgedHistory",
    "HandoffAdapter",
    "HandoffError",
    "HandoffRefused",
    "HandoffTransport",
    "HistoryConflict",
    "InconsistentPayload",
    "Limits",
    "LocalTransport",
    "MemoryReplayGuard",
    "NodeKeys",
    "NotAHandoff",
    "Party",
    "PayloadEvent",
    "Received",
    "ReplayGuard",
    "ReplayedMessage",
    "SchemaInvalid",
    "SenderNotCustodian",
    "SignatureInvalid",
    "SignatureMissing",
    "SignedContentTampered",
    "SignerMismatch",
    "StaleMessage",
    "StoreReplayGuard",
    "TraceHop",
    "TrustStore",
    "UnknownProcedure",
    "UnknownState",
    "UnsignedForeignEnvelope",
    "UntrustedSender",
    "Verifier",
    "WrongCustodian",
    "WrongDestination",
    "WrongNamespace",
    "WrongRecipient",
    "XmlBadEncoding",
    "XmlForbiddenConstruct",
    "XmlMalformed",
    "XmlTooDeep",
    "XmlTooLarge",
    "XmlTruncated",
    "build_envelope",
    "dossier_event",
    "dossier_payload",
    "envelope_schema",
    "envelope_tree",
    "generate_test_keys",
    "generate_test_pki",
    "handoff_message_id",
    "parse_envelope",
    "payload_event",
    "read_edxml",
    "sign_envelope",
    "validate_tree",
    "write_edxml",
]
