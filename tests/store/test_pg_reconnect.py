"""Connection faults are survivable: ``pg_terminate_backend`` on a running ``procflow worker``'s connections (as
a PostgreSQL restart would do) is one logged line, the worker reconnects with backoff and goes on, and the
idempotent receiver — the national-portal simulator over real HTTP on 127.0.0.1 — sees every idempotency
key's effect exactly once (delivery stays at-least-once: the message in flight is sent again and recognised)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg
import pytest
from operator_support import operator_env

from procflow.calendar import WorkingCalendar
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.errors import StoreError
from procflow.store.postgres import PostgresStore
from procflow.testing.directory import staff_of

portal_http = pytest.importorskip("procflow_portal_http", reason="pip install ./plugins/procflow-portal-http")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROCFLOW = str(Path(sys.executable).parent / "procflow")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789",
         "parent_phone": "0912345678"}


def _url(pg_url: str, schema: str, app_name: str) -> str:
    return f"{pg_url}?application_name={app_name}&options={quote(f'-c search_path={schema}')}"


def _terminate(pg_url: str, app_name: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                             (app_name,)).fetchall()
    return len(rows)


def test_a_worker_whose_connection_is_terminated_reconnects_and_delivers_each_effect_once(pg_empty, registry):
    pg_url, schema = pg_empty
    app_name = f"procflow-worker-{secrets.token_hex(4)}"  # only this test's worker is terminated
    url = _url(pg_url, schema, app_name)
    store = PostgresStore(pg_url, schema=schema, pool_size=1)
    clock = FakeClock(datetime(2026, 4, 20, 8, tzinfo=VN))
    engine = Engine(store, registry=registry, calendar=WorkingCalendar(), clock=clock,
                    outbox_rules=[topic_rule([status_sync_topic(store)])])
    for d in bundled_definitions():
        engine.register(d)
    commune = registry.communes_of("92")[1].code
    desk = Actor(f"desk@{commune}", commune, {"one_stop_officer"})
    staff_of(engine).actors(desk)
    for _ in range(15):
        d = engine.file("1.001193", filed_at=commune, actor=desk, data=CHILD)
        engine.fire(d, "accept", desk)
    keys = {r["key"] for r in store.outbox()}
    assert len(keys) == 30
    with portal_http.PortalSimulator() as portal:
        portal.hold_after(10)  # the 10th applied call is held: applied at the portal, not yet answered
        env = {**os.environ, "PROCFLOW_PORTAL_URL": portal.url, "PROCFLOW_PORTAL_USERNAME": portal.username,
               "PROCFLOW_PORTAL_PASSWORD": portal.password, "PROCFLOW_PORTAL_AGENCY": "000.00.00.H92",
               "PROCFLOW_KEYS_FILE": str(engine.vault.keys.path),  # type: ignore[attr-defined]
               **operator_env(store, Path(str(engine.vault.keys.path)).parent)}  # the worker acts as the operator
        worker = subprocess.Popen([PROCFLOW, "worker", "--db", url, "--no-timers", "--batch", "1",
                                   "--concurrency", "1", "--timeout", "1", "--lease", "3", "--poll", "0.05",
                                   "--base-delay", "0.1", "--json"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def delivered_all(expected: set[str]) -> None:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and store.outbox_counts().get("delivered", 0) < len(expected):
                time.sleep(0.2)
            assert store.outbox_counts().get("delivered", 0) == len(expected), store.outbox_counts()
            assert worker.poll() is None, worker.communicate(timeout=5)  # it did not die

        try:
            # 1. mid-delivery: the portal has applied the 10th call and not answered yet
            assert portal.held.wait(30), worker.communicate(timeout=5)
            assert _terminate(pg_url, app_name) >= 1
            portal.release()  # the answer arrives; recording it meets the dead connection
            delivered_all(keys)
            # 2. while it polls for work: its next claim fails, it backs off, reconnects and goes on
            assert _terminate(pg_url, app_name) >= 1
            time.sleep(1.0)
            for _ in range(5):
                d = engine.file("1.001193", filed_at=commune, actor=desk, data=CHILD)
                engine.fire(d, "accept", desk)
            keys = {r["key"] for r in store.outbox()}
            assert len(keys) == 40
            delivered_all(keys)
        finally:
            worker.send_signal(signal.SIGTERM)  # graceful: finishes, hands back, exits 0
            _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        assert "Traceback" not in err, err
        lost = [line for line in err.splitlines() if "lost the connection to PostgreSQL" in line]
        assert lost and any("retrying in" in line for line in lost), err  # one line each, with the backoff
        assert {r["status"] for r in store.outbox()} == {"delivered"}, store.outbox_counts()
        assert {k: portal.times_applied(k) for k in keys} == dict.fromkeys(keys, 1)  # each effect exactly once
    store.close()


def test_the_api_says_store_error_when_the_server_goes_away_mid_transaction(pg_empty):
    pg_url, schema = pg_empty
    app_name = f"procflow-api-{secrets.token_hex(4)}"
    store = PostgresStore(_url(pg_url, schema, app_name), pool_size=1)
    try:
        with pytest.raises(StoreError, match="lost the connection to PostgreSQL"), store.transaction():
            store._execute("SELECT 1")
            _terminate(pg_url, app_name)
            store._execute("SELECT 2")
        assert store.count_dossiers() == 0  # reconnected
    finally:
        store.close()
