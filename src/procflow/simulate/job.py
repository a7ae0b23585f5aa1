"""The whole main job: fresh (or resumed) store, bundled procedures and bundles, simulated run, report."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Any

from procflow.bundle import BundleCoordinator
from procflow.calendar import WorkingCalendar
from procflow.clock import FakeClock
from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.errors import StoreError
from procflow.official import OfficialTally
from procflow.simulate.faults import holiday_days
from procflow.simulate.result import SimulationResult
from procflow.simulate.runner import Simulator
from procflow.simulate.scenario import Scenario
from procflow.simulate.sync import Receiver, SyncPump
from procflow.simulate.tables import SimTables
from procflow.statistics import Report, build_report, bundle_summary
from procflow.store.base import open_store
from procflow.workers.scheduler import Scheduler
from procflow.workers.simtimers import SimulationTimers
from procflow.workers.timerstate import timer_report

__all__ = ["prepare_postgres", "prepare_sqlite_path", "run_simulation", "store_kind"]


def prepare_sqlite_path(path: str, *, overwrite: bool) -> None:
    """A simulation starts from an empty store. It replaces an earlier simulation's store; an application's
    store (one not created by ``procflow simulate``, or from before that marker) or a foreign file only with
    ``overwrite``: one typo in ``--db`` must not delete an agency's dossiers."""
    if path == ":memory:" or not os.path.exists(path):
        return
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a SQLite store file; choose another --db")
    what = store_kind(path)
    if what != "simulation" and not overwrite:
        if what == "foreign":
            raise StoreError(f"{path} exists and is not a procflow store; choose another --db, or pass --overwrite "
                             "to replace it")
        raise StoreError(f"{path} is an application's procflow store ({what}), not one made by `procflow "
                         "simulate`; refusing to replace it — choose another --db, or pass --overwrite to delete it "
                         "(back it up first: `procflow backup`)")
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def store_kind(path: str) -> str:
    """``simulation`` for a store ``procflow simulate`` created; ``foreign`` for a file that is no procflow store;
    otherwise a short description of the application store (marker absent: made before it, so an application's)."""
    from procflow.store.sqlite import sqlite_store_kind

    return sqlite_store_kind(path)


def prepare_postgres(store: Any, db: str, *, overwrite: bool) -> None:
    """A simulation starts from an empty store: on PostgreSQL, empty procflow's tables only when told to."""
    from procflow.store.pg_codec import redact

    used = store.used_rows()
    if used and not overwrite:
        raise StoreError(f"{redact(db)} already holds {used:,} dossier/sequence rows; pass --overwrite to empty "
                         "procflow's tables first")
    if used:
        store.empty_all_tables()


def simulation_calendar(scenario: Scenario) -> WorkingCalendar:
    """The working calendar of a run: the national one, plus the days a ``holiday-week`` fault declares off."""
    base = WorkingCalendar()
    days = holiday_days(scenario.faults, scenario.start, base)
    return WorkingCalendar(extra_days_off=days) if days else base


def run_simulation(scenario: Scenario, db: str = ":memory:", *, overwrite: bool = False,
                   progress: Callable[[float], None] | None = None, resume: bool = False,
                   receiver: Receiver | None = None,
                   portal: Mapping[str, Any] | None = None,
                   definitions: Sequence[ProcedureDefinition] = ()) -> tuple[SimulationResult, Report, Engine]:
    """Simulate ``scenario`` on the store ``db`` and report on it. The caller closes ``engine.store``.

    A SQLite file or PostgreSQL store gets a checkpoint in every group commit; ``resume=True`` continues
    from it (and starts afresh when there is none), ending with the store and report of an uninterrupted
    run. A fresh run on PostgreSQL needs empty procflow tables, or ``overwrite`` to empty them.
    ``receiver`` gets the ``portal.status`` messages (implies ``scenario.portal_sync``).
    ``portal`` (options of ``procflow.simulate.portal.PortalRun``: ``portal_url``, ``local``, ``fail_rate``)
    delivers them to a national-portal adapter over HTTP through the outbox, then reconciles.
    ``definitions`` are registered beside the bundled procedures (a catalogue run).
    """
    postgres = db.startswith(("postgresql://", "postgres://"))
    path = db.removeprefix("sqlite:///")
    if postgres:
        store = open_store(db)
        try:
            resuming = resume and SimTables(store).load_checkpoint() is not None
            if not resuming:
                prepare_postgres(store, db, overwrite=overwrite)
        except BaseException:
            store.close()
            raise
    else:
        resuming = resume and SimTables.has_checkpoint(path)
        if not resuming:
            prepare_sqlite_path(path, overwrite=overwrite)
        store = open_store(db, created_by="simulation")
    calendar = simulation_calendar(scenario)
    clock = FakeClock(datetime.combine(scenario.start, time(0), calendar.tz))
    sync = scenario.portal_sync or receiver is not None or portal is not None
    engine = Engine(store, calendar=calendar, clock=clock,
                    outbox_rules=[topic_rule([status_sync_topic(store)])] if sync else ())
    for definition in bundled_definitions():
        engine.register(definition)
    for definition in definitions:  # e.g. a province's catalogue, imported in memory (procflow.catalogue)
        engine.register(definition)
    known = {d.code for d in engine.definitions()}
    bundles = BundleCoordinator(engine) if any(c not in known for c in scenario.procedure_mix) else None
    after_commit: Callable[[Simulator, bool], None] | None = SyncPump(receiver) if receiver is not None else None
    portal_run = None
    if portal is not None:
        from procflow.simulate.portal import PortalRun

        portal_run = after_commit = PortalRun(engine, seed=scenario.seed, **portal)
    sim = Simulator(engine, scenario, progress=progress, bundles=bundles,
                    checkpoints=postgres or path != ":memory:", resume=resuming,
                    after_commit=after_commit,
                    timers=SimulationTimers(Scheduler(engine, batch=2000)))  # due timers fire on simulated time
    try:
        result = sim.run()
    except BaseException:
        if portal_run is not None:
            portal_run.close()
        raise
    if sim.bundles is not None:
        result.bundle_summary = bundle_summary(sim.bundles.iter_bundles(), calendar, clock.now(),
                                               definitions=sim.bundles.definitions())
    definitions_by_key = {d.key: d for d in engine.definitions()}
    # the official reporting table is counted in the same pass over the store as the report (one read, not two)
    tally = OfficialTally(definitions_by_key, start=result.start, at=clock.now(),
                          online=lambda d: d.id in result.online_ids)
    report = build_report(tally.feed(engine.store.iter_dossiers()), definitions_by_key, calendar,
                          engine.registry, clock.now())
    result.official_table = tally.table()
    report.extra["simulation"] = {
        "province": result.province.name, "province_code": result.province.code, "seed": scenario.seed,
        "days": scenario.days, "start": scenario.start.isoformat(), "filed": result.filed,
        "online": result.online, "transitions": result.fired, "refused": result.refused,
    }
    report.extra["timers"] = timer_report(engine.store)
    if portal_run is not None:
        report.extra["portal"] = portal_run.finish().to_dict()
    return result, report, engine
