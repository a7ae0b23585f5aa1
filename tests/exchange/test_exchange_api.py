"""Pins the public surface of procflow.exchange and its reason codes (both are contracts)."""

from __future__ import annotations

import procflow.exchange as exchange
from procflow.errors import EnvelopeRejected
from procflow.exchange import errors

PUBLIC = [
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

REASONS = {
    "XmlMalformed": "malformed",
    "XmlTruncated": "truncated",
    "XmlBadEncoding": "bad-encoding",
    "XmlForbiddenConstruct": "forbidden-construct",
    "XmlTooLarge": "too-large",
    "XmlTooDeep": "too-deep",
    "WrongNamespace": "wrong-namespace",
    "SchemaInvalid": "schema-invalid",
    "EncodingError": "unencodable",
    "SignatureMissing": "signature-missing",
    "SignatureInvalid": "signature-invalid",
    "SignedContentTampered": "tampered",
    "UntrustedSender": "untrusted-sender",
    "SignerMismatch": "signer-mismatch",
    "WrongRecipient": "wrong-recipient",
    "StaleMessage": "stale",
    "AttachmentDigestMismatch": "attachment-digest-mismatch",
    "ReplayedMessage": "replayed",
    "UnsignedForeignEnvelope": "unsigned",
    "HandoffRefused": "handoff-refused",
    "NotAHandoff": "no-payload",
    "WrongCustodian": "wrong-custodian",
    "SenderNotCustodian": "sender-not-custodian",
    "UnknownProcedure": "unknown-procedure",
    "DefinitionMismatch": "definition-mismatch",
    "InconsistentPayload": "inconsistent-payload",
    "HistoryConflict": "history-conflict",
    "ForgedHistory": "forged-history",
    "BrokenChain": "broken-chain",
    "UnknownState": "unknown-state",
    "DiscontinuousHistory": "discontinuous-history",
    "ForbiddenTrigger": "trigger-not-allowed",
    "WrongDestination": "wrong-destination",
    "ActorNotCustodian": "actor-not-custodian",
}
SENDER_SIDE = {"HandoffError"}  # raised while sending: not a refusal of something received


def test_public_names_are_pinned():
    assert exchange.__all__ == PUBLIC
    for name in PUBLIC:
        assert hasattr(exchange, name), name


def test_reason_codes_are_pinned_and_unique():
    codes = {}
    for name, reason in REASONS.items():
        cls = getattr(errors, name)
        assert issubclass(cls, EnvelopeRejected)
        assert cls.reason == reason
        codes.setdefault(reason, name)
    assert len(codes) == len(REASONS)
    defined = {n for n in errors.__all__ if n != "EnvelopeRejected"}
    assert defined == set(REASONS) | SENDER_SIDE
    assert not issubclass(errors.HandoffError, EnvelopeRejected) and issubclass(errors.HandoffError, ValueError)
    for name in ("NotAHandoff", "WrongCustodian", "SenderNotCustodian", "UnknownProcedure", "DefinitionMismatch",
                 "InconsistentPayload", "HistoryConflict", "ForgedHistory"):
        assert issubclass(getattr(errors, name), errors.HandoffRefused)
    for name in ("BrokenChain", "UnknownState", "DiscontinuousHistory", "ForbiddenTrigger", "WrongDestination",
                 "ActorNotCustodian"):
        assert issubclass(getattr(errors, name), errors.ForgedHistory)


def test_errors_carry_reason_in_message_and_are_value_errors():
    error = errors.StaleMessage("message x is old")
    assert error.reason == "stale" and str(error) == "[stale] message x is old"
    assert isinstance(error, ValueError)


def test_schema_files_ship_as_package_data():
    from importlib import resources

    from procflow.exchange.schema import SCHEMA_FILES

    for name in SCHEMA_FILES:
        assert resources.files("procflow.exchange").joinpath(name).is_file()
        assert name.endswith(".xsd")
