"""Versioned schema migrations on both backends, and the ``procflow db`` commands that drive them."""

from __future__ import annotations

import secrets
import sqlite3
import threading

import psycopg
import pytest
from operator_support import operator_env
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.errors import StoreError
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.store import migrations
from procflow.store.migrations import Migration
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()

# later steps are checked by adding a hypothetical one after the real ones (version 2 is timers, ...)
SQ = migrations.latest("sqlite")
PG = migrations.latest("postgres")
ALL_SQ = list(range(1, SQ + 1))
ALL_PG = ", ".join(map(str, range(1, PG + 1)))
STEP_2 = Migration(SQ + 1, "dossier tags", lambda: "ALTER TABLE dossiers ADD COLUMN tags TEXT")
BROKEN_2 = Migration(SQ + 1, "broken",
                     lambda: "CREATE TABLE half_done (x INTEGER); SELECT no_such_column FROM dossiers")


def _sqlite(path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


def _upgrade_sqlite(path) -> list[int]:
    db = _sqlite(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            ran = migrations.upgrade_sqlite(db, path=str(path))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return ran
    finally:
        db.close()


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


# -- SQLite ---------------------------------------------------------------------------------------------------
def test_sqlite_fresh_file_is_created_at_the_latest_version(tmp_path):
    path = tmp_path / "s.db"
    assert _upgrade_sqlite(path) == ALL_SQ
    assert _upgrade_sqlite(path) == []
    db = _sqlite(path)
    st = migrations.sqlite_status(db)
    assert (st.current, st.latest, st.up_to_date, [a.version for a in st.applied]) == (SQ, SQ, True, ALL_SQ)
    assert {"dossiers", "events", "outbox", "audit", "meta", "procflow_migrations"} <= _tables(db)
    db.close()
    store = SQLiteStore(str(path))  # the store accepts what the migration built
    assert store.schema_version == SQ and store.count_dossiers() == 0
    store.close()


def test_a_store_from_before_the_migration_table_is_adopted_not_recreated(tmp_path):
    path = tmp_path / "old.db"
    store = SQLiteStore(str(path))
    store.register_definition("x", 1, "h", "src")
    store.close()
    db = _sqlite(path)
    if "procflow_migrations" not in _tables(db):  # SQLiteStore._migrate may already call upgrade_sqlite
        st = migrations.sqlite_status(db)
        assert st.current == 1 and st.applied[0].name.startswith("(adopted")
    db.close()
    assert _upgrade_sqlite(path) == []
    db = _sqlite(path)
    assert [r[0] for r in db.execute("SELECT version FROM procflow_migrations")] == ALL_SQ
    assert db.execute("SELECT code FROM definitions").fetchall() == [("x",)]
    db.close()


def test_sqlite_later_steps_run_in_order_and_a_failing_step_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    _upgrade_sqlite(path)
    monkeypatch.setitem(migrations._STEPS, "sqlite", (*migrations.SQLITE, BROKEN_2))
    with pytest.raises(sqlite3.OperationalError):
        _upgrade_sqlite(path)
    db = _sqlite(path)
    assert "half_done" not in _tables(db) and migrations.sqlite_status(db).current == SQ
    db.close()
    monkeypatch.setitem(migrations._STEPS, "sqlite", (*migrations.SQLITE, STEP_2))
    assert _upgrade_sqlite(path) == [SQ + 1]
    db = _sqlite(path)
    assert "tags" in {r[1] for r in db.execute("PRAGMA table_info(dossiers)")}
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SQ + 1),)
    db.close()


