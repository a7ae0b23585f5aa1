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
        ├── HistoryConflict          "history-conflict"     the history disagrees with this node's copy
        └── ForgedHistory            "forged-history"       the history breaks the procedure's law or the chain:
            ├── BrokenChain          "broken-chain"         a sender's chain link missing or not verifying
            ├── UnknownState         "unknown-state"        a state the procedure version does not have
            ├── DiscontinuousHistory "discontinuous-history" an event starts where the previous did not end
            ├── ForbiddenTrigger     "trigger-not-allowed"  the trigger does not leave its from-state
            ├── WrongDestination     "wrong-destination"    to-state/status/custodian not the transition's
            └── ActorNotCustodian    "actor-not-custodian"  the acting agency did not hold the dossier then

    HandoffError (procflow.errors.ProcflowError; ValueError)  the sending side cannot export a hand-off

Reason codes are part of the public contract (logs, dead letters and tests match on them); messages are
for people and may change. Messages name what and where, never a citizen's value: an envelope is
hostile input, so a value read from it is quoted only when it looks like a code, and parser and schema
texts have their quoted values withheld (``procflow.exchange.redaction``); every ``ProcflowError`` masks
ID and phone numbers when printed.
Every refusal happens before the replay guard records anything, and an import
that is refused rolls the guard's record back with everything else.
"""

from __future__ import annotations

from procflow.errors import EnvelopeRejected, HandoffError

__all__ = [
    "ActorNotCustodian",
    "AttachmentDigestMismatch",
    "BrokenChain",
    "DefinitionMismatch",
    "DiscontinuousHistory",
    "EncodingError",
    "EnvelopeRejected",
    "ForbiddenTrigger",
    "ForgedHistory",
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
    "UnknownState",
    "UnsignedForeignEnvelope",
    "UntrustedSender",
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


class ForgedHistory(HandoffRefused):
    """A trusted sender's key vouches for the envelope, not for the history in it: every imported event
    must be one the registered procedure allows, fired by the agency that held the dossier then, and on
    the sender's own hash chain. ``dossier_id`` and ``seq`` name the first offending event."""

    reason = "forged-history"

    def __init__(self, message: str, *, dossier_id: str = "", seq: int | None = None) -> None:
        self.dossier_id = dossier_id
        self.seq = seq
        super().__init__(message)


class BrokenChain(ForgedHistory):
    reason = "broken-chain"


class UnknownState(ForgedHistory):
    reason = "unknown-state"


class DiscontinuousHistory(ForgedHistory):
    reason = "discontinuous-history"


class ForbiddenTrigger(ForgedHistory):
    reason = "trigger-not-allowed"


class WrongDestination(ForgedHistory):
    reason = "wrong-destination"


class ActorNotCustodian(ForgedHistory):
    """One custodian at a time: only the agency holding the dossier acts on it, whoever sends the log."""

    reason = "actor-not-custodian"
