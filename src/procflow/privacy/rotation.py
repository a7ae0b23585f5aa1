"""Key rotation of the personal-data vault: re-encrypt every value under the active key, resumably, and
retire old keys only when no value and no other process still needs them.

A mixin of :class:`procflow.privacy.vault.Vault` (its methods are Vault methods), kept apart because
rotation is an operator's occasional, batched job with its own safety rules (grace period, re-checks),
while the vault module is about sealing and opening values on every transition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from procflow.errors import VaultError
from procflow.privacy.keys import REFRESH_SECONDS, RETIRE_GRACE_SECONDS, KeyProvider
from procflow.privacy.sealed import PLAINTEXT_JSON as _JSON

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KeyRotation", "RotationReport"]

log = logging.getLogger("procflow.privacy.vault")  # the vault's logger: rotation is part of its story


@attrs.define
class RotationReport:
    active: str
    started: bool  # True when this run created the new key; False when it resumed an earlier rotation
    batches: int = 0
    rotated: int = 0
    remaining: int = 0
    retired: list[str] = attrs.field(factory=list)


class KeyRotation:
    """Vault's rotation methods (``procflow keys rotate``)."""

    if TYPE_CHECKING:  # provided by Vault
        store: Any
        encrypt: bool
        _sql: Any
        _recorded: set[str] | None

        @property
        def keys(self) -> KeyProvider: ...
        def _cipher(self, key_id: str) -> AESGCM: ...
        def _seal_bytes(self, dossier_id: str, seq: int, plaintext: bytes) -> tuple[str, bytes]: ...
        def _open_bytes(self, dossier_id: str, seq: int, key_id: str,
                        blob: bytes | None) -> dict[str, Any] | None: ...

    def _reseal_old(self, active: str, old: list[str], batch_size: int) -> int:
        """Re-encrypt every value under a key in ``old`` with the active key (ciphers of old keys are cached)."""
        return sum(self._reseal_batches(old, batch_size))

    def _reseal_batches(self, old: list[str], batch_size: int) -> Iterator[int]:
        """Re-encrypt the values under the keys in ``old`` with the active key, one transaction per batch;
        yields each batch's size. Walks the primary key: one pass, no index on key_id needed."""
        after: tuple[str, int] = ("", -1)
        while old:
            rows = self._sql.target(None).vault_rows_under(old, after=after, limit=batch_size)
            if not rows:
                break
            after = (rows[-1][0], int(rows[-1][1]))
            with self.store.transaction():
                for did, seq, key_id, blob in rows:
                    values = self._open_bytes(did, seq, key_id, blob)
                    new_id, new_blob = self._seal_bytes(did, seq, _JSON(values).encode())
                    self._sql.target(did).reseal_vault_value(did, seq, old_key_id=key_id, key_id=new_id, blob=new_blob)
            yield len(rows)

    def _retire_old(self, provider: KeyProvider, active: str, *, grace: float, batch_size: int) -> list[str]:
        old = [k for k in provider.key_ids() if k != active]
        if not old:
            return []
        for kid in old:  # hold every old key in memory until the end: a late value can still be re-sealed
            self._cipher(kid)
        log.info("key rotation: waiting %.1f s before retiring %s (other processes' keyring refresh)", grace, old)
        time.sleep(grace)
        self._reseal_old(active, old, batch_size)  # values other processes sealed with an old key meanwhile
        if any(k != active for k in self.key_usage()):
            log.warning("key rotation: values still under old keys; not retiring")
            return []
        retired = []
        for kid in old:
            provider.retire(kid)
            retired.append(kid)
        late = self._reseal_old(active, old, batch_size)  # checked again once retired
        if late:
            log.warning("key rotation: %d value(s) sealed with a retired key during retirement were re-encrypted",
                        late)
        if not any(k in retired for k in self.key_usage()):
            with self.store.transaction():  # the store no longer needs them
                for kid in retired:
                    self._sql.keyring().forget_vault_key(kid)
            if self._recorded is not None:
                self._recorded.difference_update(retired)
        return retired

    def key_usage(self) -> dict[str, int]:
        """Live (not erased) values per key id."""
        return dict(self._sql.target(None).vault_key_usage())

    def rotate(self, *, batch_size: int = 500, retire: bool = False, retire_grace: float = RETIRE_GRACE_SECONDS,
               on_batch: Callable[[int, int], None] | None = None) -> RotationReport:
        """Re-encrypt every value not under the active key, ``batch_size`` rows per transaction.

        Resumable: when values under an older key remain (an earlier run was interrupted), this run
        finishes that rotation with the current active key instead of starting another; otherwise it
        first makes a new key active. A batch commits all its rows or none, and rows are selected by
        ``key_id``, so a crash at any point loses nothing and the next run picks up the rest.
        ``on_batch(batches_done, rows_done)`` runs after each commit (progress; tests interrupt there).

        ``retire`` removes the old keys from the keyring — only after ``retire_grace`` seconds (longer than
        any process's keyring refresh, so every process seals with the new key by then), after re-encrypting
        what other processes sealed with an old key meanwhile, and checked again once retired: a value found
        under a retired key then is re-encrypted with the key still held in memory. No value is lost.
        """
        if retire and retire_grace <= REFRESH_SECONDS:
            raise VaultError(f"retire_grace must be longer than the keyring refresh ({REFRESH_SECONDS:g} s)")
        if not self.encrypt:
            raise VaultError("this vault stores plaintext (encrypt=False); open it with encrypt=True to rotate")
        provider = self.keys
        active = provider.active_key_id()
        old = [k for k in self.key_usage() if k != active]
        started = not old
        if started:
            active = provider.new_active_key()
            old = [k for k in self.key_usage() if k != active]
            log.info("key rotation: new active key %s; re-encrypting values under %s", active, old or "none")
        else:
            log.info("key rotation: resuming with active key %s; values remain under %s", active, old)
        report = RotationReport(active=active, started=started)
        for n in self._reseal_batches(old, batch_size):
            report.batches += 1
            report.rotated += n
            if on_batch is not None:
                on_batch(report.batches, report.rotated)
        usage = self.key_usage()
        report.remaining = sum(n for k, n in usage.items() if k != active)
        if retire and not report.remaining:
            report.retired = self._retire_old(provider, active, grace=retire_grace, batch_size=batch_size)
            report.remaining = sum(n for k, n in self.key_usage().items() if k != active)
        log.info("key rotation: %d value(s) re-encrypted in %d batch(es); %d remain under older keys",
                 report.rotated, report.batches, report.remaining)
        return report