def test_sqlite_lean_queues_keep_every_row_and_id(tmp_path, monkeypatch):
    """Version 11 rebuilds the outbox and the timer log without AUTOINCREMENT: rows and ids survive, new ids
    continue after the highest, and no commit touches sqlite_sequence for them any more."""
    path = tmp_path / "s.db"
    monkeypatch.setitem(migrations._STEPS, "sqlite", tuple(m for m in migrations.SQLITE if m.version <= 10))
    _upgrade_sqlite(path)
    db = _sqlite(path)
    for i in (1, 2, 5):
        db.execute("INSERT INTO outbox (id, topic, key, dossier_id, payload, created_at, status, available_at) "
                   "VALUES (?, 't', ?, 'd', '{}', 'x', ?, 'x')", (i, f"k{i}", "delivered" if i == 2 else "pending"))
    db.execute("INSERT INTO timer_log (id, dossier_id, name, armed_seq, action, fire_at, fired_at, outcome, worker)"
               " VALUES (7, 'd', 'n', 1, 'notify', 'x', 'x', 'fired', 'w')")
    db.close()
    monkeypatch.setitem(migrations._STEPS, "sqlite", migrations.SQLITE)
    assert _upgrade_sqlite(path) == list(range(11, SQ + 1))
    db = _sqlite(path)
    assert db.execute("SELECT id, key, status FROM outbox ORDER BY id").fetchall() == [
        (1, "k1", "pending"), (2, "k2", "delivered"), (5, "k5", "pending")]
    assert db.execute("SELECT id FROM timer_log").fetchall() == [(7,)]
    db.execute("INSERT INTO outbox (topic, key, dossier_id, payload, created_at, available_at) "
               "VALUES ('t', 'k6', 'd', '{}', 'x', 'x')")
    assert db.execute("SELECT max(id) FROM outbox").fetchone() == (6,)
    assert db.execute("SELECT count(*) FROM sqlite_sequence WHERE name IN ('outbox', 'timer_log')").fetchone() == (0,)
    for table in ("outbox", "timer_log"):
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
        assert "AUTOINCREMENT" not in sql
    with pytest.raises(sqlite3.IntegrityError):  # the idempotency key stays unique
        db.execute("INSERT INTO outbox (topic, key, dossier_id, payload, created_at, available_at) "
                   "VALUES ('t', 'k1', 'd', '{}', 'x', 'x')")
    db.close()


def test_sqlite_newer_than_this_procflow_is_refused(tmp_path):
    path = tmp_path / "s.db"
    _upgrade_sqlite(path)
    db = _sqlite(path)
    db.execute("INSERT INTO procflow_migrations VALUES (99, 'from the future', '2030-01-01')")
    db.close()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        _upgrade_sqlite(path)


# -- PostgreSQL -----------------------------------------------------------------------------------------------
@pytest.fixture
def fresh_schema(pg_url):
    name = f"procflow_mig_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def test_postgres_store_creates_its_schema_and_refuses_a_stale_one(pg_url, fresh_schema):
    with pytest.raises(StoreError, match="procflow db upgrade"):
        PostgresStore(pg_url, schema=fresh_schema, migrate=False)
    store = PostgresStore(pg_url, schema=fresh_schema)
    assert store.schema_version == PG
    store._execute("INSERT INTO procflow_migrations (version, name) VALUES (99, 'from the future')")
    store.close()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        PostgresStore(pg_url, schema=fresh_schema)


def test_postgres_workers_starting_together_migrate_once(pg_url, fresh_schema):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            PostgresStore(pg_url, schema=fresh_schema, pool_size=1).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = PostgresStore(pg_url, schema=fresh_schema)
    assert store._execute("SELECT version FROM procflow_migrations ORDER BY version") == [(v,) for v in
                                                                                          range(1, PG + 1)]
    store.close()


