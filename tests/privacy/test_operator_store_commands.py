"""The store-wide commands act as the machine's operator too: ``migrate units|definition``, ``catalogue import
--db``, ``db upgrade``, ``backup`` and ``restore``.

Without a credential each ends in one line naming the fix and changes nothing (every table compared before and
after, and no file made); with one, the command is recorded under the operator's id — except ``backup``, which
only reads (the operator is verified without a write, as for ``audit access``). ``db upgrade`` checks the
operator before touching an old schema and writes its audit entry after, in the upgraded table; ``restore``
asks the directory inside the backup, the data it puts back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from operator_support import OPERATOR, all_rows, operator_env
from privacy_support import BIRTH
from schema_support import unapply_latest_migration
from typer.testing import CliRunner

from procflow.catalogue import sample_catalogue
from procflow.cli.app import app
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()


@pytest.fixture
def db(filed_db: str) -> str:
    return filed_db




def _cli_rows(path: str) -> list[tuple[str, str, str]]:
    store = SQLiteStore(path)
    try:
        return [(a.actor, a.action, a.outcome) for a in store.audit() if a.action.startswith("cli:")]
    finally:
        store.close()


def _argv(action: str, db: str, tmp_path: Path, communes: list[str]) -> list[str]:
    if action == "migrate:units":
        units = tmp_path / "units.csv"
        units.write_text(f"old,new\n{communes[0]},{communes[1]}\n", encoding="utf-8")
        return ["migrate", "units", str(units), "--db", db, "--yes"]
    return {"migrate:definition": ["migrate", "definition", BIRTH, "--to", "1", "--db", db, "--yes"],
            "catalogue:import": ["catalogue", "import", str(sample_catalogue()), "--db", db],
            "db:upgrade": ["db", "upgrade", "--db", db],
            "backup": ["backup", "--db", db, "--to", str(tmp_path / "bak")]}[action]


ACTIONS = ["backup", "catalogue:import", "db:upgrade", "migrate:definition", "migrate:units"]


@pytest.mark.parametrize("action", ACTIONS)
def test_without_a_credential_a_store_command_is_one_line_and_changes_nothing(db, action, tmp_path, communes):
    before = all_rows(db)
    r = runner.invoke(app, _argv(action, db, tmp_path, communes),
                      env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert r.exit_code == 1, r.output
    assert r.output.count("\n") == 1 and "Traceback" not in r.output
    assert f"{action}: no operator credential" in r.output and "procflow officials" in r.output
    assert all_rows(db) == before
    assert not (tmp_path / "bak").exists()  # a refused backup copies nothing


@pytest.mark.parametrize("action", ["catalogue:import", "db:upgrade", "migrate:definition", "migrate:units"])
def test_a_store_command_acts_as_the_operator_and_is_audited_under_their_id(db, action, tmp_path, communes):
    r = runner.invoke(app, _argv(action, db, tmp_path, communes))  # the privacy fixtures' operator credential
    assert (OPERATOR, f"cli:{action}", "allowed") in _cli_rows(db), r.output


def test_a_migration_s_dry_run_needs_no_credential(db, tmp_path, communes):
    argv = [*_argv("migrate:units", db, tmp_path, communes), "--dry-run"]
    before = all_rows(db)
    r = runner.invoke(app, argv, env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert r.exit_code == 0 and "would move" in r.output, r.output
    assert all_rows(db) == before


def test_backup_verifies_the_operator_without_writing(db, tmp_path, communes):
    before = all_rows(db)
    r = runner.invoke(app, _argv("backup", db, tmp_path, communes))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "bak" / Path(db).name).exists()
    assert all_rows(db) == before  # not even an audit row: a backup takes no write lock


def test_db_upgrade_checks_the_operator_before_an_old_schema_and_records_after(db, tmp_path, communes):
    latest = unapply_latest_migration(db) + 1
    forged = tmp_path / "forged.toml"
    forged.write_text(f'official = "{OPERATOR}"\nsecret = "not-the-secret"\n', encoding="utf-8")
    forged.chmod(0o600)
    before = all_rows(db)
    refused = runner.invoke(app, ["db", "upgrade", "--db", db], env={"PROCFLOW_OPERATOR_FILE": str(forged)})
    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    assert "db:upgrade" in refused.output and "not valid for van.hanh" in refused.output
    assert all_rows(db) == before  # still the old schema: nothing upgraded, and no row in a table not yet ours
    ok = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert ok.exit_code == 0 and f"applied migration(s) {latest}" in ok.output, ok.output
    assert _cli_rows(db)[-1] == (OPERATOR, "cli:db:upgrade", "allowed")


def test_restore_asks_the_directory_inside_the_backup_and_is_audited_in_the_restored_store(db, tmp_path, communes):
    assert runner.invoke(app, _argv("backup", db, tmp_path, communes)).exit_code == 0
    target = tmp_path / "restored" / "agency.db"
    argv = ["restore", "--from", str(tmp_path / "bak"), "--db", str(target), "--keys", f"{target}.keys"]
    backup_files = sorted(p.name for p in (tmp_path / "bak").iterdir())
    none = runner.invoke(app, argv, env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert none.exit_code == 1 and none.output.count("\n") == 1 and "restore: no operator credential" in none.output
    # an operator of another store: their credential is not in the backup's directory
    other = SQLiteStore(str(tmp_path / "other.db"))
    stranger = operator_env(other, tmp_path / "elsewhere")
    other.close()
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    foreign = runner.invoke(app, argv, env=stranger)
    assert foreign.exit_code == 1 and "restore:" in foreign.output and "not valid" in foreign.output, foreign.output
    assert not target.exists() and not target.parent.exists()
    assert sorted(p.name for p in (tmp_path / "bak").iterdir()) == backup_files  # the backup is read, never opened
    ok = runner.invoke(app, argv)
    assert ok.exit_code == 0, ok.output
    assert _cli_rows(str(target))[-1] == (OPERATOR, "cli:restore", "allowed")


def test_a_dry_run_that_registers_a_definition_still_needs_the_operator(db, pengine, tmp_path):
    """``migrate definition --dry-run`` moves nothing, but ``--file`` registers the new version first."""
    v9 = tmp_path / "birth-v9.toml"
    v9.write_text(pengine.definition(BIRTH).source.replace(f"version = {pengine.definition(BIRTH).version}",
                                                             "version = 9", 1), encoding="utf-8")
    before = all_rows(db)
    r = runner.invoke(app, ["migrate", "definition", BIRTH, "--to", "9", "--file", str(v9), "--dry-run", "--db", db],
                      env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert r.exit_code == 1 and "migrate:definition: no operator credential" in r.output, r.output
    assert all_rows(db) == before


def test_a_backup_whose_store_is_unreadable_is_refused_in_one_line(db, tmp_path, communes):
    assert runner.invoke(app, _argv("backup", db, tmp_path, communes)).exit_code == 0
    (tmp_path / "bak" / Path(db).name).write_bytes(b"not a database\x00" * 300)
    target = tmp_path / "restored" / "agency.db"
    r = runner.invoke(app, ["restore", "--from", str(tmp_path / "bak"), "--db", str(target), "--keys",
                            f"{target}.keys"])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "nothing was restored" in r.output, r.output
    assert not target.parent.exists()
