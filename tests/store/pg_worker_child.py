"""One worker process of the multi-worker test: what ``procflow worker --db postgresql://…`` runs (the
``DeliveryWorker`` loop over ``PostgresStore``'s claim/lease primitive), with one adapter plugin that
"delivers" national-portal status messages to an idempotent receiver: a table keyed by the idempotency key
that counts attempts, plus a log of every hand-over. It stops when nothing is left to deliver, or on SIGTERM.

    python pg_worker_child.py URL SCHEMA WORKER LEASE_SECONDS BATCH DELAY_SECONDS
"""

from __future__ import annotations

import json
import signal
import sys
import time

import psycopg

from procflow.hookspecs import hookimpl
from procflow.plugins import make_plugin_manager
from procflow.store.postgres import PostgresStore
from procflow.workers.delivery import DeliveryWorker


class Receiver:
    """The portal's side: applying a message twice has the effect of applying it once."""

    def __init__(self, url: str, schema: str, worker: str, delay: float) -> None:
        self.conn = psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}")
        self.worker = worker
        self.delay = delay

    @hookimpl
    def procflow_deliver_status_sync(self, message, timeout):  # type: ignore[no-untyped-def]
        if self.delay:
            time.sleep(self.delay)
        self.conn.execute(
            "WITH r AS (INSERT INTO receipts (key, first_worker) VALUES (%(k)s, %(w)s) ON CONFLICT (key)"
            " DO UPDATE SET attempts = receipts.attempts + 1 RETURNING 1)"
            " INSERT INTO deliveries (key, worker) VALUES (%(k)s, %(w)s)",
            {"k": message.key, "w": self.worker}, prepare=True)
        return message.key


def main() -> None:
    url, schema, worker = sys.argv[1:4]
    lease, batch, delay = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    store = PostgresStore(url, schema=schema, pool_size=1, migrate=False)
    receiver = Receiver(url, schema, worker, delay)
    pm = make_plugin_manager(load_entrypoints=False, plugins=[receiver])
    w = DeliveryWorker(store, pm, worker_id=worker, lease_seconds=lease, batch_size=batch,
                       timeout=lease / (batch + 1), poll_interval=0.05)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())

    def nothing_left() -> bool:
        return store._execute("SELECT count(*) FROM outbox WHERE status = 'pending'")[0][0] == 0

    print("ready", flush=True)
    stats = w.run(until=nothing_left)
    print(json.dumps({"worker": worker, **stats.to_dict()}), flush=True)
    receiver.conn.close()
    store.close()


if __name__ == "__main__":
    main()