def test_postgres_later_steps_are_atomic(pg_url, fresh_schema, monkeypatch):
    PostgresStore(pg_url, schema=fresh_schema).close()
    broken = Migration(PG + 1, "broken", lambda: "CREATE TABLE half_done (x int); SELECT no_such_column FROM dossiers")
    monkeypatch.setitem(migrations._STEPS, "postgres", (*migrations.POSTGRES, broken))
    with pytest.raises(psycopg.errors.UndefinedColumn):
        PostgresStore(pg_url, schema=fresh_schema)
    with psycopg.connect(pg_url, autocommit=True, options=f"-c search_path={fresh_schema}") as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        assert migrations.postgres_status(conn).current == PG
    step2 = Migration(PG + 1, "dossier tags", lambda: "ALTER TABLE dossiers ADD COLUMN tags text[]")
    monkeypatch.setitem(migrations._STEPS, "postgres", (*migrations.POSTGRES, step2))
    store = PostgresStore(pg_url, schema=fresh_schema)
    assert store.schema_version == PG + 1
    store.close()


# -- the CLI --------------------------------------------------------------------------------------------------
def test_db_commands_on_sqlite(tmp_path):
    db = str(tmp_path / "cli.db")
    r = runner.invoke(app, ["db", "status", "--db", db])
    assert r.exit_code == 1 and "no store at" in r.output
    r = runner.invoke(app, ["db", "upgrade", "--db", f"sqlite:///{db}"])  # a new store: no directory to ask yet
    assert r.exit_code == 0 and f"applied migration(s) {', '.join(map(str, ALL_SQ))}" in r.output
    r = runner.invoke(app, ["db", "upgrade", "--db", db])  # from now on, its operator
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "procflow officials init" in r.output
    r = runner.invoke(app, ["db", "upgrade", "--db", db], env=operator_env(db, tmp_path, roles={STORE_ADMIN_ROLE}))
    assert r.exit_code == 0 and "nothing to do" in r.output
    r = runner.invoke(app, ["db", "status", "--db", db, "--check"])
    assert r.exit_code == 0 and f"version {SQ} of {SQ}: up to date" in r.output and "initial schema" in r.output


def test_db_commands_on_postgres(pg_url, fresh_schema):
    r = runner.invoke(app, ["db", "status", "--db", pg_url, "--schema", fresh_schema, "--check"])
    assert r.exit_code == 1 and f"{PG} pending" in r.output
    r = runner.invoke(app, ["db", "upgrade", "--db", pg_url, "--schema", fresh_schema])
    assert r.exit_code == 0 and f"applied migration(s) {ALL_PG}" in r.output
    r = runner.invoke(app, ["db", "status", "--db", pg_url, "--schema", fresh_schema, "--check"])
    assert r.exit_code == 0 and f"postgres store at schema version {PG} of {PG}: up to date" in r.output
    store = PostgresStore(pg_url, schema=fresh_schema, migrate=False)  # what a deployed worker does
    assert store.count_dossiers() == 0
    store.close()
    r = runner.invoke(app, ["db", "upgrade", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert r.exit_code == 1 and "cannot connect" in r.output


def test_cli_commands_refuse_a_stale_postgres_schema_naming_db_upgrade(pg_url, fresh_schema):
    """Only ``db upgrade`` changes a schema: a reading and a writing command end in one line naming it, and
    create no table (the library default, ``migrate=True``, is for embedding applications)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {fresh_schema}")
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{fresh_schema}"
    for argv in (["officials", "list"], ["outbox", "--requeue-all"]):
        r = runner.invoke(app, [*argv, "--db", url])
        assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
        assert "schema version 0" in r.output and "run `procflow db upgrade --db postgresql://" in r.output
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (fresh_schema,)).fetchone() == (0,)


def test_a_postgres_schema_newer_than_this_procflow_says_upgrade_procflow(pg_url, fresh_schema):
    """``db upgrade`` cannot help with a schema a later procflow wrote: the line names the real fix."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {fresh_schema}")
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{fresh_schema}"
    PostgresStore(url).close()  # the library default creates the current schema
    newer = migrations.latest("postgres") + 1
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO procflow_migrations (version, name) VALUES (%s, 'from a later procflow')", (newer,))
    r = runner.invoke(app, ["officials", "list", "--db", url])
    assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
    assert f"schema version {newer} is newer than this procflow" in r.output and "upgrade procflow" in r.output
    assert "db upgrade" not in r.output
