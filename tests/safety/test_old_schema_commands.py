"""No command but ``procflow db upgrade`` changes a store's schema: on a store older than this procflow, every
command that opens it — reading or writing — ends in one line naming ``procflow db upgrade --db …`` and leaves
every table as it was (the schema version included). Upgrading is the store administrator's explicit step;
embedding applications keep ``SQLiteStore(upgrade=True)``, the library default."""

from __future__ import annotations

import sqlite3

import pytest
from operator_support import OPERATOR
from safety_support import fingerprint
from schema_support import unapply_latest_migration
from typer.testing import CliRunner

from procflow.catalogue import sample_catalogue
from procflow.cli.app import app
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()


@pytest.fixture
def old_store(app_store):
    """The agency's store as an older procflow left it: its latest migration not applied (as in the other
    migration tests, ``test_store_faults``, ``test_operator_store_commands``)."""
    path, ids = app_store
    return path, ids, unapply_latest_migration(path)


def _schema_version(path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        con.close()


def _argv(argv: list[str], ids: list[str], tmp_path, registry) -> list[str]:
    first, second = (c.code for c in registry.communes_of("92")[:2])
    units = tmp_path / "units.csv"
    units.write_text(f"old,new\n{first},{second}\n", encoding="utf-8")
    envelope = tmp_path / "handoff.xml"
    envelope.write_text("<edXML/>", encoding="utf-8")
    values = {"id": ids[0], "units": str(units), "catalogue": str(sample_catalogue()), "envelope": str(envelope),
              "dir": str(tmp_path / "pki"), "operator": OPERATOR}
    return [a.format(**values) for a in argv]


READS = [["officials", "list"], ["forms", "{id}", "--form", "01"], ["outbox"], ["outbox", "--dead"],
         ["migrate", "units", "{units}", "--dry-run"], ["exchange", "export", "{id}", "--keys", "{dir}", "--to", "X"],
         ["timers", "--all"], ["inspect", "{id}"], ["audit", "verify"], ["keys", "status"],
         ["keys", "rotate", "--dry-run"], ["retention", "apply", "--dry-run"], ["audit", "checkpoints", "list"]]
WRITES = [["officials", "grant", "{operator}", "--role", "oversight:92"], ["officials", "import", "{units}"],
          ["extend", "{id}", "--reason", "chậm", "--new-date", "2026-06-01"], ["worker", "--once"], ["reconcile"],
          ["outbox", "--requeue-all"], ["catalogue", "import", "{catalogue}"], ["migrate", "units", "{units}", "--yes"],
          ["migrate", "definition", "1.001193", "--to", "1", "--yes"], ["timers", "--run"],
          ["keys", "rotate", "--yes"], ["keys", "init"], ["audit", "checkpoints", "take"],
          ["retention", "apply", "--yes"], ["exchange", "import", "{envelope}", "--trust", "{dir}", "--me", "X"]]


@pytest.mark.parametrize("argv", READS + WRITES, ids=" ".join)
def test_a_command_on_an_old_schema_names_db_upgrade_and_changes_nothing(old_store, argv, tmp_path, registry):
    path, ids, version = old_store
    before = fingerprint(path)
    result = runner.invoke(app, [*_argv(argv, ids, tmp_path, registry), "--db", str(path)])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit), result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output, result.output
    assert f"procflow db upgrade --db {path}" in result.output, result.output
    assert _schema_version(path) == version
    assert fingerprint(path) == before


def test_after_db_upgrade_the_same_commands_work(old_store):
    path, _, version = old_store
    refused = runner.invoke(app, ["outbox", "--requeue-all", "--db", str(path)])
    assert refused.exit_code == 1 and _schema_version(path) == version, refused.output
    assert runner.invoke(app, ["db", "upgrade", "--db", str(path)]).exit_code == 0
    assert _schema_version(path) == version + 1
    requeued = runner.invoke(app, ["outbox", "--requeue-all", "--db", str(path)])
    assert requeued.exit_code == 0 and "requeued 0 dead message(s)" in requeued.output, requeued.output
    listed = runner.invoke(app, ["officials", "list", "--json", "--db", str(path)])
    assert listed.exit_code == 0 and OPERATOR in listed.output, listed.output


def test_the_library_default_still_upgrades_for_embedding_applications(old_store):
    path, _, version = old_store
    store = SQLiteStore(str(path))
    try:
        assert store.schema_version == version + 1
    finally:
        store.close()
