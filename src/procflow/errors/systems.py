"""Failures of the parts around the engine: the store, plugins, adapters, the XML exchange, the key
provider, the vault and the log's anchor.

Adapter errors say whether a retry can help; an envelope refusal carries a stable ``reason`` code.
"""

from __future__ import annotations

from procflow.errors.base import ProcflowError

__all__ = [
    "AdapterError",
    "AnchorUnavailable",
    "EnvelopeRejected",
    "HandoffError",
    "KeysUnavailable",
    "PermanentAdapterError",
    "PluginError",
    "RetryableAdapterError",
    "StoreError",
    "UnsealedValue",
    "VaultError",
]


class StoreError(ProcflowError):
    """The store refused an operation (schema version, conflicting definition registration, ...)."""


class PluginError(ProcflowError):
    """A plugin failed to import, or implements a hook with the wrong signature."""


class AdapterError(ProcflowError):
    """An adapter could not deliver a message. Subclasses say whether retrying can help."""

    retryable: bool = True


class RetryableAdapterError(AdapterError):
    """A failure that may pass (a timeout, a 5xx): the delivery worker tries again after a backoff."""

    retryable = True


class PermanentAdapterError(AdapterError):
    """A failure a retry cannot fix (the receiver refused the message): it goes to the dead letters at once."""

    retryable = False


class EnvelopeRejected(ProcflowError, ValueError):
    """An inter-agency XML envelope was refused before anything was stored. ``reason`` is a stable code."""

    reason: str = "rejected"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(f"[{self.reason}] {message}")


class KeysUnavailable(ProcflowError):
    """A key the vault needs is not in the key provider (wrong keyring, or a key retired too early)."""


class VaultError(ProcflowError):
    """A vault value could not be read (missing row, wrong key, tampered ciphertext)."""


class UnsealedValue(VaultError):
    """An outbox row would hold a personal value in clear: the record carries it opened and neither the
    engine's memo nor the store's row has its vault reference (a store that hands out opened records, a
    record built by hand and never stored, a value stored before its field was declared personal). Refused
    before anything is written, naming fields, never values: a notice with the value masked would be
    useless, and one in clear breaks the rule of data at rest."""


class AnchorUnavailable(ProcflowError):
    """No checkpoint key (``procflow keys init --checkpoint``; never made silently), or an anchor file
    (``procflow audit checkpoints export``) that cannot be read (``procflow.privacy.checkpoint``)."""


class HandoffError(ProcflowError, ValueError):
    """The sending node cannot export this hand-off (unknown or untrusted recipient, dossier not theirs)."""
