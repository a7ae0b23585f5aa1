"""``procflow simulate --db postgresql://… --workers N``: the simulation's durable writes from N processes.

Why every process runs the whole event loop: the simulator draws every random choice from ONE seeded
stream in event order, officials of provincial agencies (land registration, tax) serve dossiers of every
commune from one queue, and timers fire across all dossiers in due order. A process that simulated only
"its" communes would draw different numbers and see different queues, so its run would not be the
single-process run. Instead each process runs the whole simulation against a private in-memory SQLite
replica (no I/O: the single-process run, minus durability) and also makes the durable writes to the shared
PostgreSQL store (the expensive part: a round trip and a commit) for the dossiers it owns, by a stable
hash of the dossier code. The shared store ends up holding exactly the dossiers, events, timers and
receipt numbers of the single-process run, so the report built from it is the same for a given seed.

What N processes buy is overlap of the durable writes' latency (round trips, commits, fsyncs), not less
simulation work: each process still decides everything. On a remote or fsync-bound database that is most
of the time; on a 2-core machine that also hosts the server, little (see docs/operating/scale.md).

Ownership: dossier rows, their events, timers, vault rows and audit entries belong to
``crc32(dossier id) % N``; an agency's receipt-number row to ``crc32(agency) % N`` (every process numbers
all dossiers; the owner also writes the counter and checks the two agree).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, time
from typing import Any

from procflow.bundle import BundleCoordinator
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Dossier, DossierEvent
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.errors import ProcflowError, StoreError, UsageError
from procflow.simulate.job import prepare_postgres, simulation_calendar
from procflow.simulate.result import SimulationResult
from procflow.simulate.runner import Simulator
from procflow.simulate.scenario import Scenario
from procflow.statistics import Report, build_report, bundle_summary
from procflow.store.base import AuditEntry, BundleEventRow, OfficialRow, OutboxMessage, Store, TimerRecord, open_store
from procflow.workers.scheduler import Scheduler
from procflow.workers.simtimers import SimulationTimers
from procflow.workers.timerstate import timer_report

__all__ = ["PartitionStore", "run_parallel_simulation"]


def _owner(key: str, workers: int) -> int:
    return zlib.crc32(key.encode()) % workers


class PartitionStore:
    """The store one simulation process sees: every write goes to ``replica`` (a private in-memory SQLite
    store holding the whole run, as the single-process store would), and writes about dossiers this
    process owns also go to ``primary`` (the shared PostgreSQL store). Reads come from the replica, so the
    simulator, the liên thông coordinator and the timer scheduler see exactly the single-process store.
    Bundles are owned like dossiers (by bundle id). Outbox delivery state is the replica's: the shared
    store's rows are for ``procflow worker`` processes to deliver.
    Vault rows are the exception: their SQL is per backend, so they live in one place, ``store_for``."""

    def __init__(self, primary: Store, index: int, workers: int) -> None:
        from procflow.store.sqlite import SQLiteStore

        self.primary = primary
        self.replica = SQLiteStore(":memory:")
        self.index = index
        self.workers = workers

    def owns(self, key: str) -> bool:
        return _owner(key, self.workers) == self.index

    def store_for(self, dossier_id: str) -> Any:
        """Where this process keeps ``dossier_id``'s vault rows (``procflow.privacy.vault`` routes through it)."""
        return self.primary if self.owns(dossier_id) else self.replica

    # -- the officials directory: every process registers the same staff; the first also in the shared store
    def save_officials(self, rows: Sequence[OfficialRow]) -> None:
        self.replica.save_officials(rows)
        if self.index == 0:
            self.primary.save_officials(rows)  # type: ignore[attr-defined]

    def official_row(self, official_id: str) -> OfficialRow | None:
        return self.replica.official_row(official_id)

    def official_rows(self) -> list[OfficialRow]:
        return self.replica.official_rows()

    def official_count(self) -> int:
        return self.replica.official_count()

    # -- writes: the replica always, the shared store for what this process owns --------------------------
    def next_sequence(self, agency: str, day: str) -> int:
        n = self.replica.next_sequence(agency, day)
        if self.owns(agency):
            stored = self.primary.next_sequence(agency, day)
            if stored != n:
                raise StoreError(f"receipt number {stored} for {agency} on {day} in the store, {n} in the "
                                 "simulation: the store was not empty when the simulation started")
        return n

    def insert_dossier(self, dossier: Dossier, event: DossierEvent, outbox: Sequence[OutboxMessage]) -> None:
        self.replica.insert_dossier(dossier, event, outbox)
        if self.owns(dossier.id):
            self.primary.insert_dossier(dossier, event, outbox)

    def apply(self, dossier: Dossier, expected_revision: int, event: DossierEvent,
              outbox: Sequence[OutboxMessage], changed: frozenset[str]) -> None:
        self.replica.apply(dossier, expected_revision, event, outbox, changed)
        if self.owns(dossier.id):
            self.primary.apply(dossier, expected_revision, event, outbox, changed)

    def save_timers(self, dossier_id: str, *, seq: int, state: str,
                    arm: Sequence[tuple[str, datetime, bool]] = (), cancel: Sequence[str] = (),
                    pause: Sequence[str] = ()) -> None:
        for store in self._writers(dossier_id):
            store.save_timers(dossier_id, seq=seq, state=state, arm=arm, cancel=cancel, pause=pause)

    def finish_timer(self, timer: TimerRecord, *, outcome: str, action: str, at: datetime, worker: str,
                     detail: str = "") -> None:
        for store in self._writers(timer.dossier_id):
            store.finish_timer(timer, outcome=outcome, action=action, at=at, worker=worker, detail=detail)

    def enqueue_outbox(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        mine = [m for m in messages if self.owns(m.dossier_id)]
        if mine:
            self.primary.enqueue_outbox(mine, now=now)
        return int(self.replica.enqueue_outbox(messages, now=now))

    def record_audit(self, entry: AuditEntry) -> None:
        for store in self._writers(entry.dossier_id if entry.dossier_id is not None else entry.agency):
            store.record_audit(entry)

    def register_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        self.replica.register_definition(code, version, content_hash, source)
        self.primary.register_definition(code, version, content_hash, source)

    # -- vault key ids: each simulation process seals with its own in-memory keys, so the ids it checks are
    # its own (the replica's); the shared store lists every process's too
    def record_vault_key(self, key_id: str) -> None:
        self.replica.record_vault_key(key_id)
        self.primary.record_vault_key(key_id)  # type: ignore[attr-defined]

    def vault_key_ids(self, *, exclude: Sequence[str] = ()) -> list[str]:
        return self.replica.vault_key_ids(exclude=exclude)

    def forget_vault_key(self, key_id: str) -> None:
        self.replica.forget_vault_key(key_id)
        self.primary.forget_vault_key(key_id)  # type: ignore[attr-defined]

    def mark_due_recounted(self, dossier_id: str, *, at: datetime) -> None:
        for store in self._writers(dossier_id):
            store.mark_due_recounted(dossier_id, at=at)

    # -- liên thông bundles: as dossiers, the replica always and the shared store for bundles owned -------
    def add_bundle_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        self.replica.add_bundle_definition(code, version, content_hash, source)
        if self.primary.bundle_definition_hash(code, version) is None:  # type: ignore[attr-defined]
            self.primary.add_bundle_definition(code, version, content_hash, source)  # type: ignore[attr-defined]

    def save_bundle(self, bundle_id: str, record: str, *, status: int, revision: int, event: BundleEventRow,
                    members: Mapping[str, str]) -> None:
        for store in self._writers(bundle_id):
            store.save_bundle(bundle_id, record, status=status, revision=revision, event=event, members=members)

    def _writers(self, key: str) -> tuple[Any, ...]:
        return (self.replica, self.primary) if self.owns(key) else (self.replica,)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with ExitStack() as stack:
            stack.enter_context(self.primary.transaction())
            stack.enter_context(self.replica.transaction())
            yield

    batch = transaction

    @property
    def in_transaction(self) -> bool:
        return bool(self.replica.in_transaction)

    # -- reads: the replica ---------------------------------------------------------------------------
    def definition_sources(self) -> list[tuple[str, int, str]]:
        return self.replica.definition_sources()

    def get(self, dossier_id: str) -> Dossier:
        return self.replica.get(dossier_id)

    def get_with_head(self, dossier_id: str) -> tuple[Dossier, bytes | None]:
        return self.replica.get_with_head(dossier_id)

    def events(self, dossier_id: str) -> list[DossierEvent]:
        return self.replica.events(dossier_id)

    def dossier_ids(self) -> list[str]:
        return self.replica.dossier_ids()

    def iter_dossiers(self) -> Iterator[Dossier]:
        return self.replica.iter_dossiers()

    def count_dossiers(self) -> int:
        return self.replica.count_dossiers()

    def outbox(self, *, status: str | None = None) -> list[dict[str, Any]]:
        return self.replica.outbox(status=status)

    def due_timers(self, *, now: datetime, limit: int = 500) -> list[TimerRecord]:
        return self.replica.due_timers(now=now, limit=limit)

    def timers(self, **kwargs: Any) -> list[TimerRecord]:
        return self.replica.timers(**kwargs)

    def timer_log(self, *, dossier_id: str | None = None) -> list[dict[str, Any]]:
        return self.replica.timer_log(dossier_id=dossier_id)

    def timer_counts(self) -> dict[tuple[str, str, str], int]:
        return self.replica.timer_counts()

    def due_recount_pending(self) -> list[str]:
        return self.replica.due_recount_pending()

    def audit(self, *, dossier_id: str | None = None, actor: str | None = None) -> list[AuditEntry]:
        return self.replica.audit(dossier_id=dossier_id, actor=actor)

    # -- outbox delivery: the simulation's own view (the replica). The shared store's rows are delivered
    # by ``procflow worker`` processes against it, as in production; a simulation worker never claims them.
    def claim_outbox(self, worker: str, *, now: datetime, limit: int = 100, lease_seconds: float = 60.0,
                     topics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return self.replica.claim_outbox(worker, now=now, limit=limit, lease_seconds=lease_seconds, topics=topics)

    def complete_outbox(self, message_id: int, worker: str, *, now: datetime) -> bool:
        return self.replica.complete_outbox(message_id, worker, now=now)

    def fail_outbox(self, message_id: int, worker: str, *, now: datetime, error: str,
                    retry_at: datetime | None) -> bool:
        return self.replica.fail_outbox(message_id, worker, now=now, error=error, retry_at=retry_at)

    def requeue_dead(self, message_ids: Sequence[int] | None, *, now: datetime) -> int:
        return self.replica.requeue_dead(message_ids, now=now)

    def release_outbox(self, worker: str, message_ids: Sequence[int] | None = None) -> int:
        return self.replica.release_outbox(worker, message_ids)

    def outbox_counts(self) -> dict[str, int]:
        return self.replica.outbox_counts()

    def bundle_definition_sources(self) -> list[tuple[str, int, str]]:
        return self.replica.bundle_definition_sources()

    def bundle_definition_hash(self, code: str, version: int) -> str | None:
        return self.replica.bundle_definition_hash(code, version)

    def bundle_record(self, bundle_id: str) -> str | None:
        return self.replica.bundle_record(bundle_id)

    def bundle_records(self) -> Iterator[str]:
        return self.replica.bundle_records()

    def bundle_events(self, bundle_id: str) -> list[BundleEventRow]:
        return self.replica.bundle_events(bundle_id)

    def bundle_member_of(self, dossier_id: str) -> tuple[str, str] | None:
        return self.replica.bundle_member_of(dossier_id)

    def bundle_membership(self, bundle_ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
        return self.replica.bundle_membership(bundle_ids)

    def event_hash(self, dossier_id: str, seq: int) -> bytes | None:
        return self.replica.event_hash(dossier_id, seq)

    def logged_dossier_ids(self) -> list[str]:
        return self.replica.logged_dossier_ids()

    def close(self) -> None:
        self.replica.close()
        self.primary.close()


def _engine(store: Any, scenario: Scenario, at: datetime | None = None) -> tuple[Engine, BundleCoordinator | None]:
    """The engine ``run_simulation`` builds (calendar with the scenario's days off, portal-sync outbox,
    bundled procedures and liên thông bundles), so both paths make the same decisions."""
    calendar = simulation_calendar(scenario)
    clock = FakeClock(at or datetime.combine(scenario.start, time(0), calendar.tz))
    engine = Engine(store, calendar=calendar, clock=clock,
                    outbox_rules=[topic_rule([status_sync_topic(store)])] if scenario.portal_sync else ())
    for definition in bundled_definitions():
        engine.register(definition)
    known = {d.code for d in engine.definitions()}
    bundles = BundleCoordinator(engine) if any(c not in known for c in scenario.procedure_mix) else None
    return engine, bundles


def _worker(db: str, options: dict[str, Any], scenario: Scenario, index: int, workers: int,
            progress: Any, results: Any) -> None:
    try:
        store = PartitionStore(open_store(db, **options), index, workers)
        try:
            engine, bundles = _engine(store, scenario)

            def report(fraction: float) -> None:
                progress[index] = fraction

            # as run_simulation: due timers fire on simulated time, in due order
            result = Simulator(engine, scenario, progress=report, bundles=bundles,
                               timers=SimulationTimers(Scheduler(engine, batch=2000))).run()
            if bundles is not None:  # the coordinator's bundles: from the replica, which holds the whole run
                result.bundle_summary = bundle_summary(bundles.iter_bundles(), engine.calendar, engine.clock.now(),
                                               definitions=bundles.definitions())
        finally:
            store.close()
        results.put(("ok", index, result))
    except BaseException:
        results.put(("error", index, traceback.format_exc()))
        raise SystemExit(1) from None


def _prepare(db: str, options: dict[str, Any], scenario: Scenario, *, overwrite: bool) -> None:
    """A simulation starts from an empty store; clear procflow's tables only when told to."""
    store = open_store(db, **options)
    try:
        prepare_postgres(store, db, overwrite=overwrite)
        _engine(store, scenario)  # registers the definitions once, before the workers start
    finally:
        store.close()


def run_parallel_simulation(scenario: Scenario, db: str, *, workers: int, overwrite: bool = False,
                            progress: Callable[[float], None] | None = None,
                            store_options: dict[str, Any] | None = None,
                            poll: float = 0.2) -> tuple[SimulationResult, Report, Engine]:
    """Run ``scenario`` with ``workers`` processes writing to the PostgreSQL store ``db``; the report
    equals ``run_simulation``'s for the same scenario. The caller closes ``engine.store``."""
    if not db.startswith(("postgresql://", "postgres://")):
        raise StoreError("several simulation workers need a PostgreSQL store (--db postgresql://…); "
                         "SQLite has one writer at a time")
    if workers < 1:
        raise UsageError("workers must be at least 1")
    options = dict(store_options or {})
    _prepare(db, options, scenario, overwrite=overwrite)
    ctx = mp.get_context("spawn")  # the parent may hold pool threads: never fork under them
    shared = ctx.Array("d", workers)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db, options, scenario, i, workers, shared, results),
                         name=f"procflow-sim-{i}") for i in range(workers)]
    for p in procs:
        p.start()
    outcomes: dict[int, SimulationResult] = {}
    try:
        while len(outcomes) < workers:
            try:
                status, index, payload = results.get(timeout=poll)
            except queue.Empty:  # report progress, notice dead workers
                if progress is not None:
                    progress(min(shared[:]))
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise ProcflowError(f"simulation worker {dead[0].name} died (exit code {dead[0].exitcode})") \
                        from None
                continue
            if status == "error":
                raise ProcflowError(f"simulation worker {index} failed:\n{payload}")
            outcomes[index] = payload
    finally:
        for p in procs:
            if p.is_alive() and len(outcomes) < workers:
                p.terminate()
            p.join()
        results.close()
        results.join_thread()
    result = outcomes[0]
    if any(other != result for other in outcomes.values()):  # all replay the same decisions; else a bug
        raise ProcflowError("simulation workers disagree on the run (same seed, different decisions)")
    engine, _ = _engine(open_store(db, **options), scenario, result.end)
    report = build_report(engine.store.iter_dossiers(), {d.key: d for d in engine.definitions()}, engine.calendar,
                          engine.registry, engine.clock.now())
    report.extra["simulation"] = {
        "province": result.province.name, "province_code": result.province.code, "seed": scenario.seed,
        "days": scenario.days, "start": scenario.start.isoformat(), "filed": result.filed,
        "online": result.online, "transitions": result.fired, "refused": result.refused,
    }
    report.extra["timers"] = timer_report(engine.store)
    return result, report, engine
