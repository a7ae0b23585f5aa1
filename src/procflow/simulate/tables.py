"""The simulator's own records: its checkpoint and the backlog it samples, written in the run's transactions.

A checkpoint is written inside each group commit, so the store never holds dossiers the checkpoint does not
know about, nor the reverse: a run killed at any moment resumes from the last commit and ends with the same
store as a run that was never killed. Backlog samples ride in the same transactions for the same reason.

The rows live in the store's own tables (``procflow.store.contracts.SimulationRecords``, on SQLite and
PostgreSQL alike); a store without them (the parallel simulator's partition store) runs without
checkpoints and keeps samples in memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from procflow.store.base import SimSample

__all__ = ["SimTables"]

Sample = SimSample  # (at, agency or "*" for the province, open, overdue, paused)


class SimTables:
    def __init__(self, store: Any) -> None:
        self.store = store

    @classmethod
    def of(cls, store: Any) -> SimTables | None:
        return cls(store) if callable(getattr(store, "save_sim_checkpoint", None)) else None

    @staticmethod
    def has_checkpoint(path: str) -> bool:
        """Whether a SQLite file holds a simulator checkpoint (read-only look, no schema created)."""
        from procflow.store.sqlite import sqlite_has_checkpoint

        return sqlite_has_checkpoint(path)

    def save_checkpoint(self, fingerprint: str, state: dict[str, Any]) -> None:
        self.store.save_sim_checkpoint(fingerprint, json.dumps(state, separators=(",", ":")))

    def save_checkpoint_text(self, fingerprint: str, text: str) -> None:
        """The state already as JSON text (the checkpoint assembles its pending tasks from cached parts)."""
        self.store.save_sim_checkpoint(fingerprint, text)

    def load_checkpoint(self) -> tuple[str, dict[str, Any]] | None:
        found = self.store.load_sim_checkpoint()
        return None if found is None else (found[0], json.loads(found[1]))

    def add_samples(self, rows: Sequence[Sample]) -> None:
        self.store.add_sim_samples(rows)

    def add_online(self, dossier_id: str) -> None:
        """Which dossiers were filed online (the official reporting table splits received online / in person)."""
        self.store.add_sim_online(dossier_id)

    def online_ids(self) -> set[str]:
        return set(self.store.sim_online_ids())

    def samples(self) -> list[Sample]:
        return list(self.store.sim_samples())
