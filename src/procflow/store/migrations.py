"""Versioned schema migrations for both backends (``procflow db upgrade`` / ``procflow db status``).

Each backend has an ordered list of steps; ``procflow_migrations`` records which ran and when. Steps are
plain SQL so a DBA can read exactly what an upgrade will do, and they run in one transaction with the
version row, so an interrupted upgrade leaves the schema at the previous version, never in between.
PostgreSQL upgrades take an advisory lock first: several workers starting at once against an empty
database must not race to create the same tables.

SQLite's version 1 is the schema text ``SQLiteStore`` already ships (``procflow.store.ddl.SQLITE_V1_SCHEMA``);
a file created before this table existed is adopted as version 1 rather than re-created.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from procflow.errors import StoreError
from procflow.store.ddl import (
    _DUE_RECOUNT,
    _OFFICIALS,
    _POSTGRES_ANCHOR,
    _POSTGRES_RECORDS,
    _POSTGRES_V1,
    _POSTGRES_V2,
    _POSTGRES_V3,
    _POSTGRES_V4,
    _SQLITE_ANCHOR,
    _SQLITE_LEAN_QUEUES,
    _SQLITE_RECORDS,
    _SQLITE_V2,
    _SQLITE_V3,
    _SQLITE_V4,
    _SQLITE_V5,
    _VAULT_KEYS,
    _sqlite_v1,
)

__all__ = [
    "POSTGRES",
    "SQLITE",
    "AppliedMigration",
    "Migration",
    "MigrationStatus",
    "latest",
    "postgres_status",
    "sqlite_status",
    "upgrade_postgres",
    "upgrade_sqlite",
    "upgrade_sqlite_file",
]


@attrs.frozen
class Migration:
    """One schema step. ``sql`` is a callable so SQLite's step 1 can read the store module lazily."""

    version: int
    name: str
    sql: Callable[[], str]

    def statements(self) -> list[str]:
        return [s.strip() for s in self.sql().split(";") if s.strip()]


@attrs.frozen
class AppliedMigration:
    version: int
    name: str
    applied_at: str


@attrs.frozen
class MigrationStatus:
    backend: str
    current: int
    latest: int
    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.latest


SQLITE: tuple[Migration, ...] = (Migration(1, "initial schema", _sqlite_v1),
                                 Migration(2, "timers", lambda: _SQLITE_V2),
                                 Migration(3, "personal data", lambda: _SQLITE_V3),
                                 Migration(4, "exchange", lambda: _SQLITE_V4),
                                 Migration(5, "append-ordered event log and vault", lambda: _SQLITE_V5),
                                 Migration(6, "recount due dates (Civil Code art. 147)", lambda: _DUE_RECOUNT),
                                 Migration(7, "vault key ids", lambda: _VAULT_KEYS),
                                 Migration(8, "bundles and simulator tables", lambda: _SQLITE_RECORDS),
                                 Migration(9, "officials directory", lambda: _OFFICIALS),
                                 Migration(10, "anchored log", lambda: _SQLITE_ANCHOR),
                                 Migration(11, "lean queues (no AUTOINCREMENT)", lambda: _SQLITE_LEAN_QUEUES))
POSTGRES: tuple[Migration, ...] = (Migration(1, "initial schema", lambda: _POSTGRES_V1),
                                   Migration(2, "timers", lambda: _POSTGRES_V2),
                                   Migration(3, "personal data", lambda: _POSTGRES_V3),
                                   Migration(4, "exchange", lambda: _POSTGRES_V4),
                                   Migration(5, "recount due dates (Civil Code art. 147)",
                                             lambda: _DUE_RECOUNT),
                                   Migration(6, "vault key ids", lambda: _VAULT_KEYS),
                                   Migration(7, "bundles and simulator tables", lambda: _POSTGRES_RECORDS),
                                   Migration(8, "officials directory", lambda: _OFFICIALS),
                                   Migration(9, "anchored log", lambda: _POSTGRES_ANCHOR))
_STEPS = {"sqlite": SQLITE, "postgres": POSTGRES}


def latest(backend: str) -> int:
    return _STEPS[backend][-1].version


def _check_known(backend: str, where: str, versions: Sequence[int]) -> None:
    newest = max(versions, default=0)
    if newest > latest(backend):
        raise StoreError(f"{where}: schema version {newest} is newer than this procflow understands "
                         f"({latest(backend)}); upgrade procflow")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- SQLite ---------------------------------------------------------------------------------------------
