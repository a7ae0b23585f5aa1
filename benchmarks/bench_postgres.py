"""Durable transitions/s on PostgreSQL with 1 and 2 worker processes, SQLite beside it, in one run.

    python benchmarks/bench_postgres.py                 # ~1 min; needs the PostgreSQL server
    python benchmarks/bench_postgres.py --url postgresql://user@host/db --rounds 7
    python benchmarks/bench_postgres.py --sizing        # rows and bytes per dossier after a 30-day run

Every worker is its own OS process with its own engine and connection, firing the default fire (as in
``bench_engine.py``: one guard, one national-portal status row in the outbox, hash chain and vault on) on its own
1,000 live dossiers (so rows never conflict, as with real workers that each hold different dossiers).
Rounds are interleaved (SQLite, PostgreSQL ×1, PostgreSQL ×2, …) and medians reported, because this
machine is shared and noisy. Alongside throughput it measures CPU per transition in the workers (engine +
driver) and in all PostgreSQL server processes, because on a 2-core machine the server, the driver and
the workers compete for the same two cores: that, not the database design, is what bounds 1 → 2 scaling.

PostgreSQL durability: ``synchronous_commit=on`` (the server default: a commit is fsynced, survives power
loss, like SQLite ``synchronous=FULL``) and ``off`` (a commit survives a crash of procflow and of the
server processes unless the OS also goes down within ~0.6 s; the closest to SQLite ``NORMAL``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import DEFAULT, FILING

VN = ZoneInfo("Asia/Ho_Chi_Minh")


# One in-memory keyring for every worker of a run (none written to $HOME): workers share a store, and the vault
# refuses to seal with a key that cannot open the values already there. Spawned workers re-import this module,
# so the keyring comes from the environment the parent sets before starting them.
_KEY = bytes.fromhex(os.environ.setdefault("PROCFLOW_BENCH_KEY", secrets.token_hex(32)))
_INDEX_KEY = bytes.fromhex(os.environ.setdefault("PROCFLOW_BENCH_INDEX_KEY", secrets.token_hex(32)))


def _worker(conn: Any, target: str, options: dict[str, Any], index: int) -> None:
    """One benchmark worker: an engine and 1,000 hot dossiers of its own, then fire on command."""
    from procflow.clock import FakeClock
    from procflow.definition.reader import parse_definition
    from procflow.dossier import Actor
    from procflow.engine.core import Engine
    from procflow.engine.outbox import status_sync_topic, topic_rule
    from procflow.jurisdiction import Registry
    from procflow.privacy.keys import StaticKeyProvider, key_id_for
    from procflow.privacy.vault import Vault
    from procflow.store.base import open_store

    reg = Registry.default()
    commune = reg.communes_of("92")[index].code
    store = open_store(target, **options)
    engine = Engine(store, registry=reg, clock=FakeClock(datetime(2026, 4, 20, 9, tzinfo=VN)),
                    outbox_rules=[topic_rule([status_sync_topic(store)])],
                    vault=Vault(store, StaticKeyProvider({key_id_for(_KEY): _KEY}, key_id_for(_KEY), _INDEX_KEY)))
    engine.register(parse_definition(DEFAULT))
    desk = Actor(f"officer@{commune}", commune, {"officer"})
    from procflow.testing.directory import enrol

    enrol(engine, desk)  # identity is strict by default: the officer is in the store's directory
    with engine.batch():
        hot = [engine.file("bench.default", filed_at=commune, actor=desk, data=FILING) for _ in range(1000)]
    conn.send("ready")
    fire = engine.fire
    while True:
        cmd = conn.recv()
        if cmd is None:
            break
        n, per_tx = cmd
        cpu0, t0 = time.process_time(), time.perf_counter()
        if per_tx == 1:
            for i in range(n):
                d = hot[i % 1000]
                fire(d, "start" if d.state == "received" else "back", desk)
        elif per_tx == 0:  # the explicit-transaction variant: BEGIN, the statement, COMMIT
            for i in range(n):
                d = hot[i % 1000]
                with store.transaction():
                    fire(d, "start" if d.state == "received" else "back", desk)
        else:
            for start in range(0, n, per_tx):
                with store.transaction():
                    for i in range(start, min(start + per_tx, n)):
                        d = hot[i % 1000]
                        fire(d, "start" if d.state == "received" else "back", desk)
        conn.send((t0, time.perf_counter(), time.process_time() - cpu0))
    store.close()


class Pool:
    """Long-lived worker processes for one configuration (setup cost stays out of the timings)."""

    def __init__(self, ctx: Any, target: str, options: dict[str, Any], workers: int, first: int) -> None:
        self.pipes, self.procs = [], []
        for i in range(workers):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(child, target, options, first + i), daemon=True)
            p.start()
            self.pipes.append(parent)
            self.procs.append(p)
        for pipe in self.pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("benchmark worker failed to start")

    def run(self, n: int, per_tx: int, workers: int) -> tuple[float, float, float, float]:
        """(transitions/s, worker CPU µs per transition, server CPU µs per transition, share of the
        machine's cores used by everything else meanwhile: other tenants, this driver)."""
        server0, busy0 = _postgres_cpu(), _busy_cpu()
        for pipe in self.pipes[:workers]:
            pipe.send((n, per_tx))
        done = [pipe.recv() for pipe in self.pipes[:workers]]
        server, busy = _postgres_cpu() - server0, _busy_cpu() - busy0
        wall = max(t1 for _, t1, _ in done) - min(t0 for t0, _, _ in done)
        total = n * workers
        mine = sum(c for _, _, c in done)
        other = max(0.0, busy - mine - server) / (wall * (os.cpu_count() or 1))
        return total / wall, mine / total * 1e6, server / total * 1e6, other

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for p in self.procs:
            p.join(timeout=30)


_TICK = os.sysconf("SC_CLK_TCK")


def _busy_cpu() -> float:
    """CPU seconds the whole machine has spent not idle (all processes, all cores)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def _postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process on this machine (backends, WAL writer)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name.startswith("postgres"):
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def sizing(url: str, days: int, workers: int) -> None:
    """Simulate a province for ``days`` with ``workers`` processes, then measure what it left on disk."""
    from datetime import date

    from procflow.simulate import Scenario, run_simulation
    from procflow.simulate.parallel import run_parallel_simulation
    from procflow.store.postgres import PostgresStore

    schema = f"procflow_sizing_{secrets.token_hex(4)}"
    # portal sync on: every status change also leaves an outbox row, as in production
    scenario = Scenario(days=days, seed=1, start=date(2026, 4, 20), portal_sync=True)
    t0 = time.perf_counter()
    try:
        result, _, engine = run_parallel_simulation(scenario, url, workers=workers, store_options={"schema": schema})
        elapsed = time.perf_counter() - t0
        store = engine.store
        # sizes as a live system has them (no VACUUM FULL): dead row versions left by updates included
        tables = [r[0] for r in store._execute(  # type: ignore[attr-defined]
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,))]
        rows = {t: store._execute(f"SELECT (SELECT count(*) FROM {t}), pg_total_relation_size('{t}')")[0]  # type: ignore[attr-defined]
                for t in tables}
        store.close()
    finally:
        cleanup = PostgresStore(url)
        cleanup.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cleanup.close()
    dossiers = rows["dossiers"][0]
    print(f"\n{scenario.province}, {days} days, seed 1, portal sync on, {workers} workers: {dossiers:,} dossiers, "
          f"{result.fired:,} transitions in {elapsed:.1f} s\n")
    print(f"{'table':<20} {'rows':>9} {'rows/dossier':>13} {'total bytes':>12} {'bytes/dossier':>14} {'bytes/row':>10}")
    for table, (n, total) in rows.items():
        if n:
            print(f"{table:<20} {n:9,} {n / dossiers:13.2f} {total:12,} {total / dossiers:14,.0f} {total / n:10,.0f}")
    all_bytes = sum(t for _, t in rows.values())
    print(f"{'all (incl. empty)':<20} {'':>9} {'':>13} {all_bytes:12,} {all_bytes / dossiers:14,.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "sizing.db")
        _, _, sq = run_simulation(scenario, path)
        sq.store._execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
        sq.store.close()
        size = os.path.getsize(path)
        print(f"SQLite file for the same run: {size:,} bytes, {size / dossiers:,.0f} bytes/dossier")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("PROCFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1/test"))
    ap.add_argument("--n", type=int, default=3000, help="transitions per worker per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizing", action="store_true", help="measure rows and bytes per dossier instead")
    ap.add_argument("--days", type=int, default=30, help="simulated days for --sizing")
    args = ap.parse_args()
    if args.sizing:
        sizing(args.url, args.days, 2)
        return
    from procflow.store.postgres import PostgresStore

    schema = f"procflow_bench_{secrets.token_hex(4)}"
    PostgresStore(args.url, schema=schema).close()
    tmp = Path(tempfile.mkdtemp(prefix="procflow-bench-pg-"))
    ctx = mp.get_context("spawn")
    configs = {
        "SQLite WAL, synchronous=NORMAL": (str(tmp / "normal.db"), {"synchronous": "NORMAL"}, 1, 1),
        "SQLite WAL, synchronous=FULL": (str(tmp / "full.db"), {"synchronous": "FULL"}, 1, 1),
        "PostgreSQL, synchronous_commit=on": (args.url + "?options=-csynchronous_commit%3Don", {"schema": schema},
                                              2, 1),
        "PostgreSQL, synchronous_commit=off": (args.url + "?options=-csynchronous_commit%3Doff", {"schema": schema},
                                               2, 1),
        "PostgreSQL, sync off, BEGIN/stmt/COMMIT": (args.url + "?options=-csynchronous_commit%3Doff",
                                                    {"schema": schema}, 1, 0),
        "PostgreSQL, sync on, group commit of 100": (args.url + "?options=-csynchronous_commit%3Don",
                                                     {"schema": schema}, 2, 100),
    }
    t_start = time.perf_counter()
    pools, first = {}, 0
    for name, (target, options, workers, _) in configs.items():
        pools[name] = Pool(ctx, target, options, workers, first)
        first += workers
    results: dict[str, list[tuple[float, float, float, float]]] = {}
    try:
        for _ in range(args.rounds):
            for name, (_, _, workers, per_tx) in configs.items():
                n = args.n if per_tx != 0 else args.n // 2
                for w in range(1, workers + 1):
                    label = f"{name}, {w} worker{'s' if w > 1 else ''}" if workers > 1 else name
                    results.setdefault(label, []).append(pools[name].run(n, per_tx, w))
    finally:
        for pool in pools.values():
            pool.close()
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as cleanup:
            cleanup.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(4)) for k, v in results.items()}
    print(f"\n{os.cpu_count()} cores · median of {args.rounds} interleaved rounds · {args.n:,} transitions "
          f"per worker per round\n")
    print(f"{'configuration':<52} {'tr/s':>8} {'µs/tr':>7} {'worker CPU':>11} {'server CPU':>11} {'others':>7}")
    for name, (rate, wcpu, scpu, other) in med.items():
        server = f"{scpu:8.1f} µs" if name.startswith("PostgreSQL") else "—"
        print(f"{name:<52} {rate:8,.0f} {1e6 / rate:7.1f} {wcpu:8.1f} µs {server:>11} {other:7.0%}")
    others = statistics.median(x[3] for v in results.values() for x in v)
    print("('others': share of all cores busy with other processes during the round: other tenants, the driver)")
    if others > 0.15:
        print(f"\nWARNING: other processes kept {others:.0%} of this machine's cores busy during the rounds; "
              "the 1 → 2 worker ratio below measures contention with them, not procflow. Rerun when idle.")
    print("\n1 → 2 workers (target ≥ 1.6×):")
    for mode in ("PostgreSQL, synchronous_commit=on", "PostgreSQL, synchronous_commit=off",
                 "PostgreSQL, sync on, group commit of 100"):
        one, two = med[f"{mode}, 1 worker"][0], med[f"{mode}, 2 workers"][0]
        print(f"  {mode:<48} {two / one:5.2f}×  {'OK' if two / one >= 1.6 else 'below target'}")
    off1 = med["PostgreSQL, synchronous_commit=off, 1 worker"]
    busy = off1[1] + off1[2]  # CPU per transition, worker + server
    print(f"\nwhat competes for the {os.cpu_count()} cores (sync off, 1 worker): the worker process (engine + psycopg)"
          f" {off1[1]:.0f} µs and the PostgreSQL backend + WAL writer {off1[2]:.0f} µs of CPU per transition, "
          f"~{busy:.0f} µs together; the driver (this script) is idle while a round runs. "
          f"With every core busy the ceiling here is ~{(os.cpu_count() or 1) * 1e6 / busy:,.0f} tr/s; "
          "other tenants of this machine take their share too.")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
