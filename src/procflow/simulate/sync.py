"""Portal status sync inside a simulated run: outbox rows delivered to an idempotent receiver.

With ``Scenario.portal_sync`` every status change writes a ``portal.status`` outbox row in its transaction
(the adapter SDK's standard topic). After each group commit — outside any transaction, as invariant 5
requires — the pump claims due rows, hands them to the receiver and marks them delivered. A run killed
between the receiver's commit and ``complete_outbox`` delivers those rows again after it restarts; the
receiver recognises the idempotency key and applies each message once. While the simulated portal is down
(``portal-down`` fault) deliveries fail and are retried when it is back.

``FileReceiver`` is such a receiver in a SQLite file of its own: the crash test reads it from outside.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from procflow.engine.outbox import STATUS_SYNC

if TYPE_CHECKING:
    from procflow.simulate.runner import Simulator

__all__ = ["FileReceiver", "Receiver", "SyncPump"]


class Receiver(Protocol):
    def receive(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Apply each message once per ``key``; a key seen before is acknowledged, not applied again."""
        ...


class FileReceiver:
    """An idempotent receiver that keeps what it got in a SQLite file (one transaction per batch).

    ``deliveries`` counts every attempt, so a test sees redeliveries; ``received`` holds each key once.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS received (key TEXT PRIMARY KEY, topic TEXT NOT NULL,"
                         " dossier_id TEXT NOT NULL, payload TEXT NOT NULL, deliveries INTEGER NOT NULL)")

    def receive(self, messages: Sequence[Mapping[str, Any]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for m in messages:
                self._db.execute(
                    "INSERT INTO received VALUES (?,?,?,?,1) ON CONFLICT (key) DO UPDATE SET deliveries=deliveries+1",
                    (m["key"], m["topic"], m["dossier_id"], json.dumps(m["payload"], sort_keys=True)))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def keys(self) -> dict[str, int]:
        """Every key received, with how many times it was delivered."""
        return dict(self._db.execute("SELECT key, deliveries FROM received"))

    def close(self) -> None:
        self._db.close()


class SyncPump:
    """Delivers the run's outbox after each commit; ``after_commit`` for :class:`Simulator`."""

    def __init__(self, receiver: Receiver, *, batch: int = 1000, lease_seconds: float = 600.0) -> None:
        self.receiver = receiver
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.worker = f"sim-sync-{os.getpid()}"
        self.delivered = 0
        self.failed = 0

    def __call__(self, sim: Simulator, final: bool) -> None:
        store = sim.engine.store
        now = sim.engine.clock.now()
        if final:  # the run is over: claims a killed run left behind have expired by now
            now = max(now, sim.end) + timedelta(seconds=self.lease_seconds + 1)
        while True:
            rows = store.claim_outbox(self.worker, now=now, limit=self.batch, lease_seconds=self.lease_seconds,
                                      topics=[STATUS_SYNC])
            if not rows:
                return
            back = sim.plan.portal_back(now.timestamp())
            if back is not None:
                retry = datetime.fromtimestamp(back, sim.cal.tz)
                for row in rows:
                    store.fail_outbox(row["id"], self.worker, now=now, error="portal unreachable", retry_at=retry)
                    self.failed += 1
                if not final:
                    return
                now = retry  # at the end, wait the outage out (simulated time costs nothing)
                continue
            self.receiver.receive(rows)
            with store.transaction():
                for row in rows:
                    store.complete_outbox(row["id"], self.worker, now=now)
            self.delivered += len(rows)
