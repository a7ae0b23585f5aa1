"""The SIGKILL/restart harness itself: it kills at its points, restarts, and lets the last start finish."""

from __future__ import annotations

import sys

from procflow.testing.crash import kill_points, run_with_kills, store_rows

SCRIPT = """
import sys, time
with open(sys.argv[1], "a") as f:
    f.write("start\\n")
time.sleep(float(sys.argv[2]))
print("done")
"""


def test_kills_at_time_points_then_runs_to_the_end(tmp_path):
    script, log = tmp_path / "slow.py", tmp_path / "starts.log"
    script.write_text(SCRIPT)
    report = run_with_kills([sys.executable, str(script), str(log), "0.6"], points=[0.25, 0.25], timeout=30)
    assert [a.killed for a in report.attempts] == [True, True, False]
    assert [a.returncode for a in report.attempts[:2]] == [-9, -9]
    assert report.kills == 2 and report.final.returncode == 0 and report.final.stdout.strip() == "done"
    assert log.read_text().count("start") == 3


def test_a_start_that_ends_before_its_point_ends_the_series(tmp_path):
    script = tmp_path / "quick.py"
    script.write_text(SCRIPT)
    report = run_with_kills([sys.executable, str(script), str(tmp_path / "log"), "0"], points=[30, 30],
                            probe=lambda: 0, timeout=30)
    assert report.kills == 0 and len(report.attempts) == 1 and report.final.returncode == 0


def test_kill_points_are_sorted_reproducible_and_inside_the_run():
    points = kill_points(20, 1000, seed=3)
    assert points == sorted(points) == kill_points(20, 1000, seed=3)
    assert 30 <= points[0] and points[-1] <= 950


def test_store_rows_leave_out_per_store_bookkeeping(tmp_path):
    import sqlite3

    for name, worker in (("a", "w1"), ("b", "w2")):
        db = sqlite3.connect(tmp_path / f"{name}.db")
        db.execute("CREATE TABLE outbox (id INTEGER, key TEXT, claimed_by TEXT, status TEXT)")
        db.execute("INSERT INTO outbox VALUES (1, 'k', ?, 'delivered')", (worker,))
        db.commit()
        db.close()
    assert store_rows(tmp_path / "a.db") == store_rows(tmp_path / "b.db") == {"outbox": [(1, "k")]}
