"""A scheduler SIGKILL'd mid-batch, a simulated week of downtime, a restart: the backlog fires once each."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import timerdefs
from timerdefs import desk, officer

from procflow.clock import FakeClock
from procflow.store.sqlite import SQLiteStore
from procflow.workers.scheduler import Scheduler
from procflow.workers.timerstate import armed_timers

CHILD = str(Path(__file__).with_name("timer_kill_child.py"))


def due_armings(engine, now) -> list[tuple]:
    return sorted((a.fire_at, did, a.name) for did in engine.store.dossier_ids()
                  for a, status in armed_timers(engine, did) if status == "armed" and a.fire_at <= now)
BATCH = 50


def test_a_sigkilled_scheduler_and_a_week_down_fire_the_backlog_once_each_in_due_order(tmp_path, registry):
    path = str(tmp_path / "kill.db")
    store = SQLiteStore(path)
    clock = FakeClock(timerdefs.T0)
    engine = timerdefs.make_engine(store, clock, registry)
    c = timerdefs.commune(engine)
    with engine.batch():
        for i in range(400):
            clock.set(timerdefs.T0 + timedelta(minutes=i))
            d = engine.file("t.pause" if i % 2 else "t.restart", filed_at=c, actor=desk(c))
            if i % 5 == 0:
                engine.fire(d, "request_supplement", officer(c))
    kill_at = timerdefs.T0 + timedelta(days=3)
    due_then = due_armings(engine, kill_at)
    queued_then = len(store.timers(due_before=kill_at))
    assert len(due_then) > 4 * BATCH
    store.close()

    child = subprocess.Popen([sys.executable, CHILD, path, kill_at.isoformat(), str(BATCH), "0.002"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready", child.stderr
        watcher = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # a reader never waits for the writer
        deadline = time.monotonic() + 30
        # at least two batches committed: kill it inside a later one
        while watcher.execute("SELECT count(*) FROM timer_log").fetchone()[0] < 2 * BATCH:
            assert time.monotonic() < deadline and child.poll() is None, "the child ended before it could be killed"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL
        watcher.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()

    store = SQLiteStore(path)  # the next start: WAL recovery rolled the interrupted batch back
    committed = store.timer_log()
    taken = queued_then - len(store.timers(due_before=kill_at))
    assert 0 < len(committed) == taken < queued_then and taken % BATCH == 0  # whole batches, nothing half-done
    # a simulated week of downtime, then the restart
    restart = kill_at + timedelta(days=7)
    clock = FakeClock(restart)
    engine = timerdefs.make_engine(store, clock, registry)
    backlog = due_armings(engine, restart)  # what is live and due after the kill (what fired before is not)
    stats = Scheduler(engine, worker="restarted", batch=BATCH).run_due()
    log = store.timer_log()
    now = log[len(committed):]
    assert sorted((e["fire_at"], e["dossier_id"], e["name"]) for e in now if e["outcome"] == "fired") == backlog
    assert stats.fired == len(backlog)  # the backlog, once each
    assert [e["fire_at"] for e in now] == sorted(e["fire_at"] for e in now)  # in due order
    keys = [(e["dossier_id"], e["name"], e["armed_seq"]) for e in log]
    assert len(keys) == len(set(keys))  # no arming settled twice, across the kill and the restart
    keys = [k for k, e in zip(keys, log, strict=True) if e["outcome"] == "fired"]
    # every due timer of the kill moment fired exactly once (the killed batch was redone by the restart)
    assert {(did, name) for _, did, name in due_then} <= {(d, n) for d, n, _ in keys}
    # effects: one outbox row per recipient of each firing, events once each
    outbox = [r["key"] for r in store.outbox() if r["key"].startswith("timer:")]
    assert len(outbox) == len(set(outbox)) == sum({"remind": 1, "late": 1, "expire": 1, "escalate": 1}[n]
                                                  for _, n, _ in keys)
    assert Scheduler(engine).run_due().total == 0
    store.close()
