"""The embedded default store: one SQLite file in WAL mode.

"Durable" means committed with ``synchronous=NORMAL`` in WAL mode: a committed transition survives a
process crash; a power loss may lose the last moments. ``synchronous="FULL"`` is one argument away.
The hot path is one ``UPDATE … WHERE id=? AND revision=?`` that updates only what changed, one event
insert and (only for subscribed hooks) outbox inserts, with statements reused from sqlite3's cache.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from procflow.dossier import Dossier, DossierEvent, sla_from_dict, sla_to_dict
from procflow.errors import ConcurrencyConflict, DossierNotFound, StoreError
from procflow.jsontext import dumps as _dumps
from procflow.jsontext import isotext
from procflow.store import migrations
from procflow.store.base import AuditEntry, OutboxMessage
from procflow.store.ddl import SQLITE_V1_SCHEMA
from procflow.store.officials_rows import SQLiteOfficials
from procflow.store.sqlite_anchor import SQLiteAnchor
from procflow.store.sqlite_queues import SQLiteQueues, _iso
from procflow.store.sqlite_records import (
    SQLiteRecords,
    check_sqlite_path,
    sqlite_has_checkpoint,
    sqlite_is_store,
    sqlite_problem,
    sqlite_store_kind,
    sqlite_table_count,
    sqlite_table_names,
    sqlite_table_rows,
)

__all__ = [
    "CREATORS", "SCHEMA_VERSION", "SQLiteStore", "check_sqlite_path", "sqlite_has_checkpoint", "sqlite_is_store",
    "sqlite_problem", "sqlite_store_kind", "sqlite_table_count", "sqlite_table_names", "sqlite_table_rows",
]

CREATORS = ("application", "simulation")

SCHEMA_VERSION = migrations.latest("sqlite")

_DOSSIER_COLS = ("id, procedure, definition_version, state, status, custodian, agencies, location_independent,"
                 " received_at, updated_at, sla, step_due_at, data, revision")
_GET = (f"SELECT {_DOSSIER_COLS}, (SELECT hash FROM events WHERE dossier_id=dossiers.id AND seq=dossiers.revision)"
        " FROM dossiers WHERE id=?")
_EVENT_COLS = ("dossier_id, seq, at, kind, trigger, from_state, to_state, status, actor, agency, custodian,"
               " definition_version, effects, note, prev_hash, hash")
_INSERT_EVENT = f"INSERT INTO events ({_EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_OUTBOX = ("INSERT INTO outbox (topic, key, dossier_id, payload, created_at, available_at)"
                  " VALUES (?,?,?,?,?,?)")
_OPTIONAL = ("sla", "step_due_at", "data", "agencies")
# WAL pages between automatic checkpoints (SQLite's default is 1,000). Each checkpoint fsyncs the WAL and the
# file and copies every distinct page: a fire on a cold dossier dirties two or three pages no neighbour
# shares, so checkpointing 4× less often cut its cost by ~20-30 % (issue 17, docs/operating/scale.md).
WAL_AUTOCHECKPOINT = 4000


class SQLiteStore(SQLiteRecords, SQLiteOfficials, SQLiteAnchor, SQLiteQueues):
    """A SQLite file (or ``:memory:``). One connection, used from one thread at a time."""

    def __init__(self, path: str = ":memory:", *, synchronous: str = "NORMAL", cache_mb: int = 64,
                 timeout: float = 30.0, created_by: str = "application", upgrade: bool = True,
                 wal_autocheckpoint: int = WAL_AUTOCHECKPOINT) -> None:
        """``created_by`` is recorded in a new store (``simulation`` or ``application``: ``procflow simulate``
        replaces only the former). ``upgrade=False`` opens for reading: a store whose schema is older than
        this procflow is refused (``procflow db upgrade``) instead of migrated under the reader's feet.
        ``wal_autocheckpoint`` pages (×4 kB of WAL file) between checkpoints; 0 leaves them to the caller."""
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StoreError(f"synchronous must be NORMAL or FULL (or OFF/EXTRA), got {synchronous!r}")
        if created_by not in CREATORS:
            raise StoreError(f"created_by must be one of {', '.join(CREATORS)}, got {created_by!r}")
        if type(wal_autocheckpoint) is not int or wal_autocheckpoint < 0:
            raise StoreError(f"wal_autocheckpoint must be a number of pages >= 0, got {wal_autocheckpoint!r}")
        if not path:
            raise StoreError("empty store path: name a SQLite file, or ':memory:' for a throw-away store")
        self.path = path
        self.timeout = timeout
        check_sqlite_path(path)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False,
                                       cached_statements=256)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {path}: {exc}") from exc
        try:
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise StoreError(f"{path} is a SQLite database but not a procflow store (it has no 'meta' table);"
                                 " choose another --db")
            self._db.execute("PRAGMA journal_mode=WAL")  # already WAL for an existing store: no lock taken
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
            self._db.execute(f"PRAGMA wal_autocheckpoint={wal_autocheckpoint}")
            self._db.execute("PRAGMA foreign_keys=OFF")
            self._depth = 0
            # Set when a write fails half-way inside a caller's batch: a caught error there must not let the
            # batch commit a snapshot without its event or outbox rows (invariant 2); the batch then rolls back.
            self._rollback_only: str | None = None
            self._update_sql: dict[frozenset[str], str] = {}
            self._migrate(created_by=created_by if not tables else None, upgrade=upgrade)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(sqlite_problem(path, exc)) from exc
        except BaseException:
            self._db.close()
            raise

    # -- schema -----------------------------------------------------------------------------------------
    def _migrate(self, *, created_by: str | None, upgrade: bool) -> None:
        """Bring the schema up to date — but look first, without any lock: opening a current store writes
        nothing and never waits for another process's write lock (readers must not queue behind writers)."""
        if created_by is None:  # an existing store
            st = migrations.sqlite_status(self._db)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            current = max(st.current, int(row[0]) if row is not None else 0)
            if current > st.latest:
                raise StoreError(f"{self.path}: schema version {current} is newer than this procflow "
                                 f"understands ({st.latest}); upgrade procflow")
            if not st.pending:
                return
            if not upgrade:
                raise StoreError(f"{self.path}: schema version {st.current} is older than this procflow's "
                                 f"({st.latest}); run `procflow db upgrade --db {self.path}` first")
        with self.transaction():
            for stmt in SQLITE_V1_SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and int(row[0]) > migrations.latest("sqlite"):
                raise StoreError(f"{self.path}: schema version {row[0]} is newer than this procflow "
                                 f"understands ({migrations.latest('sqlite')}); upgrade procflow")
            migrations.upgrade_sqlite(self._db, path=self.path)  # later versions (2: timers)
            if created_by is not None:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('created_by', ?)", (created_by,))

    @property
    def created_by(self) -> str:
        """``simulation`` or ``application``; a store from before the marker counts as an application's."""
        row = self._db.execute("SELECT value FROM meta WHERE key='created_by'").fetchone()
        return "application" if row is None else str(row[0])

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    # -- transactions -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        self._rollback_only = None
        try:
            yield
        except BaseException:
            self._depth = 0
            self._rollback_only = None
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        if self._rollback_only is not None:
            reason, self._rollback_only = self._rollback_only, None
            self._db.execute("ROLLBACK")
            raise StoreError(f"the group commit was rolled back, nothing in it was stored: a transition inside "
                             f"it failed half-way ({reason})")
        self._commit()

    batch = transaction

    def _begin(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(sqlite_problem(self.path, exc, self.timeout)) from exc

    def _commit(self) -> None:
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            raise StoreError(sqlite_problem(self.path, exc, self.timeout)) from exc

    def _half_written(self, dossier_id: str, exc: BaseException) -> None:
        if self._rollback_only is None:  # the outermost transaction() reads (and clears) it
            self._rollback_only = f"dossier {dossier_id}: {exc}"

    # -- definitions ------------------------------------------------------------------------------------
    def register_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        with self.transaction():
            row = self._db.execute("SELECT content_hash FROM definitions WHERE code=? AND version=?",
                                   (code, version)).fetchone()
            if row is None:
                self._db.execute("INSERT INTO definitions VALUES (?,?,?,?)", (code, version, content_hash, source))
            elif row[0] != content_hash:
                raise StoreError(f"procedure {code} version {version} is already registered with different "
                                 f"content (hash {row[0][:12]}… vs {content_hash[:12]}…); give the new "
                                 "content a new version number")

    def definition_sources(self) -> list[tuple[str, int, str]]:
        return list(self._db.execute("SELECT code, version, source FROM definitions ORDER BY code, version"))

    # -- dossiers ---------------------------------------------------------------------------------------
    def next_sequence(self, agency: str, day: str) -> int:
        with self.transaction():
            return int(self._db.execute(
                "INSERT INTO sequences VALUES (?,?,1) ON CONFLICT (agency, day) DO UPDATE SET last=last+1 "
                "RETURNING last", (agency, day)).fetchone()[0])

    # A store that takes a state change's timer armings with its snapshot (``arm=``) writes them in the same
    # transaction; ``procflow.engine.eventwriter`` uses it instead of a transaction around ``save_timers``.
    writes_armings = True

    def insert_dossier(self, dossier: Dossier, event: DossierEvent, outbox: Sequence[OutboxMessage], *,
                       arm: Sequence[tuple[str, datetime, bool]] = ()) -> None:
        d = dossier
        with self.transaction():
            try:
                self._db.execute(
                    f"INSERT INTO dossiers ({_DOSSIER_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (d.id, d.procedure, d.definition_version, d.state, d.status, d.custodian,
                     _dumps(d.agencies), int(d.location_independent), isotext(d.received_at),
                     isotext(d.updated_at), _dumps(sla_to_dict(d.sla)), _iso(d.step_due_at),
                     _dumps(d.data), d.revision))
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"dossier {d.id} already exists") from exc
            try:
                self._write_event(event, outbox)
                if arm:
                    self.save_timers(d.id, seq=event.seq, state=d.state, arm=arm)
            except BaseException as exc:
                self._half_written(d.id, exc)
                raise

    def _write_event(self, e: DossierEvent, outbox: Sequence[OutboxMessage], at: str | None = None) -> None:
        at = at or isotext(e.at)
        self._db.execute(_INSERT_EVENT, (e.dossier_id, e.seq, at, e.kind, e.trigger, e.from_state, e.to_state,
                                         e.status, e.actor, e.agency, e.custodian, e.definition_version,
                                         e.effects_json(), e.note, e.prev_hash, e.hash))
        for m in outbox:
            try:
                self._db.execute(_INSERT_OUTBOX, (m.topic, m.key, m.dossier_id, _dumps(m.payload), at, at))
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"dossier {e.dossier_id} event {e.seq}: outbox key {m.key!r} already exists "
                                 "(idempotency keys must be unique per effect)") from exc

    def _update_statement(self, changed: frozenset[str]) -> str:
        sql = self._update_sql.get(changed)
        if sql is None:
            sets = ["state=?", "status=?", "custodian=?", "definition_version=?", "updated_at=?", "revision=?"]
            sets += [f"{c}=?" for c in _OPTIONAL if c in changed]
            sql = f"UPDATE dossiers SET {', '.join(sets)} WHERE id=? AND revision=?"
            self._update_sql[changed] = sql
        return sql

    def apply(self, dossier: Dossier, expected_revision: int, event: DossierEvent,
              outbox: Sequence[OutboxMessage], changed: frozenset[str], *,
              arm: Sequence[tuple[str, datetime, bool]] = ()) -> None:
        d = dossier
        at = isotext(event.at)
        params: list[Any] = [d.state, d.status, d.custodian, d.definition_version, at, d.revision]
        if changed:
            if "sla" in changed:
                params.append(_dumps(sla_to_dict(d.sla)))
            if "step_due_at" in changed:
                params.append(_iso(d.step_due_at))
            if "data" in changed:
                params.append(_dumps(d.data))
            if "agencies" in changed:
                params.append(_dumps(d.agencies))
        params += (d.id, expected_revision)
        db = self._db
        own = not self._depth  # inlined transaction(): this is the hot path
        if own:
            self._begin()
            self._depth = 1
        try:
            if db.execute(self._update_statement(changed), params).rowcount != 1:
                row = db.execute("SELECT revision FROM dossiers WHERE id=?", (d.id,)).fetchone()
                if row is None:
                    raise DossierNotFound(d.id)
                raise ConcurrencyConflict(dossier_id=d.id, expected_version=expected_revision,
                                          actual_version=row[0])
            try:
                self._write_event(event, outbox, at)
                if arm:
                    self.save_timers(d.id, seq=event.seq, state=d.state, arm=arm)
            except BaseException as exc:
                if not own:
                    self._half_written(d.id, exc)
                raise
        except BaseException:
            if own:
                self._depth = 0
                db.execute("ROLLBACK")
            raise
        if own:
            self._depth = 0
            self._commit()

    def get(self, dossier_id: str) -> Dossier:
        return self.get_with_head(dossier_id)[0]

    def get_with_head(self, dossier_id: str) -> tuple[Dossier, bytes | None]:
        """The record and its hash-chain head (the last event's hash, one index probe in the same query), so
        that the engine's next fire on it does not read the store again to link its event."""
        row = self._db.execute(_GET, (dossier_id,)).fetchone()
        if row is None:
            raise DossierNotFound(dossier_id)
        return _dossier(row), row[14]

    def dossier_state(self, dossier_id: str) -> tuple[str, int, str] | None:
        """``(procedure, definition version, state)``, or None: one index probe, nothing decoded. The timer
        scheduler settles most queued armings (those the dossier has left) from this alone."""
        row = self._db.execute("SELECT procedure, definition_version, state FROM dossiers WHERE id=?",
                               (dossier_id,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def iter_dossiers(self) -> Iterator[Dossier]:
        for row in self._db.execute(f"SELECT {_DOSSIER_COLS} FROM dossiers ORDER BY id"):
            yield _dossier(row)

    def dossier_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM dossiers ORDER BY id")]

    def count_dossiers(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM dossiers").fetchone()[0])

    def events(self, dossier_id: str) -> list[DossierEvent]:
        rows = self._db.execute(f"SELECT {_EVENT_COLS} FROM events WHERE dossier_id=? ORDER BY seq",
                                (dossier_id,))
        return [_event(r) for r in rows]

    # -- the Civil Code recount (schema version 6; procflow.recount) ----------------------------------------
    def due_recount_pending(self) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT dossier_id FROM due_recount WHERE done_at IS NULL ORDER BY dossier_id")]

    def mark_due_recounted(self, dossier_id: str, *, at: datetime) -> None:
        with self.transaction():
            self._db.execute("UPDATE due_recount SET done_at=? WHERE dossier_id=?", (at.isoformat(), dossier_id))

    # -- audit ------------------------------------------------------------------------------------------
    def record_audit(self, entry: AuditEntry) -> None:
        with self.transaction():
            self._insert_audit(entry)  # linked to the previous row (procflow.store.sqlite_anchor)

    def audit(self, *, dossier_id: str | None = None, actor: str | None = None) -> list[AuditEntry]:
        where, params = [], []
        if dossier_id is not None:
            where.append("dossier_id=?")
            params.append(dossier_id)
        if actor is not None:
            where.append("actor=?")
            params.append(actor)
        sql = "SELECT at, actor, agency, dossier_id, action, outcome, detail, purpose FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [AuditEntry(datetime.fromisoformat(r[0]), *r[1:]) for r in self._db.execute(sql + " ORDER BY id",
                                                                                          params)]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """SQL on the store's connection, inside any open transaction: for this backend's own modules and tests
        only. Features use the named methods of the contracts in ``procflow.store.base``."""
        return list(self._db.execute(sql, params))

    def close(self) -> None:
        self._db.close()


def _dossier(r: Sequence[Any]) -> Dossier:
    return Dossier(id=r[0], procedure=r[1], definition_version=r[2], state=r[3], status=r[4], custodian=r[5],
                   agencies=json.loads(r[6]), location_independent=bool(r[7]),
                   received_at=datetime.fromisoformat(r[8]), updated_at=datetime.fromisoformat(r[9]),
                   sla=sla_from_dict(json.loads(r[10])),
                   step_due_at=None if r[11] is None else datetime.fromisoformat(r[11]),
                   data=json.loads(r[12]), revision=r[13])


def _event(r: Sequence[Any]) -> DossierEvent:
    return DossierEvent(dossier_id=r[0], seq=r[1], at=datetime.fromisoformat(r[2]), kind=r[3], trigger=r[4],
                        from_state=r[5], to_state=r[6], status=r[7], actor=r[8], agency=r[9], custodian=r[10],
                        definition_version=r[11], effects=None if r[12] is None else json.loads(r[12]),
                        note=r[13], prev_hash=r[14], hash=r[15])


