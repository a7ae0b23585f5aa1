"""The store contract every backend honours (SQLite by default; PostgreSQL when one machine is not enough)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeGuard

import attrs

from procflow.dossier import Dossier, DossierEvent

__all__ = [
    "FEATURE_CONTRACTS",
    "ArmingWrites",
    "AuditEntry",
    "BundleEventRow",
    "BundleRecords",
    "HashChainHead",
    "OfficialRecords",
    "OfficialRow",
    "OutboxMessage",
    "ReplayLog",
    "SecureErase",
    "SimSample",
    "SimulationRecords",
    "Store",
    "TimerRecord",
    "VaultRecords",
    "open_store",
    "writes_armings",
]

# (seq, at as ISO text, kind, portal status, actor, effects as JSON text): one bundle event as stored
BundleEventRow = tuple[int, str, str, int, str, str]
# (id, name, agency, roles as JSON list, valid from, valid to (ISO dates or None), acts for as JSON list,
# credential digest or None): one official of the directory (procflow.directory), opaque to the store
OfficialRow = tuple[str, str, str, str, str | None, str | None, str, str | None]
# (at as ISO text, agency or "*" for the province, open, overdue, paused): one simulator backlog sample
SimSample = tuple[str, str, int, int, int]


@attrs.frozen
class OutboxMessage:
    """An external effect to deliver after the transition commits. ``key`` is the idempotency key."""

    topic: str
    key: str
    dossier_id: str
    payload: dict[str, Any]


@attrs.frozen
class AuditEntry:
    at: datetime
    actor: str
    agency: str
    dossier_id: str | None
    action: str
    outcome: str
    detail: str = ""
    purpose: str = ""  # why a dossier was read (access audit); empty for refusals of writes


@attrs.frozen
class AuditChainRow:
    """One access-audit row with its link (``prev_hash``/``hash`` None: written before the audit was chained)."""

    id: int
    entry: AuditEntry
    prev_hash: bytes | None
    hash: bytes | None


@attrs.frozen
class CheckpointRow:
    """One signed checkpoint (``procflow.anchor``): ``body`` is canonical JSON, opaque to the store;
    ``digest`` its SHA-256, ``signature`` Ed25519 over the digest by checkpoint key ``key_id``."""

    seq: int
    at: str
    kind: str
    body: str
    digest: bytes
    key_id: str | None
    signature: bytes | None


@attrs.frozen
class TimerRecord:
    """One arming of one timer of one dossier, as queued: the row the scheduler works from.

    ``armed_seq`` is the dossier revision whose event armed it: a re-armed timer is a new arming, so the
    idempotency keys of its effects differ from the previous one's. ``keep``: a due timer shifted by a
    PAUSE resume, which does not fire again if it already fired for the same deadline.
    """

    dossier_id: str
    name: str
    fire_at: datetime
    armed_seq: int
    state: str = ""  # not queued: the arming event's state (``procflow.scheduler.armed_timers`` has it)
    status: str = "armed"
    fired_at: datetime | None = None
    keep: bool = False
    id: int | None = attrs.field(default=None, eq=False)  # the queue row's key where the backend has one (SQLite)


class Store(Protocol):
    """What the engine needs from a backend. Every write method is atomic on its own; ``batch`` groups many."""

    def register_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        """Remember a definition version; refuse the same (code, version) with different content."""
        ...

    def definition_sources(self) -> list[tuple[str, int, str]]: ...

    def next_sequence(self, agency: str, day: str) -> int:
        """The next receipt number for an agency on a day (part of the dossier code)."""
        ...

    def insert_dossier(self, dossier: Dossier, event: DossierEvent, outbox: Sequence[OutboxMessage]) -> None: ...

    def apply(
        self,
        dossier: Dossier,
        expected_revision: int,
        event: DossierEvent,
        outbox: Sequence[OutboxMessage],
        changed: frozenset[str],
    ) -> None:
        """Write the new snapshot if the stored revision is still ``expected_revision``, with its event and
        outbox rows, in one transaction; otherwise raise ``ConcurrencyConflict`` and write nothing.
        ``changed`` names the optional columns that changed (sla, step_due_at, data, agencies)."""
        ...

    def get(self, dossier_id: str) -> Dossier: ...

    def events(self, dossier_id: str) -> list[DossierEvent]: ...

    def dossier_ids(self) -> list[str]: ...

    def iter_dossiers(self) -> Iterator[Dossier]: ...

    def count_dossiers(self) -> int: ...

    def outbox(self, *, status: str | None = None) -> list[dict[str, Any]]: ...

    # -- outbox claim/lease (delivery workers; implemented by every backend) ------------------------------
    # Rows are dicts with the outbox columns: id, topic, key, dossier_id, payload (dict), created_at,
    # status ('pending' | 'delivered' | 'dead'), attempts, available_at, claimed_by, lease_until, last_error,
    # delivered_at. A claim takes due, pending rows whose lease is absent or expired, sets claimed_by and
    # lease_until, and returns them (PostgreSQL: FOR UPDATE SKIP LOCKED). A worker killed mid-claim loses
    # its lease when lease_until passes, and another worker takes the row.

    def claim_outbox(self, worker: str, *, now: datetime, limit: int = 100, lease_seconds: float = 60.0,
                     topics: Sequence[str] | None = None) -> list[dict[str, Any]]: ...

    def complete_outbox(self, message_id: int, worker: str, *, now: datetime) -> bool:
        """Mark delivered iff still claimed by ``worker``; False means the lease was lost."""
        ...

    def fail_outbox(self, message_id: int, worker: str, *, now: datetime, error: str,
                    retry_at: datetime | None) -> bool:
        """Record a failed attempt: back to pending at ``retry_at``, or dead (``retry_at`` None)."""
        ...

    def requeue_dead(self, message_ids: Sequence[int] | None, *, now: datetime) -> int: ...

    def release_outbox(self, worker: str, message_ids: Sequence[int] | None = None) -> int:
        """Give back claimed, undelivered rows at once (graceful shutdown) instead of waiting out the lease."""
        ...

    def enqueue_outbox(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """Insert messages no state change caused (reconciliation corrections); a key already present is
        skipped, so enqueueing the same correction twice never delivers it twice. ``attempts`` counts
        failed attempts."""
        ...

    def outbox_counts(self) -> dict[str, int]: ...

    # -- timers (procflow.timers gives the meaning; procflow.scheduler fires them) -------------------------
    def save_timers(self, dossier_id: str, *, seq: int, state: str,
                    arm: Sequence[tuple[str, datetime, bool]] = (), cancel: Sequence[str] = (),
                    pause: Sequence[str] = ()) -> None:
        """Queue a state change's armings (called inside its transaction): each ``(name, fire_at, keep)`` of
        ``arm`` as armed by event ``seq`` in ``state``. ``cancel`` and ``pause`` write nothing: the event is
        their record, and the scheduler drops an arming the log shows cancelled when it falls due."""
        ...

    def due_timers(self, *, now: datetime, limit: int = 500) -> list[TimerRecord]:
        """Inside the caller's transaction, take up to ``limit`` queued armings with ``fire_at <= now`` in due
        order. PostgreSQL locks each with its dossier (``FOR UPDATE … SKIP LOCKED``): concurrent schedulers
        take disjoint timers and a killed one's locks vanish with its connection; SQLite's write lock
        serialises schedulers. The caller settles each with ``finish_timer`` before committing."""
        ...

    def finish_timer(self, timer: TimerRecord, *, outcome: str, action: str, at: datetime, worker: str,
                     detail: str = "") -> None:
        """Take the arming off the queue and append its outcome to the timer log, whose unique key refuses a
        second outcome for one arming: fired | discarded (the engine refused its fire) | cancelled (the
        dossier moved on, or re-armed it, before it fell due: nothing else happened) | failed."""
        ...

    def timers(self, *, dossier_id: str | None = None, statuses: Sequence[str] | None = ("armed", "paused"),
               due_before: datetime | None = None, limit: int | None = None) -> list[TimerRecord]:
        """Queued armings in due order (cancelled ones are still there until they fall due): raw rows for
        ``procflow timers``; ``procflow.scheduler.armed_timers`` gives a dossier's live timers."""
        ...

    def timer_log(self, *, dossier_id: str | None = None) -> list[dict[str, Any]]: ...

    def timer_counts(self) -> dict[tuple[str, str, str], int]:
        """Outcomes so far: ``(timer name, action, outcome) -> count`` from the timer log."""
        ...

    def due_recount_pending(self) -> list[str]:
        """Ids of dossiers written before the Civil Code counting whose deadline is not recounted yet."""
        ...

    def mark_due_recounted(self, dossier_id: str, *, at: datetime) -> None:
        """Inside the caller's transaction: the dossier's deadline is recounted (or needs no recount)."""
        ...

    def record_audit(self, entry: AuditEntry) -> None:
        """Audit a refusal (or a read) in its own transaction: the dossier itself is never touched."""
        ...

    def audit(self, *, dossier_id: str | None = None, actor: str | None = None) -> list[AuditEntry]: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group commit: everything inside commits together (or not at all). Durability is unchanged
        for the batch as a whole; use it for bulk work and simulation."""
        ...

    def close(self) -> None: ...


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
    """The personal-data vault's rows (``procflow.vault``): one sealed blob per ``(dossier_id, seq)`` with its
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
        """The store needs ``key_id`` (it sealed a value here): ``procflow.vault.Vault.check_keys`` reads it."""
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
    """Where a dossier's hash chain stands (``procflow.hashchain``): the stored link of one event."""

    def event_hash(self, dossier_id: str, seq: int) -> bytes | None:
        """The stored hash of event ``seq`` (None: no such event, or written unchained)."""
        ...

    def logged_dossier_ids(self) -> list[str]:
        """Every dossier id the event log mentions (an orphaned log shows up even without a snapshot)."""
        ...


class AnchorRecords(Protocol):
    """The anchored log (``procflow.anchor``): the access audit's chain, each dossier's anchored head and the
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
    as its snapshot (``procflow.eventwriter``), instead of a ``save_timers`` call in the same transaction."""

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
    """The officials directory (``procflow.directory``): who is who, their roles and delegations. Rows are
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
"""The sub-contracts every full backend (SQLite, PostgreSQL) keeps beside ``Store`` (the contract suite checks)."""


def open_store(url: str | None = None, **options: Any) -> Store:
    """Open a store from a URL: a bare path or ``sqlite:///path`` (default ``:memory:``), or
    ``postgresql://…`` (needs the ``postgres`` extra)."""
    if url is None:
        url = ":memory:"
    if not url.strip():
        from procflow.errors import StoreError

        raise StoreError("empty store location: name a SQLite file, a postgresql:// URL, or ':memory:'")
    if url.startswith(("postgresql://", "postgres://")):
        from procflow.store.postgres import PostgresStore

        return PostgresStore(url, **options)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///"):] or ":memory:"
    elif url.startswith("sqlite://"):
        url = url[len("sqlite://"):] or ":memory:"
    from procflow.store.sqlite import SQLiteStore

    return SQLiteStore(url, **options)
