"""The store contract every backend honours (SQLite by default; PostgreSQL when one machine is not enough)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import attrs

from procflow.dossier import Dossier, DossierEvent

__all__ = [
    "AuditEntry",
    "BundleEventRow",
    "OfficialRow",
    "OutboxMessage",
    "SimSample",
    "Store",
    "TimerRecord",
    "open_store",
]

# (seq, at as ISO text, kind, portal status, actor, effects as JSON text): one bundle event as stored
BundleEventRow = tuple[int, str, str, int, str, str]
# (id, name, agency, roles as JSON list, valid from, valid to (ISO dates or None), acts for as JSON list,
# credential digest or None): one official of the directory (procflow.privacy.directory), opaque to the store
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
    """One signed checkpoint (``procflow.privacy.anchor``): ``body`` is canonical JSON, opaque to the store;
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
    state: str = ""  # not queued: the arming event's state (``procflow.workers.timerstate.armed_timers`` has it)
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

    # -- timers (procflow.engine.timers gives the meaning; procflow.workers.scheduler fires them) ----------------------
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
        ``procflow timers``; ``procflow.workers.timerstate.armed_timers`` gives a dossier's live timers."""
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
