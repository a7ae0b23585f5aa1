"""The issue's "done" checks against the real portal simulator on 127.0.0.1, over real HTTP:

* a simulated run (scaled down: days, one small province) with 30 % of portal calls failing ends with
  every message delivered exactly once as the portal sees it, or dead-lettered with its reason, and after
  reconciliation the portal shows procflow's status for every dossier;
* a ``procflow worker`` process killed (SIGKILL) while a delivery is in flight, then restarted, loses no
  message and causes no second effect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import pytest
from adapter_support import CHILD, desk, enrol_cast
from operator_support import operator_env

from procflow.calendar import WorkingCalendar
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.simulate import Scenario, Simulator
from procflow.store.sqlite import SQLiteStore

portal_http = pytest.importorskip("procflow_portal_http", reason="pip install ./plugins/procflow-portal-http")
PROCFLOW = str(Path(sys.executable).parent / "procflow")


def synced_engine(path: str, clock, registry=None) -> Engine:
    store = SQLiteStore(path)
    kw = {"registry": registry} if registry is not None else {}
    engine = Engine(store, calendar=WorkingCalendar(), clock=clock,
                    outbox_rules=[topic_rule([status_sync_topic(store)])], **kw)
    for d in bundled_definitions():
        engine.register(d)
    return engine


@pytest.mark.slow
def test_a_run_with_30_percent_portal_failures_ends_exactly_once_and_in_sync(tmp_path, registry):
    from procflow.simulate.portal import PortalRun, portal_lines

    scenario = Scenario(province="Lai Châu", days=3, seed=5, dossiers_per_commune_day=1.5)
    clock = FakeClock(datetime.combine(scenario.start, dtime(0), WorkingCalendar().tz))
    engine = synced_engine(str(tmp_path / "sim.db"), clock, registry)
    run = PortalRun(engine, local=True, fail_rate=0.3, seed=5, timeout=0.05, max_attempts=10)
    portal = run.simulator
    result = Simulator(engine, scenario, after_commit=run).run()
    stats = run.finish()
    rows = engine.store.outbox()
    assert result.filed > 150 and len(rows) > 2 * result.filed
    # every message: delivered, or dead with its reason; none left in between
    assert {r["status"] for r in rows} <= {"delivered", "dead"}
    assert all(r["last_error"] for r in rows if r["status"] == "dead")
    # as the portal sees it: each delivered effect applied exactly once, a dead one at most once
    applied = {r["key"]: portal.times_applied(r["key"]) for r in rows}
    assert {k for r in rows if r["status"] == "delivered" for k in [r["key"]] if applied[k] != 1} == set()
    assert all(applied[r["key"]] <= 1 for r in rows)
    # the failures really happened, and retries with the same key were recognised by the portal
    assert stats.failed_attempts > 0.3 * len(rows) and portal.duplicates > 0
    assert set(portal.faults) == {"unavailable", "busy", "hang", "lost_response"}
    assert 0.25 < sum(portal.faults.values()) / portal.requests < 0.35
    # after reconciliation the portal shows procflow's status for every dossier
    assert portal.statuses() == {d.id: d.status for d in engine.store.iter_dossiers()}
    assert stats.in_sync and stats.corrections > 0  # retries overtook newer statuses; reconciliation fixed it
    assert any("reconciliation" in line for line in portal_lines(stats))
    engine.store.close()


def _worker(db: str, portal, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, **operator_env(db), "PROCFLOW_PORTAL_URL": portal.url,
           "PROCFLOW_PORTAL_USERNAME": portal.username,
           "PROCFLOW_PORTAL_PASSWORD": portal.password, "PROCFLOW_PORTAL_AGENCY": "000.00.00.H92"}
    return subprocess.Popen([PROCFLOW, "worker", "--db", db, "--no-timers", "--batch", "1", "--concurrency", "1",
                             "--timeout", "1", "--lease", "2", "--poll", "0.05", "--base-delay", "0.1", "--json",
                             *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_loses_nothing_and_duplicates_nothing(tmp_path, registry, clock):
    db = str(tmp_path / "kill.db")
    engine = synced_engine(db, clock, registry)
    commune = registry.communes_of("92")[1].code
    enrol_cast(engine, commune)
    for _ in range(20):
        d = engine.file("1.001193", filed_at=commune, actor=desk(commune), data=CHILD)
        engine.fire(d, "accept", desk(commune))
    engine.store.close()
    with portal_http.PortalSimulator() as portal:
        portal.hold_after(15)  # the 15th applied call is held: applied at the portal, not yet answered
        first = _worker(db, portal)
        try:
            assert portal.held.wait(30), first.communicate(timeout=5)
            first.send_signal(signal.SIGKILL)
        finally:
            first.communicate(timeout=10)  # reaps it and closes its pipes
            portal.release()
        assert first.returncode == -signal.SIGKILL
        store = SQLiteStore(db)
        in_flight = [r for r in store.outbox(status="pending") if r["claimed_by"]]
        assert len(in_flight) == 1 and portal.times_applied(in_flight[0]["key"]) == 1
        delivered_before = len(store.outbox(status="delivered"))
        assert 0 < delivered_before < 40
        second = _worker(db, portal)
        deadline = time.monotonic() + 40
        while store.outbox(status="pending") and time.monotonic() < deadline:
            time.sleep(0.1)
        second.send_signal(signal.SIGTERM)  # graceful: finishes, hands back, exits 0
        _, err = second.communicate(timeout=20)
        assert second.returncode == 0, err
        rows = store.outbox()
        assert {r["status"] for r in rows} == {"delivered"} and len(rows) == 40
        assert {r["key"]: portal.times_applied(r["key"]) for r in rows} == {r["key"]: 1 for r in rows}
        assert portal.duplicates >= 1  # the killed delivery was sent again and recognised by its key
        assert portal.statuses() == {d.id: d.status for d in store.iter_dossiers()}
        store.close()
