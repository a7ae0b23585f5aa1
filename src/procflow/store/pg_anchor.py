"""PostgreSQL's side of the anchored log (``procflow.store.contracts.AnchorRecords``), the same tables as SQLite's.
A mixin of ``PostgresStore``. Two advisory locks, both keyed by the schema so stores in one database do not
block each other: a transaction-scoped one orders the access audit's chain (two sessions auditing at once
must not both link to the same previous row), and a session-scoped try-lock elects one checkpoint leader
among many workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from procflow.privacy.hashchain import GENESIS, audit_link
from procflow.store.base import AuditChainRow, AuditEntry, CheckpointRow

__all__ = ["PostgresAnchor"]

_AUDIT_LOCK = "SELECT pg_advisory_xact_lock(hashtext('procflow-audit-chain:' || current_schema()))"
_LEADER_TRY = "SELECT pg_try_advisory_lock(hashtext('procflow-checkpoint:' || current_schema()))"
_LEADER_END = "SELECT pg_advisory_unlock(hashtext('procflow-checkpoint:' || current_schema()))"


class PostgresAnchor:
    def _conn(self) -> Any: ...  # PostgresStore's (pinned, per thread)

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError  # PostgresRecords'

    def transaction(self) -> Any: ...

    def _insert_audit(self, entry: AuditEntry) -> None:
        """Insert one audit row linked to the last one, in its own (or the caller's) transaction."""
        with self.transaction():
            conn = self._conn()
            conn.execute(_AUDIT_LOCK)
            row = conn.execute("SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
            prev = bytes(row[0]) if row is not None else GENESIS
            h = audit_link(prev, entry.at, entry.actor, entry.agency, entry.dossier_id, entry.action, entry.outcome,
                           entry.detail, entry.purpose)
            conn.execute("INSERT INTO audit (at, actor, agency, dossier_id, action, outcome, detail, purpose, "
                         "prev_hash, hash) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (entry.at, entry.actor, entry.agency, entry.dossier_id, entry.action, entry.outcome,
                          entry.detail, entry.purpose, prev, h))

    def audit_chain(self) -> list[AuditChainRow]:
        return [AuditChainRow(r[0], AuditEntry(*r[1:9]), None if r[9] is None else bytes(r[9]),
                              None if r[10] is None else bytes(r[10]))
                for r in self._rows("SELECT id, at, actor, agency, dossier_id, action, outcome, detail, purpose, "
                                    "prev_hash, hash FROM audit ORDER BY id")]

    def audit_head(self) -> tuple[int, bytes | None]:
        n, h = self._rows("SELECT count(hash), (SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC "
                          "LIMIT 1) FROM audit")[0]
        return int(n), None if h is None else bytes(h)

    def chain_heads(self) -> Iterator[tuple[str, int, bytes | None]]:
        for did, seq, h in self._rows(
                "SELECT d.id, d.revision, e.hash FROM dossiers d LEFT JOIN events e "
                "ON e.dossier_id = d.id AND e.seq = d.revision ORDER BY d.id COLLATE \"C\""):
            yield did, int(seq), None if h is None else bytes(h)

    def anchor_heads(self) -> list[tuple[str, int, bytes]]:
        return [(r[0], int(r[1]), bytes(r[2])) for r in
                self._rows("SELECT dossier_id, seq, head FROM anchor_heads ORDER BY dossier_id COLLATE \"C\"")]

    def save_anchor_heads(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        if rows:
            with self._conn().cursor() as cur:
                cur.executemany("INSERT INTO anchor_heads VALUES (%s,%s,%s) ON CONFLICT (dossier_id) DO UPDATE "
                                "SET seq = excluded.seq, head = excluded.head", rows)

    def add_checkpoint(self, row: CheckpointRow) -> bool:
        return bool(self._rows(
            "INSERT INTO checkpoints VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (seq) DO NOTHING RETURNING seq",
            (row.seq, row.at, row.kind, row.body, row.digest, row.key_id, row.signature)))

    def checkpoints(self) -> list[CheckpointRow]:
        return [CheckpointRow(int(r[0]), r[1], r[2], r[3], bytes(r[4]), r[5], None if r[6] is None else bytes(r[6]))
                for r in self._rows("SELECT seq, at, kind, body, digest, key_id, signature FROM checkpoints "
                                    "ORDER BY seq")]

    def last_checkpoint(self) -> CheckpointRow | None:
        rows = self._rows("SELECT seq, at, kind, body, digest, key_id, signature FROM checkpoints "
                          "ORDER BY seq DESC LIMIT 1")
        if not rows:
            return None
        r = rows[0]
        return CheckpointRow(int(r[0]), r[1], r[2], r[3], bytes(r[4]), r[5], None if r[6] is None else bytes(r[6]))

    @contextmanager
    def checkpoint_leader(self) -> Iterator[bool]:
        """A session advisory try-lock: the one worker holding it checkpoints; the others skip this round (a
        killed leader's lock goes with its connection, and the next round elects another)."""
        conn = self._conn()
        got = bool(conn.execute(_LEADER_TRY).fetchone()[0])
        try:
            yield got
        finally:
            if got and not conn.closed:
                conn.execute(_LEADER_END)
