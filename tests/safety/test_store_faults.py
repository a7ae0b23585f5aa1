"""Locked and broken SQLite stores: reading never takes (or waits for) the write lock, a write that cannot get
it comes out of the API as a typed StoreError, and corrupt/foreign files are refused before anything is
written."""

from __future__ import annotations

import sqlite3

import pytest
from safety_support import civil, fingerprint
from schema_support import unapply_latest_migration
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.engine.core import Engine
from procflow.errors import StoreError
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()


@pytest.fixture
def locked(app_store):
    """Another process's transaction holds the store's write lock (a long batch, a stuck migration); the
    machine's operator credential is set up before, by ``app_store`` (``audit access``, ``keys rotate`` act as
    the operator)."""
    path, ids = app_store
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield path, ids
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.parametrize("argv", [["audit", "verify"], ["audit", "access", "--dossier", "{id}"], ["keys", "status"],
                                  ["db", "status"], ["timers", "--all"], ["outbox"], ["officials", "list"],
                                  ["migrate", "units", "{units}", "--dry-run"]])
def test_reading_commands_work_while_another_process_holds_the_write_lock(locked, argv, tmp_path, registry):
    path, ids = locked
    units = _unit_map(tmp_path, registry)
    result = runner.invoke(app, [a.format(id=ids[0], units=units) for a in argv] + ["--db", str(path)])
    assert result.exit_code == 0, result.output


def _unit_map(tmp_path, registry) -> str:
    """A unit map merging the test store's commune into its neighbour (``migrate units``)."""
    first, second = (c.code for c in registry.communes_of("92")[:2])
    units = tmp_path / "units.csv"
    units.write_text(f"old,new\n{first},{second}\n", encoding="utf-8")
    return str(units)


def test_opening_a_current_store_takes_no_lock(locked):
    path, ids = locked
    store = SQLiteStore(str(path), timeout=0.05)  # would fail at once if opening needed the write lock
    assert store.get(ids[0]).id == ids[0]
    store.close()


def test_a_fire_that_cannot_get_the_write_lock_is_a_store_error(locked, registry):
    path, ids = locked
    store = SQLiteStore(str(path), timeout=0.2)
    engine = Engine(store, registry=registry)
    a = registry.communes_of("92")[0].code
    d = engine.get(ids[0])
    with pytest.raises(StoreError, match="locked by another process") as info:
        engine.fire(d, "request_supplement", civil(a))
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert d.state == "processing" and store.get(ids[0]).revision == 2
    store.close()


def test_a_locked_store_is_one_line_from_a_writing_command(locked, monkeypatch):
    path, _ = locked
    import procflow.store.sqlite as sq

    original = sq.SQLiteStore.__init__

    def quick(self, *args, **kwargs):  # the CLI waits 30 s for the lock; the test does not
        kwargs["timeout"] = 0.2
        original(self, *args, **kwargs)

    monkeypatch.setattr(sq.SQLiteStore, "__init__", quick)
    before = fingerprint(path)
    result = runner.invoke(app, ["keys", "rotate", "--db", str(path), "--yes"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "locked by another process" in result.output and len(result.output.strip().splitlines()) == 1
    assert fingerprint(path)["vault"] == before["vault"]


def test_reading_an_old_schema_asks_for_db_upgrade_instead_of_migrating(app_store):
    path, _ = app_store
    older = unapply_latest_migration(path)
    with pytest.raises(StoreError, match=rf"schema version {older} is older .* run `procflow db upgrade"):
        SQLiteStore(str(path), upgrade=False)
    result = runner.invoke(app, ["audit", "verify", "--db", str(path)])
    assert result.exit_code == 1 and "procflow db upgrade" in result.output
    assert runner.invoke(app, ["db", "upgrade", "--db", str(path)]).exit_code == 0
    assert runner.invoke(app, ["audit", "verify", "--db", str(path)]).exit_code == 0


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00garbage" * 300, "not a readable SQLite store"),
    (b"SQLite format 3\x00" + b"\xff" * 4000, "not a readable SQLite store"),
])
def test_a_corrupt_file_is_a_store_error_and_stays_as_it_was(tmp_path, content, message):
    path = tmp_path / "corrupt.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        SQLiteStore(str(path))
    assert path.read_bytes() == content


def test_a_foreign_database_is_never_given_procflow_tables(tmp_path):
    path = tmp_path / "erp.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a procflow store"):
        SQLiteStore(str(path))
    con = sqlite3.connect(path)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["invoices"]
    con.close()
    with pytest.raises(StoreError, match="is a directory"):
        SQLiteStore(str(tmp_path))
    with pytest.raises(StoreError, match="empty store"):
        from procflow.store.base import open_store

        open_store("")
