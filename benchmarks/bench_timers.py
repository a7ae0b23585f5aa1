"""Timer benchmark: what arming and cancelling cost a durable transition, and how fast the scheduler fires.

1. Arming + cancelling: the looping procedure of ``bench_engine.py`` (review <-> check), once without timers
   and once with a timer that lives in "check" (entering it arms the timer, leaving it cancels it: every
   transition writes one timer row). Durable fires (one commit each, WAL, synchronous=NORMAL), interleaved
   rounds, medians. Target: ≤ 1.20× the same fire without timers.
2. Scheduler throughput on SQLite, one process, group commit (one transaction per batch): a backlog of due
   timers fired by ``Scheduler.run_due``. Target: ≥ 10,000 timers/s. Measured for notices (the common
   case: reminders to the handling official), for overdue timers (an event recording the lateness + a notice
   to the head of the unit) and for expiring timers that fire a trigger through the engine.

    python benchmarks/bench_timers.py            # ~1 minute
    python benchmarks/bench_timers.py --quick    # smaller numbers, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import LOOP as _LOOP

from procflow.clock import FakeClock
from procflow.definition.reader import parse_definition
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import enrol
from procflow.workers.scheduler import Scheduler

VN = ZoneInfo("Asia/Ho_Chi_Minh")
_SECOND = timedelta(seconds=1)
T0 = datetime(2026, 4, 20, 9, tzinfo=VN)

# the shared loop, with "finish" allowed from either state (timers fire it)
LOOP = _LOOP.replace('trigger = "finish"\nsource = "check"', 'trigger = "finish"\nsource = ["review", "check"]')

CHECK_TIMER = """
[[timers]]
name = "check_reminder"
anchor = "state"
states = "check"
working_days = 2
action = "notify"
notify = "official"
"""

BACKLOG_TIMERS = {
    "notify": """
[[timers]]
name = "due_reminder"
anchor = "due"
working_days = -1
action = "notify"
notify = "official"
""",
    "overdue": """
[[timers]]
name = "overdue"
anchor = "due"
action = "overdue"
notify = ["head"]
""",
    "fire": """
