"""Every way an inter-agency envelope can be refused, one class per stable reason code.

::

    EnvelopeRejected (procflow.errors; ValueError)      .reason is the stable code below
    ├── XmlMalformed                 "malformed"            not well-formed XML
    │   └── XmlTruncated             "truncated"            the document ends before its root closes
    ├── XmlBadEncoding               "bad-encoding"         not UTF-8 (or declares another encoding)
    ├── XmlForbiddenConstruct        "forbidden-construct"  DOCTYPE / entities (XXE, billion laughs)
    ├── XmlTooLarge                  "too-large"            over the byte limit
    ├── XmlTooDeep                   "too-deep"             nested deeper than the depth limit
    ├── WrongNamespace               "wrong-namespace"      not edXML, or another payload version
    ├── SchemaInvalid                "schema-invalid"       fails the XSD / the edXML structure
    ├── EncodingError                "unencodable"          (building) a value XML 1.0 cannot carry
    ├── SignatureMissing             "signature-missing"
    ├── SignatureInvalid             "signature-invalid"    the signature value does not verify
    ├── SignedContentTampered        "tampered"             signed content changed after signing
    ├── UntrustedSender              "untrusted-sender"     no certificate for the sending agency
    ├── SignerMismatch               "signer-mismatch"      signed by another agency than the sender
    ├── WrongRecipient               "wrong-recipient"
    ├── StaleMessage                 "stale"                created-at outside the accepted window
    ├── AttachmentDigestMismatch     "attachment-digest-mismatch"  content ≠ its signed manifest SHA-256
    ├── ReplayedMessage              "replayed"             message id seen before
    ├── UnsignedForeignEnvelope      "unsigned"             foreign edXML without signature, policy says no
    └── HandoffRefused                                      a verified envelope this node cannot import:
        ├── NotAHandoff              "no-payload"           no procflow dossier in it (a foreign document)
        ├── WrongCustodian           "wrong-custodian"      the dossier goes to an agency this node does not host
        ├── SenderNotCustodian       "sender-not-custodian" the sending node did not hold the dossier it hands on
        ├── UnknownProcedure         "unknown-procedure"    the procedure version is not registered here
        ├── DefinitionMismatch       "definition-mismatch"  registered here with other content (hash differs)
        ├── InconsistentPayload      "inconsistent-payload" the history does not replay to the snapshot sent
        └── HistoryConflict          "history-conflict"     the history disagrees with this node's copy

    HandoffError (procflow.errors.ProcflowError; ValueError)  the sending side cannot export a hand-off

Reason codes are part of the public contract (logs, dead letters and tests match on them); messages are
for people and may change. Every refusal happens before the replay guard records anything, and an import
that is refused rolls the guard's record back with everything else.
"""

from __future__ import annotations

from procflow.errors import EnvelopeRejected, HandoffError

__all__ = [
    "AttachmentDigestMismatch",
    "DefinitionMismatch",
    "EncodingError",
    "EnvelopeRejected",
    "HandoffError",
    "HandoffRefused",
    "HistoryConflict",
    "InconsistentPayload",
    "NotAHandoff",
    "ReplayedMessage",
    "SchemaInvalid",
    "SenderNotCustodian",
    "SignatureInvalid",
    "SignatureMissing",
    "SignedContentTampered",
    "SignerMismatch",
    "StaleMessage",
    "UnknownProcedure",
    "UnsignedForeignEnvelope",
    "UntrustedSender",
    "WrongCustodian",
    "WrongNamespace",
    "WrongRecipient",
    "XmlBadEncoding",
    "XmlForbiddenConstruct",
    "XmlMalformed",
    "XmlTooDeep",
    "XmlTooLarge",
    "XmlTruncated",
]


class XmlMalformed(EnvelopeRejected):
    reason = "malformed"


class XmlTruncated(XmlMalformed):
    """Split from malformed because a cut-off transfer is worth retrying, garbage is not."""

    reason = "truncated"


class XmlBadEncoding(EnvelopeRejected):
    reason = "bad-encoding"


class XmlForbiddenConstruct(EnvelopeRejected):
    """DTDs are refused outright: no legitimate envelope needs one, and every entity attack needs one."""

    reason = "forbidden-construct"


class XmlTooLarge(EnvelopeRejected):
    reason = "too-large"


class XmlTooDeep(EnvelopeRejected):
    reason = "too-deep"


class WrongNamespace(EnvelopeRejected):
    reason = "wrong-namespace"


class SchemaInvalid(EnvelopeRejected):
    reason = "schema-invalid"


class EncodingError(EnvelopeRejected):
    """Raised while *building*: refusing here beats sending something the receiver must reject."""

    reason = "unencodable"


class SignatureMissing(EnvelopeRejected):
    reason = "signature-missing"


class SignatureInvalid(EnvelopeRejected):
    reason = "signature-invalid"


class SignedContentTampered(SignatureInvalid):
    """The signature itself is good but a signed byte changed: someone edited the envelope in transit."""

    reason = "tampered"


class UntrustedSender(EnvelopeRejected):
    reason = "untrusted-sender"


class SignerMismatch(EnvelopeRejected):
    reason = "signer-mismatch"


class WrongRecipient(EnvelopeRejected):
    reason = "wrong-recipient"


class StaleMessage(EnvelopeRejected):
    reason = "stale"


class AttachmentDigestMismatch(EnvelopeRejected):
    reason = "attachment-digest-mismatch"


class ReplayedMessage(EnvelopeRejected):
    reason = "replayed"


class UnsignedForeignEnvelope(EnvelopeRejected):
    reason = "unsigned"


class HandoffRefused(EnvelopeRejected):
    """The envelope is authentic and addressed to us, but importing it would break custody or history."""

    reason = "handoff-refused"


class NotAHandoff(HandoffRefused):
    reason = "no-payload"


class WrongCustodian(HandoffRefused):
    """One custodian at a time: a node imports only dossiers handed to an agency it hosts."""

    reason = "wrong-custodian"


class SenderNotCustodian(HandoffRefused):
    """A node may hand on only what it held: trust in its key does not extend to other nodes' dossiers."""

    reason = "sender-not-custodian"


class UnknownProcedure(HandoffRefused):
    reason = "unknown-procedure"


class DefinitionMismatch(HandoffRefused):
    reason = "definition-mismatch"


class InconsistentPayload(HandoffRefused):
    reason = "inconsistent-payload"


class HistoryConflict(HandoffRefused):
    """The sender's history disagrees with ours (diverged, older, or we hold the dossier ourselves)."""

    reason = "history-conflict"


