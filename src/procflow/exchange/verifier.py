"""The receiving door: every envelope from another node passes :meth:`Verifier.verify` or is refused.

Checks run cheapest and most fundamental first, and the one that changes state runs last:

    size / hardened parse → namespace → schema → signature → signer → recipient → timestamp
    → attachment digests → replay (record)

so a refused message is never recorded as seen and a legitimate retry of it can still be accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from procflow.exchange.edxml import envelope_from_edxml_tree
from procflow.exchange.errors import (
    AttachmentDigestMismatch,
    ReplayedMessage,
    StaleMessage,
    UnsignedForeignEnvelope,
    WrongRecipient,
)
from procflow.exchange.model import VN_TZ, Envelope
from procflow.exchange.nodekeys import TrustStore
from procflow.exchange.parser import (
    DEFAULT_LIMITS,
    Limits,
    check_root,
    envelope_from_tree,
    is_procflow_profile,
    parse_xml,
)
from procflow.exchange.redaction import shown
from procflow.exchange.schema import validate_tree
from procflow.exchange.signing import find_signature, verify_signature

__all__ = ["Clock", "MemoryReplayGuard", "ReplayGuard", "Verifier"]

Clock = Callable[[], datetime]


@runtime_checkable
class ReplayGuard(Protocol):
    """Remembers message ids. A store implements this so the record commits with the import itself."""

    def seen_or_record(self, message_id: str) -> bool:
        """Atomically: return True if ``message_id`` was seen before; otherwise record it, return False."""
        ...


class MemoryReplayGuard:
    """In-process replay guard for tests and single-process nodes (forgets on restart)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def seen_or_record(self, message_id: str) -> bool:
        with self._lock:
            if message_id in self._seen:
                return True
            self._seen.add(message_id)
            return False

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)


def _now() -> datetime:
    return datetime.now(VN_TZ)


class Verifier:
    """Verifies envelopes addressed to agency ``me``.

    ``window`` bounds how old an envelope may be (outbox retries resend the same signed bytes, so allow
    for the longest retry schedule; the replay guard must remember ids at least this long);
    ``future_skew`` tolerates clock drift between nodes. Unsigned foreign edXML is refused unless
    ``allow_unsigned_foreign`` is set; a signed foreign document is verified like our own.
    """

    def __init__(
        self,
        trust: TrustStore,
        me: str,
        replay: ReplayGuard,
        *,
        window: timedelta = timedelta(hours=24),
        future_skew: timedelta = timedelta(minutes=5),
        clock: Clock = _now,
        limits: Limits = DEFAULT_LIMITS,
        allow_unsigned_foreign: bool = False,
    ) -> None:
        self.trust = trust
        self.me = me
        self.replay = replay
        self.window = window
        self.future_skew = future_skew
        self.clock = clock
        self.limits = limits
        self.allow_unsigned_foreign = allow_unsigned_foreign

    def verify(self, data: bytes, *, source: str = "envelope") -> Envelope:
        """Return the envelope if every check passes; otherwise raise the specific EnvelopeRejected."""
        envelope = self.check(data, source=source)
        if self.replay.seen_or_record(envelope.message_id):
            raise ReplayedMessage(
                f"{source}: message {shown(envelope.message_id, quote=False)} from "
                f"{shown(envelope.sender.code, quote=False)} was already received"
            )
        return envelope

    def check(self, data: bytes, *, source: str = "envelope") -> Envelope:
        """Every check except the replay record, which changes state.

        For a receiver that records the message id itself, in the same transaction as what it does with
        the message (``procflow.exchange.transfer`` imports a hand-off that way), so a refused or failed
        import leaves the id unrecorded and a retry of the same message can still succeed.
        """
        now = self.clock()
        data = bytes(data)
        root = parse_xml(data, limits=self.limits, source=source)
        check_root(root, source=source)
        if is_procflow_profile(root):
            validate_tree(root, source=source)
            envelope = envelope_from_tree(root, source=source)
            verify_signature(root, trust=self.trust, sender=envelope.sender.code, at=now, data=data, source=source)
        else:
            envelope = envelope_from_edxml_tree(root, source=source)
            if find_signature(root, source=source) is not None:
                verify_signature(root, trust=self.trust, sender=envelope.sender.code, at=now, data=data, source=source)
            elif not self.allow_unsigned_foreign:
                raise UnsignedForeignEnvelope(
                    f"{source}: edXML document {shown(envelope.message_id)} from "
                    f"{shown(envelope.sender.code, quote=False)} is not "
                    "signed, and this node does not accept unsigned foreign documents"
                )
        self._check_recipient(envelope, source)
        self._check_time(envelope, now, source)
        self._check_digests(envelope, source)
        return envelope

    def _check_recipient(self, envelope: Envelope, source: str) -> None:
        if self.me not in envelope.recipient_codes:
            raise WrongRecipient(
                f"{source}: message {shown(envelope.message_id, quote=False)} is addressed to "
                f"{', '.join(shown(c, quote=False) for c in envelope.recipient_codes)}, not to this node ({self.me})"
            )

    def _check_time(self, envelope: Envelope, now: datetime, source: str) -> None:
        created = envelope.created_at
        if created < now - self.window:
            raise StaleMessage(
                f"{source}: message {shown(envelope.message_id, quote=False)} was created {created.isoformat()}, "
                f"more than {self.window} before {now.isoformat()}"
            )
        if created > now + self.future_skew:
            raise StaleMessage(
                f"{source}: message {shown(envelope.message_id, quote=False)} claims creation at "
                f"{created.isoformat()}, "
                f"more than {self.future_skew} after {now.isoformat()}"
            )

    def _check_digests(self, envelope: Envelope, source: str) -> None:
        for i, attachment in enumerate(envelope.attachments):
            if attachment.content is not None and not attachment.digest_matches():
                raise AttachmentDigestMismatch(
                    f"{source}: attachment {i} ({shown(attachment.name)}) does not match its declared sha256 "
                    f"{attachment.sha256}"
                )
