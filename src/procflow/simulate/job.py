"""The whole main job: fresh store, bundled procedures, simulated run, report."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path

from procflow.calendar import WorkingCalendar
from procflow.clock import FakeClock
from procflow.definition import bundled_definitions
from procflow.engine import Engine
from procflow.errors import StoreError
from procflow.simulate.runner import SimulationResult, Simulator
from procflow.simulate.scenario import Scenario
from procflow.statistics import Report, build_report
from procflow.store.base import open_store

__all__ = ["prepare_sqlite_path", "run_simulation"]


def prepare_sqlite_path(path: str, *, overwrite: bool) -> None:
    """A simulation starts from an empty store. Replace an earlier procflow store; never a foreign file."""
    if path == ":memory:" or not os.path.exists(path):
        return
    is_store = False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            is_store = db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.DatabaseError:
        is_store = False
    if not is_store and not overwrite:
        raise StoreError(f"{path} exists and is not a procflow store; choose another --db or pass --overwrite")
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def run_simulation(scenario: Scenario, db: str = ":memory:", *, overwrite: bool = False,
                   progress: Callable[[float], None] | None = None) -> tuple[SimulationResult, Report, Engine]:
    if not db.startswith(("postgresql://", "postgres://")):
        prepare_sqlite_path(db.removeprefix("sqlite:///"), overwrite=overwrite)
    calendar = WorkingCalendar()
    clock = FakeClock(datetime.combine(scenario.start, time(0), calendar.tz))
    engine = Engine(open_store(db), calendar=calendar, clock=clock)
    for definition in bundled_definitions():
        engine.register(definition)
    result = Simulator(engine, scenario, progress=progress).run()
    report = build_report(engine.store.iter_dossiers(), {d.key: d for d in engine.definitions()}, calendar,
                          engine.registry, clock.now())
    report.extra["simulation"] = {
        "province": result.province.name, "province_code": result.province.code, "seed": scenario.seed,
        "days": scenario.days, "start": scenario.start.isoformat(), "filed": result.filed,
        "online": result.online, "transitions": result.fired, "refused": result.refused,
    }
    return result, report, engine
