"""Delivery throughput: one ``DeliveryWorker`` sending ``portal.status`` messages over HTTP to the portal
simulator on 127.0.0.1 (each message is two portal calls: ``DongBoHoSoMC`` + ``CapNhatTienDoHoSoMC``).
The simulator runs in its own process, so it does not share the worker's interpreter lock.

    python benchmarks/bench_delivery.py                 # 2,000 messages, concurrency 1 / 4 / 8
    python benchmarks/bench_delivery.py --fail-rate 0.3 # the same with 30 % of portal calls failing

Baseline: the portal's own cost, i.e. the same calls made in a bare loop by the adapter's client with no
store, no claims and no bookkeeping; the ratio says what the outbox machinery adds. Needs
``pip install ./plugins/procflow-portal-http``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from procflow_portal_http import PortalClient, PortalPlugin

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.jurisdiction import Registry
from procflow.plugins import make_plugin_manager
from procflow.store.base import OutboxMessage
from procflow.store.sqlite import SQLiteStore
from procflow.workers.delivery import DeliveryWorker

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789"}


def sample_messages(n: int) -> list[OutboxMessage]:
    """``n`` realistic status messages from a real engine (births received, then accepted)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(str(Path(tmp) / "src.db"))
        clock = FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=VN))
        registry = Registry.default()
        engine = Engine(store, registry=registry, clock=clock, outbox_rules=[topic_rule([status_sync_topic(store)])])
        for d in bundled_definitions():
            engine.register(d)
        communes = registry.communes_of("92")
        from procflow.testing.directory import enrol

        enrol(engine, *(Actor(f"desk@{c.code}", c.code, {"one_stop_officer"}) for c in communes))
        with engine.batch():
            for i in range(n // 2):
                code = communes[i % len(communes)].code
                desk = Actor(f"desk@{code}", code, {"one_stop_officer"})
                d = engine.file("1.001193", filed_at=code, actor=desk, data=CHILD)
                clock.advance(timedelta(seconds=5))
                engine.fire(d, "accept", desk)
        rows = store.outbox()
        store.close()
    return [OutboxMessage(r["topic"], r["key"], r["dossier_id"], r["payload"]) for r in rows]


@contextlib.contextmanager
def portal_process(*, fail_rate: float = 0.0, hang: float = 1.0) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "procflow_portal_http", "--port", str(port),
                             "--fail-rate", str(fail_rate), "--hang", str(hang)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "portal simulator on ..." once it listens
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def baseline(url: str, messages: list[OutboxMessage]) -> float:
    client = PortalClient(url, username="procflow", password="procflow", agency_code="X")
    t0 = time.perf_counter()
    for m in messages:
        client.sync(m.payload, key=f"baseline:{m.key}", timeout=5)
    elapsed = time.perf_counter() - t0
    client.close()
    return len(messages) / elapsed


def worker_rate(messages: list[OutboxMessage], *, concurrency: int, fail_rate: float, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp, portal_process(fail_rate=fail_rate, hang=timeout * 4) as url:
        store = SQLiteStore(str(Path(tmp) / "outbox.db"))
        store.enqueue_outbox(messages, now=datetime.now(VN))
        plugin = PortalPlugin(url, username="procflow", password="procflow", agency_code="X")
        worker = DeliveryWorker(store, make_plugin_manager(load_entrypoints=False, plugins=[plugin]),
                                concurrency=concurrency, batch_size=16 * concurrency, timeout=timeout,
                                base_delay=0.0, max_delay=0.0, jitter=0.0, max_attempts=50,
                                lease_seconds=600, rng=random.Random(1))
        t0 = time.perf_counter()
        while store.outbox_counts()["pending"]:
            worker.drain()
        elapsed = time.perf_counter() - t0
        worker.close()
        plugin.close()
        counts = store.outbox_counts()
        store.close()
        return {"concurrency": concurrency, "fail_rate": fail_rate, "messages": len(messages),
                "delivered": counts["delivered"], "seconds": round(elapsed, 2),
                "messages_per_s": round(len(messages) / elapsed, 1), "retried": worker.stats.retried}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=0.05)
    args = ap.parse_args()
    messages = sample_messages(args.messages)
    with portal_process() as url:
        base = baseline(url, messages[:1000])
    results = [worker_rate(messages, concurrency=c, fail_rate=args.fail_rate, timeout=args.timeout) for c in (1, 4, 8)]
    for r in results:
        r["vs_bare_client_loop"] = round(r["messages_per_s"] / base, 2)
    print(json.dumps({"bare_client_loop_messages_per_s": round(base, 1), "worker": results}, indent=2))


if __name__ == "__main__":
    main()
