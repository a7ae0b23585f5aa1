"""The feature sub-contracts a full store keeps beside the core Store protocol (bundles, vault, chain heads,
anchors, replay log, secure erase, officials, simulation records).

Apart from the core protocol so that a reader of what every store must do (procflow.store.base.Store) reads
that alone; the contract suite checks both backends against every protocol listed in FEATURE_CONTRACTS.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeGuard

from procflow.dossier import Dossier, DossierEvent
from procflow.store.base import AuditChainRow, BundleEventRow, CheckpointRow, OfficialRow, OutboxMessage, SimSample

__all__ = [
    "FEATURE_CONTRACTS",
    "ArmingWrites",
    "BundleRecords",
    "HashChainHead",
    "OfficialRecords",
    "ReplayLog",
    "SecureErase",
    "SimulationRecords",
    "VaultRecords",
    "writes_armings",
]


class BundleRecords(Protocol):
    """Liên thông bundles (``procflow.bundle``) beside the dossiers, on every backend.

    A bundle's record is a cache of its events (``procflow.bundle.records.replay_bundle``); both are opaque
    JSON text to the store, which keys them and checks the revision. Writes join the caller's transaction.
    """

    def bundle_definition_sources(self) -> list[tuple[str, int, str]]: ...

    def bundle_definition_hash(self, code: str, version: int) -> str | None: ...

    def add_bundle_definition(self, code: str, version: int, content_hash: str, source: str) -> None: ...

    def bundle_record(self, bundle_id: str) -> str | None: ...

    def bundle_records(self) -> Iterator[str]:
        """Every bundle's record, in id order."""
        ...

    def save_bundle(self, bundle_id: str, record: str, *, status: int, revision: int, event: BundleEventRow,
                    members: Mapping[str, str]) -> None:
        """Insert (``revision`` 1) or update the record iff the stored revision is ``revision - 1``, append
        ``event`` and the new ``members`` (name -> dossier id); a stale revision raises ``StoreError`` and
        writes nothing."""
        ...

    def bundle_events(self, bundle_id: str) -> list[BundleEventRow]: ...

    def bundle_member_of(self, dossier_id: str) -> tuple[str, str] | None:
        """``(bundle id, member name)`` of a member dossier, or None."""
        ...

    def bundle_membership(self, bundle_ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
        """``bundle id -> (status, member dossier ids)`` for the stored ones among ``bundle_ids``."""
        ...


class SimulationRecords(Protocol):
    """The simulator's checkpoint and backlog samples (``procflow.simulate``), written in the run's group
    commits so a killed run resumes from exactly what the store holds (``--resume``), on every backend."""

    def save_sim_checkpoint(self, fingerprint: str, state: str) -> None: ...

    def load_sim_checkpoint(self) -> tuple[str, str] | None:
        """``(fingerprint, state as JSON text)`` or None when no run saved one."""
        ...

    def add_sim_samples(self, rows: Sequence[SimSample]) -> None: ...

    def sim_samples(self) -> list[SimSample]: ...

    def add_sim_online(self, dossier_id: str) -> None:
        """Remember that a dossier was filed online (reports split received online / in person)."""
        ...

    def sim_online_ids(self) -> list[str]: ...

    def unreturned_dossier_ids(self) -> list[str]:
        """Ids of dossiers whose portal status is not 9 (processed) or 10 (returned)."""
        ...


class VaultRecords(Protocol):
    """The personal-data vault's rows (``procflow.privacy.vault``): one sealed blob per ``(dossier_id, seq)`` with its
    key id, and the HMAC index of national IDs. Writes join the caller's transaction. The vault seals and
    opens; the store only keeps bytes."""

    def put_vault_value(self, dossier_id: str, seq: int, key_id: str, blob: bytes) -> None:
        """Insert or replace the entry (clearing any erasure)."""
        ...

    def add_vault_index(self, digest: str, dossier_id: str, field: str) -> None: ...

    def vault_values(self, dossier_id: str, seqs: Sequence[int]) -> list[tuple[int, str, bytes | None]]:
        """``(seq, key id, blob or None once erased)`` of the entries found among ``seqs``."""
        ...

    def vault_index_lookup(self, digest: str) -> list[str]: ...

    def vault_live_entries(self, dossier_id: str) -> int: ...

    def vault_live_owners(self, prefix: str) -> list[str]:
        """Owner ids starting with ``prefix`` that still hold values, in id order."""
        ...

    def erase_vault(self, dossier_id: str, *, key_id: str, at: datetime) -> None:
        """Tombstone every live entry of the owner (value NULL, ``key_id``, ``at``) and drop its index rows."""
        ...

    def vault_key_usage(self) -> dict[str, int]: ...

    def record_vault_key(self, key_id: str) -> None:
        """The store needs ``key_id`` (it sealed a value here): ``procflow.privacy.vault.Vault.check_keys`` reads it."""
        ...

    def vault_key_ids(self, *, exclude: Sequence[str] = ()) -> list[str]: ...

    def forget_vault_key(self, key_id: str) -> None: ...

    def has_vault_index(self) -> bool: ...

    def vault_rows_under(self, key_ids: Sequence[str], *, after: tuple[str, int],
                         limit: int) -> list[tuple[str, int, str, bytes]]:
        """Live entries under one of ``key_ids`` after ``(dossier_id, seq)`` in key order (rotation)."""
        ...

    def reseal_vault_value(self, dossier_id: str, seq: int, *, old_key_id: str, key_id: str, blob: bytes) -> None:
        """Replace the blob iff the entry is still under ``old_key_id``."""
        ...


class HashChainHead(Protocol):
    """Where a dossier's hash chain stands (``procflow.privacy.hashchain``): the stored link of one event."""

    def event_hash(self, dossier_id: str, seq: int) -> bytes | None:
        """The stored hash of event ``seq`` (None: no such event, or written unchained)."""
        ...

    def logged_dossier_ids(self) -> list[str]:
        """Every dossier id the event log mentions (an orphaned log shows up even without a snapshot)."""
        ...


class AnchorRecords(Protocol):
    """The anchored log (``procflow.privacy.anchor``): the access audit's chain, each dossier's anchored head and the
    checkpoint chain. ``record_audit`` links each audit row to the previous one under the store's write lock."""

    def audit_chain(self) -> list[AuditChainRow]:
        """Every audit row with its link, in insertion order."""
        ...

    def audit_head(self) -> tuple[int, bytes | None]:
        """``(number of chained audit rows, hash of the last)`` — what a checkpoint anchors of the audit."""
        ...

    def chain_heads(self) -> Iterator[tuple[str, int, bytes | None]]:
        """``(dossier id, revision, hash of that event)`` of every stored dossier, in id order."""
        ...

    def anchor_heads(self) -> list[tuple[str, int, bytes]]:
        """The last anchored ``(dossier id, seq, head)`` of every dossier ever anchored, in id order."""
        ...

    def save_anchor_heads(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        """Insert or move forward the anchored heads (inside the checkpoint's transaction)."""
        ...

    def add_checkpoint(self, row: CheckpointRow) -> bool:
        """Append a checkpoint; False (nothing written) when its seq exists already (another leader took it)."""
        ...

    def checkpoints(self) -> list[CheckpointRow]:
        """The checkpoint chain in seq order."""
        ...

    def last_checkpoint(self) -> CheckpointRow | None:
        """The newest checkpoint (what the next one links to)."""
        ...

    def checkpoint_leader(self) -> AbstractContextManager[bool]:
        """True inside when this process may take checkpoints now (PostgreSQL: a session advisory lock, so one
        worker of many does; SQLite: always, its write lock serialises)."""
        ...


class ReplayLog(Protocol):
    """Message ids of imported envelopes (``procflow.exchange.transfer``): the replay guard. ``record_received``
    runs in the import's transaction, so the id commits with the dossier it brought, or neither does."""

    def record_received(self, message_id: str, *, at: datetime, sender: str | None = None,
                        dossier_id: str | None = None) -> bool:
        """True if ``message_id`` is new (and now recorded); False if it was recorded before."""
        ...

    def is_received(self, message_id: str) -> bool: ...

    def received_messages(self, dossier_id: str | None = None) -> list[tuple[str, str | None, str | None]]:
        """``(message id, sender, dossier id)`` in message-id order."""
        ...

    def forget_received_before(self, when: datetime) -> int: ...


class SecureErase(Protocol):
    """Erasing personal values (retention) so their bytes do not linger in the database file."""

    def secure_erase(self) -> AbstractContextManager[None]:
        """A scope inside which overwritten and deleted values are wiped where the backend can (SQLite's
        ``secure_delete``); PostgreSQL leaves old row versions to VACUUM."""
        ...


class ArmingWrites(Protocol):
    """A store that writes a state change's timer armings (``(name, fire_at, keep)``) in the same statement
    as its snapshot (``procflow.engine.eventwriter``), instead of a ``save_timers`` call in the same transaction."""

    writes_armings: bool

    def insert_dossier(self, dossier: Dossier, event: DossierEvent, outbox: Sequence[OutboxMessage], *,
                       arm: Sequence[tuple[str, datetime, bool]] = ()) -> None: ...

    def apply(self, dossier: Dossier, expected_revision: int, event: DossierEvent,
              outbox: Sequence[OutboxMessage], changed: frozenset[str], *,
              arm: Sequence[tuple[str, datetime, bool]] = ()) -> None: ...


def writes_armings(store: object) -> TypeGuard[ArmingWrites]:
    """True when ``store`` says it writes armings with the snapshot (its ``writes_armings`` flag)."""
    return bool(getattr(store, "writes_armings", False))


class OfficialRecords(Protocol):
    """The officials directory (``procflow.privacy.directory``): who is who, their roles and delegations. Rows are
    opaque to the store (``OfficialRow``); writes join the caller's transaction, so a whole import or a
    change and its audit entry commit together."""

    def save_officials(self, rows: Sequence[OfficialRow]) -> None:
        """Insert or replace each row by id, in one statement batch (the simulator registers thousands)."""
        ...

    def official_row(self, official_id: str) -> OfficialRow | None: ...

    def official_rows(self) -> list[OfficialRow]:
        """Every official, in id order."""
        ...

    def official_count(self) -> int: ...


FEATURE_CONTRACTS: tuple[type, ...] = (VaultRecords, BundleRecords, SimulationRecords, HashChainHead, ReplayLog,
                                       SecureErase, OfficialRecords, AnchorRecords)

