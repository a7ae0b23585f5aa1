"""The main job's cost and its SQL floor: the default month of ``procflow simulate``, and the same month's SQL
replayed with no Python at all.

Issue 17 asks the default 30-day Cần Thơ month (``procflow simulate --province "Cần Thơ" --days 30 --seed 1``,
the README's main job) to take ≤ 20 s of wall time. This benchmark measures that run as users make it (the
CLI's defaults: a fresh SQLite file, WAL, synchronous=NORMAL, hash chain and vault on, group commits of 2,000)
and, beside it, the floor under it: every statement the run's store executed — reads, writes, BEGIN and
COMMIT, in order, with their parameters — recorded once from a run of the same seed (the run is
deterministic, so it executes the same statements every time) and replayed on a fresh store of the same
schema with nothing between the statements. Whatever procflow's Python does, the month cannot cost less than
its replay; what the target leaves for Python is the target minus the replay.

    python benchmarks/bench_simulate.py                # the month, 2 rounds: run and replay interleaved
    python benchmarks/bench_simulate.py --days 10      # a shorter month
    python benchmarks/bench_simulate.py --cpu          # CPU time (user + system) instead of wall time

Fairness: each round runs the simulation and the replay each on a fresh file, in an order that alternates
from round to round, and the median and spread of the rounds are reported. The recording run is separate and
not timed (recording costs Python time). CPU time includes SQLite's own work and its system calls.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import Statement, StatementRecorder

from procflow.simulate import Scenario, run_simulation
from procflow.store import sqlite as sqlite_store

TARGET_S = 20.0  # issue 17: the default 30-day month, wall time


@contextmanager
def recording(log: list[Statement]) -> Iterator[None]:
    """Every SQLiteStore opened inside records what it executes after its schema is in place."""
    original = sqlite_store.SQLiteStore.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.path != ":memory:":
            self._db = StatementRecorder(self._db, log)

    sqlite_store.SQLiteStore.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        sqlite_store.SQLiteStore.__init__ = original  # type: ignore[method-assign]


def _fresh(tmp: Path, name: str) -> str:
    path = tmp / name
    for suffix in ("", "-wal", "-shm", ".keys"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return str(path)


def simulate(scenario: Scenario, path: str) -> tuple[int, int]:
    result, _report, engine = run_simulation(scenario, path)
    engine.store.close()
    return result.filed, result.fired


def replay(log: list[Statement], path: str) -> int:
    """Run the recorded statements on a fresh store of the same schema, fetching what each returns."""
    store = sqlite_store.SQLiteStore(path, created_by="simulation")
    db = store._db
    try:
        for many, sql, params in log:
            if many:
                db.executemany(sql, params)
            else:
                db.execute(sql, params).fetchall()
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        store.close()
    return len(log)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cpu", action="store_true", help="time CPU (user + system) instead of the wall clock")
    args = ap.parse_args()
    if args.days < 1 or args.rounds < 1:
        sys.exit("bench_simulate: --days and --rounds must be at least 1")

    def clock() -> float:
        if not args.cpu:
            return time.perf_counter()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    scenario = Scenario(province="Cần Thơ", days=args.days, seed=args.seed)
    unit = "CPU s" if args.cpu else "wall s"
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as td:
        tmp = Path(td)
        log: list[Statement] = []
        t0 = time.perf_counter()
        with recording(log):
            filed, fired = simulate(scenario, _fresh(tmp, "record.db"))
        print(f"recorded {len(log):,} statements from a {args.days}-day run ({filed:,} filed, {fired:,} fired) "
              f"in {time.perf_counter() - t0:.1f} s (not timed: recording costs Python time)", flush=True)
        _fresh(tmp, "record.db")
        runs: dict[str, list[float]] = {"month": [], "SQL replay": []}
        for r in range(args.rounds):
            order = ["month", "SQL replay"] if r % 2 == 0 else ["SQL replay", "month"]
            for row in order:
                path = _fresh(tmp, f"{row.split()[0].lower()}.db")
                start = clock()
                if row == "month":
                    got = simulate(scenario, path)
                    if got != (filed, fired):
                        sys.exit(f"bench_simulate: the run is not deterministic ({got} vs {(filed, fired)})")
                else:
                    replay(log, path)
                runs[row].append(clock() - start)
                _fresh(tmp, f"{row.split()[0].lower()}.db")
                print(f"  round {r + 1}: {row:<10} {runs[row][-1]:6.1f} {unit}", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    spread = {k: f"{min(v):.1f}–{max(v):.1f}" for k, v in runs.items()}
    writes = filed + fired
    print(f"\nThe default {args.days}-day Cần Thơ month (seed {args.seed}), median of {args.rounds} rounds "
          f"({os.cpu_count()} CPUs, {unit}):")
    print(f"  the run (procflow simulate, defaults)   {med['month']:6.1f} s  [{spread['month']}]   "
          f"{med['month'] / writes * 1e6:5.0f} µs per filing/transition")
    print(f"  its SQL alone, replayed without Python  {med['SQL replay']:6.1f} s  [{spread['SQL replay']}]   "
          f"{med['SQL replay'] / writes * 1e6:5.0f} µs per filing/transition   ({len(log):,} statements)")
    print(f"  Python's share of the run               {1 - med['SQL replay'] / med['month']:6.1%}")
    if args.days == 30:
        left = TARGET_S - med["SQL replay"]
        verdict = ("met" if med["month"] <= TARGET_S else "missed") if not args.cpu else "judged on wall time"
        print(f"  target ≤ {TARGET_S:.0f} s of wall time for the month: {verdict}; it leaves {left:.1f} s for all of "
              f"procflow's Python, {max(left, 0) / writes * 1e6:.0f} µs per filing/transition, where the run spends "
              f"{(med['month'] - med['SQL replay']) / writes * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
