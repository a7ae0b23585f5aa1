"""SQLite's side of the anchored log (``procflow.store.contracts.AnchorRecords``): the access audit's chained rows,
each dossier's anchored head, and the signed checkpoints. A mixin of ``SQLiteStore``; statements run on the
store's connection, inside the caller's transaction (SQLite's write lock makes one checkpointer at a time)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from procflow.privacy.hashchain import GENESIS, audit_link
from procflow.store.base import AuditChainRow, AuditEntry, CheckpointRow

__all__ = ["SQLiteAnchor"]


class SQLiteAnchor:
    _db: Any  # the SQLiteStore's connection


    def _insert_audit(self, entry: AuditEntry) -> None:
        """Insert one audit row linked to the last one (inside the caller's write transaction)."""
        row = self._db.execute("SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        prev = bytes(row[0]) if row is not None else GENESIS
        h = audit_link(prev, entry.at, entry.actor, entry.agency, entry.dossier_id, entry.action, entry.outcome,
                       entry.detail, entry.purpose)
        self._db.execute("INSERT INTO audit (at, actor, agency, dossier_id, action, outcome, detail, purpose, "
                         "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (entry.at.isoformat(), entry.actor, entry.agency, entry.dossier_id, entry.action,
                          entry.outcome, entry.detail, entry.purpose, prev, h))

    def audit_chain(self) -> list[AuditChainRow]:
        return [AuditChainRow(r[0], AuditEntry(datetime.fromisoformat(r[1]), *r[2:9]),
                              None if r[9] is None else bytes(r[9]), None if r[10] is None else bytes(r[10]))
                for r in self._db.execute("SELECT id, at, actor, agency, dossier_id, action, outcome, detail, "
                                          "purpose, prev_hash, hash FROM audit ORDER BY id")]

    def audit_head(self) -> tuple[int, bytes | None]:
        n, h = self._db.execute("SELECT count(hash), (SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC "
                                "LIMIT 1) FROM audit").fetchone()
        return int(n), None if h is None else bytes(h)

    def chain_heads(self) -> Iterator[tuple[str, int, bytes | None]]:
        for did, seq, h in self._db.execute(
                "SELECT d.id, d.revision, e.hash FROM dossiers d LEFT JOIN events e "
                "ON e.dossier_id = d.id AND e.seq = d.revision ORDER BY d.id"):
            yield did, int(seq), None if h is None else bytes(h)

    def anchor_heads(self) -> list[tuple[str, int, bytes]]:
        return [(r[0], int(r[1]), bytes(r[2])) for r in
                self._db.execute("SELECT dossier_id, seq, head FROM anchor_heads ORDER BY dossier_id")]

    def save_anchor_heads(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        self._db.executemany("INSERT INTO anchor_heads VALUES (?,?,?) ON CONFLICT (dossier_id) DO UPDATE "
                             "SET seq = excluded.seq, head = excluded.head", rows)

    def add_checkpoint(self, row: CheckpointRow) -> bool:
        return self._db.execute(
            "INSERT INTO checkpoints VALUES (?,?,?,?,?,?,?) ON CONFLICT (seq) DO NOTHING RETURNING seq",
            (row.seq, row.at, row.kind, row.body, row.digest, row.key_id, row.signature)).fetchone() is not None

    def checkpoints(self) -> list[CheckpointRow]:
        return [CheckpointRow(int(r[0]), r[1], r[2], r[3], bytes(r[4]), r[5], None if r[6] is None else bytes(r[6]))
                for r in self._db.execute("SELECT seq, at, kind, body, digest, key_id, signature FROM checkpoints "
                                          "ORDER BY seq")]

    def last_checkpoint(self) -> CheckpointRow | None:
        r = self._db.execute("SELECT seq, at, kind, body, digest, key_id, signature FROM checkpoints "
                             "ORDER BY seq DESC LIMIT 1").fetchone()
        return None if r is None else CheckpointRow(int(r[0]), r[1], r[2], r[3], bytes(r[4]), r[5],
                                                    None if r[6] is None else bytes(r[6]))

    @contextmanager
    def checkpoint_leader(self) -> Iterator[bool]:
        """Always the leader: the checkpoint's write transaction takes SQLite's one write lock."""
        yield True
