"""Every long-running writer anchors the log (issue 19 item 3): ``procflow timers --run`` and ``procflow worker``
take a checkpoint every ``--checkpoint-every`` seconds and when they end — normally or by SIGTERM/SIGINT — when
the store has a checkpoint key; without one they run and say once that the log is unanchored. Real processes,
real files; no timing is asserted, only that the checkpoints were written and cover what was written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import timerdefs
from operator_support import OPERATOR, operator_env
from timerdefs import desk
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()


@pytest.fixture(autouse=True)
def operator(tmp_path, monkeypatch) -> None:
    """The machine's operator credential (enrolled by ``_store_with_due_timers``): ``keys init``, ``timers
    --run`` and ``worker`` act as the operator; subprocesses inherit the variable."""
    monkeypatch.setenv("PROCFLOW_OPERATOR_FILE", str(tmp_path / f"t.db.{OPERATOR}.operator.toml"))


def _store_with_due_timers(tmp_path, registry, *, keyed: bool) -> tuple[str, str]:
    path = str(tmp_path / "t.db")
    SQLiteStore(path).close()
    operator_env(path, roles={STORE_ADMIN_ROLE})  # with the credential the ``operator`` fixture names; keys init
    # administers the store
    if keyed:
        r = runner.invoke(app, ["keys", "init", "--db", path, "--checkpoint"])
        assert r.exit_code == 0, r.output
    store = SQLiteStore(path)
    engine = timerdefs.make_engine(store, FakeClock(timerdefs.T0), registry)
    c = timerdefs.commune(engine)
    d = engine.file("t.restart", filed_at=c, actor=desk(c))
    store.close()
    return path, d.id


def _heads(path: str) -> dict[str, int]:
    store = SQLiteStore(path)
    try:
        return {did: seq for did, seq, _ in store.anchor_heads()}
    finally:
        store.close()


def test_timers_run_checkpoints_what_it_fired_when_it_ends(tmp_path, registry):
    path, did = _store_with_due_timers(tmp_path, registry, keyed=True)
    before = _heads(path)
    r = runner.invoke(app, ["timers", "--db", path, "--at", "2026-04-24T08:00:00+07:00", "--run", "--json",
                            "--checkpoint-every", "0.05"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["run"]["fired"] == 3
    store = SQLiteStore(path)
    events = store.events(did)
    store.close()
    assert did not in before and _heads(path)[did] == len(events) > 1  # what the timers fired is anchored
    r = runner.invoke(app, ["audit", "verify", "--db", path, "--json"])
    report = json.loads(r.stdout)
    assert r.exit_code == 0 and report["anchor"]["not_anchored_events"] == 0, r.output


def test_timers_run_without_a_checkpoint_key_runs_and_says_once_that_the_log_is_unanchored(tmp_path, registry):
    path, _ = _store_with_due_timers(tmp_path, registry, keyed=False)
    r = runner.invoke(app, ["timers", "--db", path, "--at", "2026-04-24T08:00:00+07:00", "--run",
                            "--checkpoint-every", "0.01"])
    assert r.exit_code == 0, r.output
    assert "fired 3" in r.output and r.output.count("no checkpoint key") == 1 and "unanchored" in r.output
    assert not os.path.exists(path + ".keys") or "checkpoint" not in open(path + ".keys").read()
    store = SQLiteStore(path)
    assert store.checkpoints() == []
    store.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_worker_process_stopped_by_a_signal_checkpoints_what_was_written_while_it_ran(tmp_path, registry, sig):
    path, first = _store_with_due_timers(tmp_path, registry, keyed=True)
    cli = [sys.executable, "-c", "from procflow.cli.app import main; main()"]
    worker = subprocess.Popen([*cli, "worker", "--db", path, "--no-timers", "--checkpoint-every", "3600",
                               "--poll", "0.05"],  # only the stop can take one
                              stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        started = worker.stderr.readline()
        assert "SIGTERM or Ctrl-C stops" in started, started
        store = SQLiteStore(path)
        engine = timerdefs.make_engine(store, FakeClock(timerdefs.T0), registry)
        c = timerdefs.commune(engine)
        second = engine.file("t.restart", filed_at=c, actor=desk(c)).id  # written while the worker runs
        store.close()
        worker.send_signal(sig)
        _, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "unanchored" not in err
    assert _heads(path) == {first: 1, second: 1}


def test_checkpoints_are_taken_while_a_writer_runs_and_once_more_at_its_end(tmp_path, registry):
    """``checkpointing`` in a thread beside a writer: rounds are taken while it writes, and the last one, at the
    end of the block, covers everything it wrote."""
    from procflow.privacy.checkpoint import checkpointing
    from procflow.privacy.keys import FileKeyProvider

    path, _ = _store_with_due_timers(tmp_path, registry, keyed=True)
    provider = FileKeyProvider(path + ".keys")
    store = SQLiteStore(path)
    engine = timerdefs.make_engine(store, FakeClock(timerdefs.T0), registry)
    c = timerdefs.commune(engine)
    written: list[str] = []
    rounds = threading.Event()
    with checkpointing(lambda: SQLiteStore(path), provider, interval=0.01) as anchors:
        while not rounds.is_set():
            written.append(engine.file("t.restart", filed_at=c, actor=desk(c)).id)
            if anchors.taken >= 2:  # at least two rounds happened while we wrote
                rounds.set()
            assert len(written) < 5000, "the checkpointer never took a checkpoint"
        written.append(engine.file("t.restart", filed_at=c, actor=desk(c)).id)
    store.close()
    heads = _heads(path)
    assert all(heads.get(did) == 1 for did in written)
    assert anchors.taken >= 3 and anchors.unavailable is None
