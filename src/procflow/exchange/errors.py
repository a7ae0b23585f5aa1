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
    └── UnsignedForeignEnvelope      "unsigned"             foreign edXML without signature, policy says no

Reason codes are part of the public contract (logs, dead letters and tests match on them); messages are
for people and may change. Every refusal happens before the replay guard records anything.
"""

from __future__ import annotations

from procflow.errors import EnvelopeRejected

__all__ = [
    "AttachmentDigestMismatch",
    "EncodingError",
    "EnvelopeRejected",
    "ReplayedMessage",
    "SchemaInvalid",
    "SignatureInvalid",
    "SignatureMissing",
    "SignedContentTampered",
    "SignerMismatch",
    "StaleMessage",
    "UnsignedForeignEnvelope",
    "UntrustedSender",
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
