"""The simulator's own tables: its checkpoint and the backlog it samples, written in the run's transactions.

A checkpoint is written inside each group commit, so the store never holds dossiers the checkpoint does not
know about, nor the reverse: a run killed at any moment resumes from the last commit and ends with the same
store as a run that was never killed. Backlog samples ride in the same transactions for the same reason.

Only the SQLite store offers a connection to put them on (``execute``); until the store protocol has a
record API, other backends run without checkpoints (no ``--resume``) and keep samples in memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["SimTables"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sim_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint TEXT NOT NULL,"
    " state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sim_backlog (at TEXT NOT NULL, agency TEXT NOT NULL, open INTEGER NOT NULL,"
    " overdue INTEGER NOT NULL, paused INTEGER NOT NULL, PRIMARY KEY (at, agency)) WITHOUT ROWID",
    # which dossiers were filed online (the official reporting table splits received online / in person)
    "CREATE TABLE IF NOT EXISTS sim_online (dossier_id TEXT PRIMARY KEY) WITHOUT ROWID",
)

Sample = tuple[str, str, int, int, int]  # (at, agency or "*" for the province, open, overdue, paused)


class SimTables:
    def __init__(self, store: Any) -> None:
        self.sql = store.execute
        with store.transaction():
            for stmt in _SCHEMA:
                self.sql(stmt)

    @classmethod
    def of(cls, store: Any) -> SimTables | None:
        from procflow.store.sqlite import SQLiteStore

        return cls(store) if isinstance(store, SQLiteStore) else None

    @staticmethod
    def has_checkpoint(path: str) -> bool:
        """Whether a SQLite file holds a simulator checkpoint (read-only look, no schema created)."""
        import os
        import sqlite3

        if path == ":memory:" or not os.path.exists(path):
            return False
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT 1 FROM sqlite_master WHERE name='sim_checkpoint'").fetchone() is not None and \
                db.execute("SELECT 1 FROM sim_checkpoint").fetchone() is not None
        except sqlite3.DatabaseError:
            return False
        finally:
            db.close()

    def save_checkpoint(self, fingerprint: str, state: dict[str, Any]) -> None:
        self.sql("INSERT INTO sim_checkpoint VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                 "fingerprint=excluded.fingerprint, state=excluded.state",
                 (fingerprint, json.dumps(state, separators=(",", ":"))))

    def load_checkpoint(self) -> tuple[str, dict[str, Any]] | None:
        rows = self.sql("SELECT fingerprint, state FROM sim_checkpoint WHERE id = 1")
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    def add_samples(self, rows: Sequence[Sample]) -> None:
        for row in rows:
            self.sql("INSERT OR REPLACE INTO sim_backlog VALUES (?,?,?,?,?)", row)

    def add_online(self, dossier_id: str) -> None:
        self.sql("INSERT OR IGNORE INTO sim_online VALUES (?)", (dossier_id,))

    def online_ids(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT dossier_id FROM sim_online")}

    def samples(self) -> list[Sample]:
        return [tuple(r) for r in self.sql("SELECT at, agency, open, overdue, paused FROM sim_backlog "  # type: ignore[misc]
                                           "ORDER BY at, agency")]
