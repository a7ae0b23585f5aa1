"""Commands that write data or show personal data act as the machine's operator, and the audit says so.

Without a credential (or with one the store does not hold) each of them ends in one line and changes
nothing; with one, the command is recorded under the operator's official id (``cli:<command>``). Reading
commands that show no personal value — ``audit verify``, ``keys status``, ``timers`` without ``--run`` — need
no credential.
"""

from __future__ import annotations

import pytest
from operator_support import OPERATOR
from privacy_support import BIRTH, CHILD, desk
from typer.testing import CliRunner

from procflow.cli.app import app

runner = CliRunner()

WRITING = {
    "retention:apply": ["retention", "apply", "--now", "2030-01-01", "--yes"],
    "keys:rotate": ["keys", "rotate", "--yes"],
    "keys:init": ["keys", "init", "--checkpoint"],
    "checkpoints:take": ["audit", "checkpoints", "take"],
    "timers:run": ["timers", "--run"],
    "reconcile": ["reconcile"],
    "outbox:requeue": ["outbox", "--requeue-all"],
    "worker": ["worker", "--once", "--no-timers", "--checkpoint-every", "0"],
}


@pytest.fixture
def store_with_a_dossier(pengine, communes, monkeypatch):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    pengine.fire(d, "accept", desk(communes[0]))
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(pengine.vault.keys.path))
    return pengine.store.path, d.id


def _cli_rows(db: str) -> list[tuple[str, str, str]]:
    from procflow.store.sqlite import SQLiteStore

    store = SQLiteStore(db)
    try:
        return [(a.actor, a.action, a.outcome) for a in store.audit() if a.action.startswith("cli:")]
    finally:
        store.close()


@pytest.mark.parametrize("action", sorted(WRITING))
def test_a_writing_command_without_a_credential_is_one_line_and_changes_nothing(store_with_a_dossier, action,
                                                                                 tmp_path):
    db, _ = store_with_a_dossier
    import sqlite3

    def snapshot() -> tuple[object, ...]:
        con = sqlite3.connect(db)
        try:
            return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in ("events", "audit", "outbox", "vault"))
        finally:
            con.close()

    before = snapshot()
    r = runner.invoke(app, [*WRITING[action], "--db", db],
                      env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert r.exit_code == 1, r.output
    assert r.output.count("\n") == 1 and "Traceback" not in r.output
    assert f"{action}: no operator credential" in r.output
    assert snapshot() == before


@pytest.mark.parametrize("action", sorted(WRITING))
def test_a_writing_command_acts_as_the_operator_and_is_audited_under_their_id(store_with_a_dossier, action):
    db, _ = store_with_a_dossier
    r = runner.invoke(app, [*WRITING[action], "--db", db])  # the privacy fixtures' operator credential
    assert (OPERATOR, f"cli:{action}", "allowed") in _cli_rows(db), r.output


def test_an_invalid_credential_is_refused_in_one_line_and_the_refusal_audited(store_with_a_dossier, tmp_path):
    db, _ = store_with_a_dossier
    forged = tmp_path / "forged.toml"
    forged.write_text(f'official = "{OPERATOR}"\nsecret = "not-the-secret"\n', encoding="utf-8")
    forged.chmod(0o600)
    r = runner.invoke(app, ["keys", "rotate", "--db", db, "--yes"], env={"PROCFLOW_OPERATOR_FILE": str(forged)})
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "not valid for van.hanh" in r.output
    from procflow.store.sqlite import SQLiteStore

    store = SQLiteStore(db)
    try:
        assert [(a.actor, a.action, a.outcome) for a in store.audit(actor=OPERATOR)][-1] == \
            (OPERATOR, "operator", "refused:CredentialError")
    finally:
        store.close()


def test_audit_access_needs_the_operator_but_writes_nothing(store_with_a_dossier, tmp_path):
    db, did = store_with_a_dossier
    refused = runner.invoke(app, ["audit", "access", "--db", db, "--dossier", did],
                            env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert refused.exit_code == 1 and "audit:access: no operator credential" in refused.output
    ok = runner.invoke(app, ["audit", "access", "--db", db, "--dossier", did, "--all"])
    assert ok.exit_code == 0, ok.output
    assert not [row for row in _cli_rows(db) if row[1] == "cli:audit:access"]  # a read takes no write lock


@pytest.mark.parametrize("argv", [["audit", "verify"], ["keys", "status"], ["timers"], ["outbox"],
                                  ["audit", "checkpoints", "list"]])
def test_reading_commands_that_show_no_personal_value_need_no_credential(store_with_a_dossier, argv, tmp_path):
    db, _ = store_with_a_dossier
    r = runner.invoke(app, [*argv, "--db", db], env={"PROCFLOW_OPERATOR_FILE": str(tmp_path / "nobody.toml")})
    assert r.exit_code == 0, r.output
    assert "092123456789" not in r.output and "0912345678" not in r.output


def test_an_import_acts_as_the_receiving_node_s_operator(tmp_path, communes):
    """An exchange import writes dossiers: without the node's operator it is refused before the envelope is
    read, and a node that never set up its directory is told to (``procflow officials init``)."""
    envelope = tmp_path / "envelope.xml"
    envelope.write_text("<not-read/>", encoding="utf-8")
    (tmp_path / "trust").mkdir()
    r = runner.invoke(app, ["exchange", "import", str(envelope), "--trust", str(tmp_path / "trust"), "--me",
                            communes[0], "--db", str(tmp_path / "new-node.db")])
    assert r.exit_code == 1 and r.output.count("\n") == 1
    assert "exchange:import" in r.output and "procflow officials init" in r.output
