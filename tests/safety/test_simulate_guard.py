"""``procflow simulate --db X`` replaces only a store an earlier simulation made: an application's store (one
typo in --db), a store from before stores recorded their maker, or any other file is refused unless
``--overwrite``."""

from __future__ import annotations

import sqlite3

from safety_support import fingerprint
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.simulate.job import store_kind

runner = CliRunner()
SIM = ["simulate", "--days", "1", "--rate", "1", "--json"]


def _maker(path) -> str | None:
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT value FROM meta WHERE key='created_by'").fetchone()
        return None if row is None else row[0]
    finally:
        con.close()


def test_simulate_refuses_an_application_store_and_overwrite_replaces_it(app_store):
    path, _ = app_store
    assert _maker(path) == "application"
    before = fingerprint(path)
    result = runner.invoke(app, [*SIM, "--db", str(path)])
    assert result.exit_code == 1 and "is an application's procflow store (3 dossier(s))" in result.output
    assert "--overwrite" in result.output and fingerprint(path) == before
    result = runner.invoke(app, [*SIM, "--db", str(path), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert _maker(path) == "simulation" and store_kind(str(path)) == "simulation"


def test_simulate_replaces_its_own_store_without_asking(tmp_path):
    path = tmp_path / "sim.db"
    assert runner.invoke(app, [*SIM, "--db", str(path)]).exit_code == 0
    assert _maker(path) == "simulation"
    again = runner.invoke(app, [*SIM, "--db", str(path), "--seed", "2"])
    assert again.exit_code == 0, again.output


def test_a_store_from_before_the_marker_counts_as_an_application_store(app_store):
    path, _ = app_store
    con = sqlite3.connect(path)
    con.execute("DELETE FROM meta WHERE key='created_by'")
    con.commit()
    con.close()
    result = runner.invoke(app, [*SIM, "--db", str(path)])
    assert result.exit_code == 1 and "created before stores recorded their maker" in result.output


def test_simulate_refuses_foreign_files_and_directories(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n", encoding="utf-8")
    result = runner.invoke(app, [*SIM, "--db", str(notes)])
    assert result.exit_code == 1 and "is not a procflow store" in result.output
    assert notes.read_text(encoding="utf-8") == "meeting notes\n"
    result = runner.invoke(app, [*SIM, "--db", str(tmp_path), "--overwrite"])
    assert result.exit_code == 1 and "is a directory" in result.output and notes.exists()
