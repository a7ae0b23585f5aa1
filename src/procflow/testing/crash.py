"""The SIGKILL/restart harness: kill a command at chosen points, restart it, and check what survived.

``run_with_kills`` starts a command, kills it with SIGKILL (no chance to clean up, like a power cut of the
process) when a point is reached, starts it again, and repeats; the last start runs to completion. A point
is either seconds after the start, or — with ``probe`` — a value of some progress measure (rows in a
table), so kills land all along the run however fast the machine is, and mostly inside transactions.

``store_rows`` and ``check_store`` then say whether anything was lost, duplicated or left inconsistent in a
SQLite store (``postgres_count`` probes a PostgreSQL one while it is written): every table's rows in
comparable form (leaving out what legitimately differs between two
stores — delivery bookkeeping, vault ciphertext under per-store keys, migration timestamps), and the
invariants a crash must not break (each dossier's events numbered 1..revision, replay == snapshot).

Only the processes the harness started are signalled, by their process id.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from procflow.simulate.sync import FileReceiver

__all__ = [
    "Attempt",
    "CrashReport",
    "FileReceiver",
    "check_store",
    "kill_points",
    "postgres_count",
    "run_with_kills",
    "sqlite_count",
    "store_rows",
]

# columns that differ between two correct stores: delivery bookkeeping, ciphertext under each store's own
# random keys (values are compared opened, see check_store), when migrations ran, HMACs under per-store
# keys, and which worker process did something
IGNORED_COLUMNS: Mapping[str, frozenset[str]] = {
    "outbox": frozenset({"status", "attempts", "available_at", "claimed_by", "lease_until", "last_error",
                         "delivered_at"}),
    "vault": frozenset({"value", "key_id"}),  # key ids are fingerprints of each run's own random keys
    "vault_keys": frozenset({"key_id"}),
    "vault_index": frozenset({"digest"}),
    "procflow_migrations": frozenset({"applied_at"}),
    "timer_log": frozenset({"worker"}),  # which scheduler process fired it (host:pid)
}


@attrs.frozen
class Attempt:
    killed: bool
    returncode: int | None
    point: float | None
    seconds: float
    stdout: str
    stderr: str


@attrs.define
class CrashReport:
    attempts: list[Attempt] = attrs.field(factory=list)

    @property
    def kills(self) -> int:
        return sum(a.killed for a in self.attempts)

    @property
    def final(self) -> Attempt:
        return self.attempts[-1]


def kill_points(n: int, total: float, *, seed: int = 0, low: float = 0.03, high: float = 0.95) -> list[float]:
    """``n`` sorted random points between ``low`` and ``high`` of ``total`` (reproducible by ``seed``)."""
    rng = random.Random(seed)
    return sorted(rng.uniform(low, high) * total for _ in range(n))


def sqlite_count(path: str | os.PathLike[str], table: str) -> Callable[[], int]:
    """A probe: rows in ``table`` of a SQLite file another process is writing (0 until it exists)."""
    from procflow.store.sqlite import sqlite_table_count

    return lambda: sqlite_table_count(os.fspath(path), table)


def postgres_count(url: str, table: str, *, schema: str | None = None) -> Callable[[], int]:
    """A probe: rows in ``table`` of a PostgreSQL database (``schema``, when given) that another process is
    writing; 0 until the table exists or while the server does not answer."""
    from procflow.store.pg_records import postgres_table_count

    return lambda: postgres_table_count(url, table, schema=schema)


def run_with_kills(argv: Sequence[str], *, points: Sequence[float], probe: Callable[[], float] | None = None,
                   env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
                   timeout: float = 300.0, poll: float = 0.01, jitter: float = 0.05, seed: int = 0) -> CrashReport:
    """Run ``argv`` once per point, SIGKILLing it when the point is reached, then once more to the end.

    Without ``probe`` a point is seconds since that start; with it, the kill comes once ``probe()`` reaches
    the point (plus a random delay up to ``jitter`` seconds, so kills fall at varied places between two
    commits). A start that exits by itself before its point is recorded as not killed and ends the series.
    """
    rng = random.Random(seed)
    report = CrashReport()
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="procflow-crash-") as tmp:
        for i, point in enumerate([*points, None]):
            out_path, err_path = Path(tmp, f"{i}.out"), Path(tmp, f"{i}.err")
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                started = time.monotonic()
                proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=dict(env) if env else None,
                                        cwd=cwd, start_new_session=True)
                killed = False
                try:
                    while proc.poll() is None:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"{argv[0]}: no end within {timeout:.0f} s (attempt {i + 1})")
                        if point is not None:
                            reached = (probe() if probe is not None else time.monotonic() - started) >= point
                            if reached:
                                time.sleep(rng.uniform(0, jitter))
                                if proc.poll() is None:
                                    os.kill(proc.pid, signal.SIGKILL)
                                    killed = True
                                proc.wait()
                                break
                        time.sleep(poll)
                finally:
                    if proc.poll() is None:  # a failure of ours: do not leave our child running
                        os.kill(proc.pid, signal.SIGKILL)
                        proc.wait()
            report.attempts.append(Attempt(killed=killed, returncode=proc.returncode, point=point,
                                           seconds=time.monotonic() - started,
                                           stdout=out_path.read_text(encoding="utf-8", errors="replace"),
                                           stderr=err_path.read_text(encoding="utf-8", errors="replace")))
            if point is not None and not killed:
                break
    return report


def store_rows(path: str | os.PathLike[str], *,
               ignore: Mapping[str, frozenset[str]] = IGNORED_COLUMNS) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, sorted, without the ``ignore``d columns: equal for two stores that hold the same."""
    from procflow.store.sqlite import sqlite_table_rows

    return sqlite_table_rows(os.fspath(path), ignore)


def check_store(path: str | os.PathLike[str]) -> list[str]:
    """What a crash must never leave behind: gaps or repeats in a dossier's events, a snapshot its events do
    not reproduce, personal values the vault cannot open. Returns the problems found (empty: none)."""
    from procflow.dossier import replay
    from procflow.engine.core import Engine
    from procflow.store.sqlite import SQLiteStore

    problems: list[str] = []
    store = SQLiteStore(os.fspath(path))
    try:
        engine = Engine(store)
        for snapshot in store.iter_dossiers():
            events = store.events(snapshot.id)
            seqs = [e.seq for e in events]
            if seqs != list(range(1, snapshot.revision + 1)):
                problems.append(f"{snapshot.id}: events numbered {seqs[:5]}… for revision {snapshot.revision}")
                continue
            if replay(events) != snapshot:
                problems.append(f"{snapshot.id}: replaying its {len(events)} events does not give the snapshot")
            if engine.replay(snapshot.id) != engine.get(snapshot.id):
                problems.append(f"{snapshot.id}: opened replay differs from the opened snapshot")
    finally:
        store.close()
    return problems
