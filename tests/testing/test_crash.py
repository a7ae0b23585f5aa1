"""``procflow simulate`` SIGKILLed at 20 random points and restarted each time loses nothing.

The same simulation runs once uninterrupted (in process, the reference) and once as a subprocess that is
killed whenever the store's event count passes one of 20 random thresholds, then restarted with
``--resume``. Afterwards: every table holds exactly the reference's rows (no event lost or duplicated),
every snapshot equals its replay, every outbox message was delivered, the idempotent receiver applied each
key once, and the final report is the reference's.
"""

from __future__ import annotations

import json
import sys

import pytest

from procflow.simulate import Scenario, run_simulation
from procflow.simulate.report import simulation_report
from procflow.testing.crash import FileReceiver, check_store, kill_points, run_with_kills, sqlite_count, store_rows

pytestmark = pytest.mark.slow

OPTIONS = {"province": "Lai Châu", "days": 24, "rate": 0.5, "seed": 7}


def test_simulate_survives_twenty_sigkills(tmp_path):
    scenario = Scenario(province=OPTIONS["province"], days=OPTIONS["days"], seed=OPTIONS["seed"],
                        rate=OPTIONS["rate"], portal_sync=True)
    ref_receiver = FileReceiver(str(tmp_path / "ref-received.db"))
    result, report, engine = run_simulation(scenario, str(tmp_path / "ref.db"), receiver=ref_receiver)
    reference = json.loads(json.dumps(simulation_report(result, report, engine)))
    engine.store.close()
    ref_receiver.close()
    total_events = sqlite_count(tmp_path / "ref.db", "events")()

    db, received = tmp_path / "crash.db", tmp_path / "received.db"
    argv = [sys.executable, "-m", "procflow.simulate", "--province", OPTIONS["province"],
            "--days", str(OPTIONS["days"]), "--rate", str(OPTIONS["rate"]), "--seed", str(OPTIONS["seed"]),
            "--db", str(db), "--sync-to", str(received), "--resume", "--json"]
    runs = run_with_kills(argv, points=kill_points(20, total_events, seed=OPTIONS["seed"]),
                          probe=sqlite_count(db, "events"), timeout=240, seed=1)

    assert runs.kills == 20, [(a.killed, a.returncode, a.stderr[-300:]) for a in runs.attempts]
    assert runs.final.returncode == 0, runs.final.stderr[-2000:]
    assert json.loads(runs.final.stdout) == reference  # the report of an uninterrupted run

    # no event lost or duplicated, nothing else either: every table holds the reference's rows
    got, want = store_rows(db), store_rows(tmp_path / "ref.db")
    assert sorted(got) == sorted(want)
    for table in want:
        assert got[table] == want[table], f"table {table} differs from the uninterrupted run"
    assert check_store(db) == []  # each dossier: events 1..revision, replay == snapshot, vault opens

    # no outbox message lost, none delivered twice as the idempotent receiver sees it. The run delivers the
    # portal sync; the timers' notices have no adapter in a simulation and wait, as in the reference.
    outbox = dict(_rows(db, "SELECT key, status FROM outbox WHERE topic = 'portal.status'"))
    assert outbox and set(outbox.values()) == {"delivered"}
    waiting = _rows(db, "SELECT topic, status, count(*) FROM outbox WHERE topic != 'portal.status' GROUP BY 1, 2")
    assert waiting == _rows(tmp_path / "ref.db", "SELECT topic, status, count(*) FROM outbox "
                                                 "WHERE topic != 'portal.status' GROUP BY 1, 2")
    receiver = FileReceiver(str(received))
    try:
        deliveries = receiver.keys()
    finally:
        receiver.close()
    assert set(deliveries) == set(outbox)  # each key applied exactly once (it is the receiver's primary key)
    assert len(deliveries) == len(outbox)


def _rows(path, sql):
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()
