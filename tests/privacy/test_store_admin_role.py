"""Commands that administer the whole store — ``keys init|rotate``, ``retention apply``, ``restore``, ``db upgrade``
— need the role ``store:admin`` besides a valid operator credential.

An operator without it gets one line naming the ``procflow officials grant`` command that fixes it; nothing
changes but the audited refusal. ``procflow officials init`` gives the first administrator the role, so a fresh
store is set up and keyed in two commands.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from operator_support import all_rows, operator_env
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()
CLERK = "nv.thuong"  # an operator of the store, without store:admin


@pytest.fixture
def db(filed_db: str) -> str:
    return filed_db




def _audit(path: str) -> list[tuple[str, str, str]]:
    store = SQLiteStore(path)
    try:
        return [(a.actor, a.action, a.outcome) for a in store.audit()]
    finally:
        store.close()


ADMINISTERING = {
    "keys:init": ["keys", "init", "--checkpoint"],
    "keys:rotate": ["keys", "rotate", "--yes"],
    "retention:apply": ["retention", "apply", "--now", "2099-01-01", "--yes"],
    "db:upgrade": ["db", "upgrade"],
}


@pytest.mark.parametrize("action", sorted(ADMINISTERING))
def test_an_operator_without_store_admin_is_refused_in_one_line_naming_the_grant(db, action, tmp_path):
    clerk = operator_env(db, tmp_path / "clerk", official=CLERK)
    keyring = Path(db).with_name("keys.json")
    ring_before = hashlib.sha256(keyring.read_bytes()).hexdigest()
    before = all_rows(db)
    r = runner.invoke(app, [*ADMINISTERING[action], "--db", db], env=clerk)
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "Traceback" not in r.output, r.output
    assert f"{action}: {CLERK} does not hold the role store:admin" in r.output
    assert f"procflow officials grant {CLERK} --role store:admin --db {db}" in r.output
    after = all_rows(db)
    audit_only = ("audit", "sqlite_sequence")  # the refusal's row and its id counter
    assert {t: rows for t, rows in after.items() if t not in audit_only} == \
        {t: rows for t, rows in before.items() if t not in audit_only}
    assert len(after["audit"]) == len(before["audit"]) + 1  # only the refusal
    assert _audit(db)[-1] == (CLERK, f"cli:{action}", "refused:OperatorRoleMissing")
    assert hashlib.sha256(keyring.read_bytes()).hexdigest() == ring_before  # no key made or rotated


def test_granting_the_role_lets_the_same_operator_run_it(db, tmp_path):
    clerk = operator_env(db, tmp_path / "clerk", official=CLERK)
    assert runner.invoke(app, ["keys", "rotate", "--db", db, "--yes"], env=clerk).exit_code == 1
    clerk = operator_env(db, tmp_path / "clerk", official=CLERK, roles={STORE_ADMIN_ROLE})  # granted now
    r = runner.invoke(app, ["keys", "rotate", "--db", db, "--yes"], env=clerk)
    assert r.exit_code == 0, r.output
    assert (CLERK, "cli:keys:rotate", "allowed") in _audit(db)


def test_a_restore_needs_store_admin_in_the_backup_s_directory(db, tmp_path):
    clerk = operator_env(db, tmp_path / "clerk", official=CLERK)  # before the backup: the backup lists them
    assert runner.invoke(app, ["backup", "--db", db, "--to", str(tmp_path / "bak")], env=clerk).exit_code == 0
    target = tmp_path / "restored" / "agency.db"
    r = runner.invoke(app, ["restore", "--from", str(tmp_path / "bak"), "--db", str(target), "--keys",
                            f"{target}.keys"], env=clerk)
    assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
    assert f"restore: {CLERK} does not hold the role store:admin" in r.output
    assert "the backup's officials directory decides" in r.output  # a grant in a live store would not help
    assert not target.parent.exists()


def test_a_fresh_store_is_set_up_and_keyed_in_two_commands(tmp_path, communes):
    new, credential = str(tmp_path / "fresh.db"), tmp_path / "admin.toml"
    r = runner.invoke(app, ["officials", "init", "--id", "qt.vien", "--name", "Quản trị viên", "--agency",
                            communes[0], "--db", new, "--credential", str(credential)])
    assert r.exit_code == 0, r.output
    env = {"PROCFLOW_OPERATOR_FILE": str(credential), "PROCFLOW_KEYS_FILE": str(tmp_path / "fresh.keys")}
    r = runner.invoke(app, ["keys", "init", "--db", new, "--checkpoint"], env=env)
    assert r.exit_code == 0 and "created chain key" in r.output, r.output
    assert ("qt.vien", "cli:keys:init", "allowed") in _audit(new)