[[timers]]
name = "expire"
anchor = "state"
states = "review"
calendar_days = 1
action = "fire"
trigger = "finish"
""",
}


def _engine(path: str, source: str, clock: FakeClock, reg: Registry, *, synchronous: str = "NORMAL") -> Engine:
    engine = Engine(SQLiteStore(path, synchronous=synchronous), registry=reg, clock=clock)
    engine.register(parse_definition(source))
    # identity is strict by default: the benchmark's officer is in the store's directory
    enrol(engine, Actor("officer", reg.communes_of("92")[0].code, {"officer"}))
    return engine


def arming_cost(tmp: Path, n: int, rounds: int, reg: Registry,
                synchronous: str = "NORMAL") -> dict[str, dict[str, float]]:
    """Per durable fire (one commit each): wall µs, CPU µs of this process (steadier on a shared machine) and
    WAL frames written (pages; deterministic), without timers and with a timer armed or cancelled each time."""
    commune = reg.communes_of("92")[0].code
    desk = Actor("officer", commune, {"officer"})
    setups = {}
    live = min(1000, n // 2)  # every round fires each dossier twice: as many armings as cancellations
    for label, source in (("without timers", LOOP), ("arm + cancel a timer", LOOP + CHECK_TIMER)):
        clock = FakeClock(T0)
        path = str(tmp / f"arm-{synchronous}-{len(setups)}.db")
        engine = _engine(path, source, clock, reg, synchronous=synchronous)
        with engine.batch():
            hot = [engine.file("bench.loop", filed_at=commune, actor=desk) for _ in range(live)]
        setups[label] = (engine, hot, path, clock)
    wall: dict[str, list[float]] = {k: [] for k in setups}
    cpu: dict[str, list[float]] = {k: [] for k in setups}
    frames: dict[str, float] = {}
    for r in range(rounds):
        for label, (engine, hot, path, clock) in setups.items():
            db = engine.store._db  # type: ignore[attr-defined]
            if r == 0:
                db.execute("PRAGMA wal_autocheckpoint=0")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            fire, tick = engine.fire, clock.advance
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(n):
                d = hot[i % live]
                tick(_SECOND)  # time moves, as it does (a frozen clock would give every timer the same due time)
                fire(d, "to_check" if d.state == "review" else "to_review", desk)
            wall[label].append((time.perf_counter() - t0) / n * 1e6)
            cpu[label].append((time.process_time() - c0) / n * 1e6)
            frames[label] = (os.path.getsize(path + "-wal") - 32) / (4096 + 24) / n
    assert setups["arm + cancel a timer"][0].timer_table("bench.loop", 1) is not None
    for engine, *_ in setups.values():
        engine.store.close()
    return {k: {"wall_us": statistics.median(wall[k]), "cpu_us": statistics.median(cpu[k]), "frames": frames[k]}
            for k in setups}


def scheduler_rate(tmp: Path, kind: str, n: int, batch: int, reg: Registry) -> tuple[float, float]:
    commune = reg.communes_of("92")[0].code
    desk = Actor("officer", commune, {"officer"})
    clock = FakeClock(T0)
    engine = _engine(str(tmp / f"sched-{kind}.db"), LOOP + BACKLOG_TIMERS[kind], clock, reg)
    with engine.batch():
        for _ in range(n):
            engine.file("bench.loop", filed_at=commune, actor=desk)
    clock.set(T0 + timedelta(days=20))
    due = len(engine.store.timers(due_before=clock.now(), statuses=("armed",)))
    assert due == n, (due, n)
    # a fresh process opens the store, as a restarted worker would
    engine.store.close()
    engine = Engine(SQLiteStore(str(tmp / f"sched-{kind}.db")), registry=reg, clock=clock)
    t0, c0 = time.perf_counter(), time.process_time()
    stats = Scheduler(engine, batch=batch).run_due()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert stats.fired == n, stats
    engine.store.close()
    return n / dt, n / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="transitions per round (arming cost)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backlog", type=int, default=30_000, help="due timers per scheduler measurement")
    ap.add_argument("--batch", type=int, default=1000, help="timers per scheduler transaction")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.n, args.rounds, args.backlog = 2000, 3, 5000
    reg = Registry.default()
    with tempfile.TemporaryDirectory(prefix="procflow-bench-timers-") as d:
        tmp = Path(d)
        arm = arming_cost(tmp, args.n, args.rounds, reg)
        arm_full = arming_cost(tmp, max(args.n // 5 // 2 * 2, 500), args.rounds, reg, synchronous="FULL")
        rates = {kind: scheduler_rate(tmp, kind, args.backlog if kind == "notify" else args.backlog // 3,
                                      args.batch, reg) for kind in BACKLOG_TIMERS}
    ratio = {m: arm["arm + cancel a timer"][m] / arm["without timers"][m] for m in ("wall_us", "cpu_us", "frames")}
    ratio_full = arm_full["arm + cancel a timer"]["wall_us"] / arm_full["without timers"]["wall_us"]
    if args.json:
        print(json.dumps({"arming": arm, "arming_full": arm_full, "ratio": ratio, "ratio_full_wall": ratio_full,
                          "scheduler": rates}, indent=2))
        return
    title = f"durable fire (median of {args.rounds} interleaved rounds)"
    print(f"\n{title:<46} {'wall µs':>8} {'cpu µs':>7} "
          f"{'frames':>7}")
    for sync, table in (("NORMAL", arm), ("FULL", arm_full)):
        for label, m in table.items():
            print(f"  {label + ', synchronous=' + sync:<44} {m['wall_us']:8.1f} {m['cpu_us']:7.1f} {m['frames']:7.2f}")
    print(f"\n{'scheduler, SQLite, one process, batches of ' + str(args.batch):<46} {'wall/s':>10} {'cpu/s':>10}")
    for kind, (w, c) in rates.items():
        print(f"  {kind:<44} {w:10,.0f} {c:10,.0f}")
    verdict = "OK" if ratio["wall_us"] <= 1.2 else "MISSED"
    print("\ntargets:")
    print(f"  arming + cancelling adds ≤ 20% to a durable fire: wall {ratio['wall_us'] - 1:+.1%} {verdict}  "
          f"(cpu {ratio['cpu_us'] - 1:+.1%}, WAL frames {ratio['frames'] - 1:+.1%}, synchronous=FULL wall "
          f"{ratio_full - 1:+.1%})")
    w = rates["notify"][0]
    print(f"  ≥ 10,000 due timers/s (notices):                  {w:,.0f}/s  {'OK' if w >= 10_000 else 'MISSED'} "
          f"(cpu-bound rate {rates['notify'][1]:,.0f}/s)")


if __name__ == "__main__":
    main()