_SQLITE_TABLE = ("CREATE TABLE IF NOT EXISTS procflow_migrations (version INTEGER PRIMARY KEY, "
                 "name TEXT NOT NULL, applied_at TEXT NOT NULL)")


def _sqlite_applied(db: sqlite3.Connection) -> list[AppliedMigration]:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "procflow_migrations" in names:
        return [AppliedMigration(*r) for r in
                db.execute("SELECT version, name, applied_at FROM procflow_migrations ORDER BY version")]
    if "meta" in names:  # a store from before the migration table: its meta row says which version it is
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None:
            return [AppliedMigration(v, "(adopted from meta.schema_version)", "")
                    for v in range(1, int(row[0]) + 1)]
    return []


def upgrade_sqlite(db: sqlite3.Connection, *, path: str = "") -> list[int]:
    """Apply pending steps; the caller holds the transaction (``SQLiteStore._migrate`` does).
    Returns the versions applied now."""
    applied = _sqlite_applied(db)
    _check_known("sqlite", path or "SQLite store", [a.version for a in applied])
    db.execute(_SQLITE_TABLE)
    recorded = {r[0] for r in db.execute("SELECT version FROM procflow_migrations")}
    for a in applied:  # adopt versions known from meta but not yet recorded
        if a.version not in recorded:
            db.execute("INSERT INTO procflow_migrations VALUES (?,?,?)",
                       (a.version, _name("sqlite", a.version), _now()))
    done = {a.version for a in applied}
    ran = []
    for m in _STEPS["sqlite"]:
        if m.version in done:
            continue
        for stmt in m.statements():
            try:
                db.execute(stmt)
            except sqlite3.OperationalError as exc:
                # SQLite has no ADD COLUMN IF NOT EXISTS (PostgreSQL's steps say it): a step re-run after its
                # version row was lost finds its column there already, which is what it wanted
                if not (stmt.upper().startswith("ALTER TABLE") and "duplicate column name" in str(exc)):
                    raise
        db.execute("INSERT INTO procflow_migrations VALUES (?,?,?)", (m.version, m.name, _now()))
        ran.append(m.version)
    if ran:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(latest("sqlite")),))
    return ran


def upgrade_sqlite_file(db: sqlite3.Connection, *, path: str = "") -> list[int]:
    """``upgrade_sqlite`` in its own write transaction (``procflow db upgrade`` on a connection it opened):
    all pending steps commit together or not at all."""
    db.execute("BEGIN IMMEDIATE")
    try:
        ran = upgrade_sqlite(db, path=path)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return ran


def sqlite_status(db: sqlite3.Connection) -> MigrationStatus:
    return _status("sqlite", _sqlite_applied(db))


def _name(backend: str, version: int) -> str:
    return next((m.name for m in _STEPS[backend] if m.version == version), "(unknown)")


def _status(backend: str, applied: list[AppliedMigration]) -> MigrationStatus:
    done = {a.version for a in applied}
    return MigrationStatus(backend=backend, current=max(done, default=0), latest=latest(backend),
                           applied=tuple(applied), pending=tuple(m for m in _STEPS[backend] if m.version not in done))


# -- PostgreSQL -----------------------------------------------------------------------------------------
_PG_TABLE = ("CREATE TABLE IF NOT EXISTS procflow_migrations (version integer PRIMARY KEY, name text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now())")


def _pg_applied(conn: Any) -> list[AppliedMigration]:
    exists = conn.execute("SELECT to_regclass('procflow_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    return [AppliedMigration(v, n, at.isoformat(timespec="seconds")) for v, n, at in
            conn.execute("SELECT version, name, applied_at FROM procflow_migrations ORDER BY version")]


def upgrade_postgres(conn: Any, *, where: str = "PostgreSQL store") -> list[int]:
    """Apply pending steps in one transaction on ``conn`` (a psycopg connection whose search_path names
    the target schema). Returns the versions applied now."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('procflow_migrations:' || current_schema()))")
        applied = _pg_applied(conn)
        _check_known("postgres", where, [a.version for a in applied])
        conn.execute(_PG_TABLE)
        done = {a.version for a in applied}
        ran = []
        for m in _STEPS["postgres"]:
            if m.version in done:
                continue
            for stmt in m.statements():
                conn.execute(stmt)
            conn.execute("INSERT INTO procflow_migrations (version, name) VALUES (%s, %s)", (m.version, m.name))
            ran.append(m.version)
        return ran


def postgres_status(conn: Any) -> MigrationStatus:
    return _status("postgres", _pg_applied(conn))
