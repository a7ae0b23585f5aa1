"""The `procflow` command as a user runs it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Engine
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import enrol_operator

runner = CliRunner()


def simulate(tmp_path: Path, name: str, *args: str):
    return runner.invoke(app, ["simulate", "--days", "4", "--rate", "1", "--db", str(tmp_path / name), "--json", *args])


def test_simulate_is_deterministic_for_a_seed(tmp_path):
    first = simulate(tmp_path, "a.db", "--seed", "7")
    second = simulate(tmp_path, "b.db", "--seed", "7")
    other = simulate(tmp_path, "c.db", "--seed", "8")
    assert first.exit_code == 0, first.output
    a, b, c = (json.loads(r.stdout) for r in (first, second, other))
    assert a == b
    assert a != c
    sim = a["simulation"]
    assert sim["province"].endswith("Cần Thơ") and sim["filed"] == a["total"]["received"] > 100
    assert set(a["by_level"]) == {"commune", "province"}
    assert 0 < a["location_independent_share"] < 0.2
    assert sum(s["count"] for s in a["statuses"].values()) == sim["filed"]
    table = a["official_table"]  # the reporting table provinces send up, per level and sector
    assert table["total"]["received"] == sim["filed"] and set(table["by_level"]) == {"commune", "province"}
    assert a["calibration"]["source"] == "calibrated" and a["calibration"]["rate"] == 1.0
    # the store holds exactly what the report counts
    db = sqlite3.connect(tmp_path / "a.db")
    assert db.execute("SELECT count(*) FROM dossiers").fetchone()[0] == sim["filed"]
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == sim["filed"] + sim["transitions"]


def test_simulate_human_report_and_rerun_replaces_its_store(tmp_path):
    for _ in range(2):
        result = runner.invoke(app, ["simulate", "--days", "2", "--rate", "0.7", "--db", str(tmp_path / "s.db")])
        assert result.exit_code == 0, result.output
    assert "On-time rate".lower() in result.stdout.lower()
    assert "Top communes by backlog" in result.stdout
    assert ("supplement requested (yêu cầu bổ sung giấy tờ)" in result.stdout
            or "received (được tiếp nhận)" in result.stdout)


def test_simulate_refuses_to_overwrite_a_foreign_file(tmp_path):
    precious = tmp_path / "thesis.db"
    precious.write_bytes(b"not a procflow store")
    result = runner.invoke(app, ["simulate", "--days", "1", "--db", str(precious)])
    assert result.exit_code == 1
    assert "is not a procflow store" in result.output
    assert precious.read_bytes() == b"not a procflow store"


def test_simulate_unknown_province(tmp_path):
    result = runner.invoke(app, ["simulate", "--province", "Atlantis", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "Atlantis" in result.output


def test_validate_reports_problems_with_key_paths(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(bundled_definitions()[0].source, encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(bundled_definitions()[0].source.replace('dest = "returned"', 'dest = "archive"'), encoding="utf-8")
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0 and "✓" in ok.output
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert "unknown state 'archive'" in result.output and "transitions[" in result.output


def test_diagram_prints_mermaid(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(bundled_definitions()[0].source, encoding="utf-8")
    result = runner.invoke(app, ["diagram", str(path)])
    assert result.exit_code == 0
    assert result.stdout.startswith("stateDiagram-v2")
    assert "received --> processing : accept" in result.stdout


def test_inspect_shows_timeline_masked(tmp_path):
    db = tmp_path / "i.db"
    assert simulate(tmp_path, "i.db").exit_code == 0
    conn = sqlite3.connect(db)
    dossier_id, agencies = conn.execute(
        "SELECT id, agencies FROM dossiers WHERE procedure='1.012751' ORDER BY revision DESC LIMIT 1").fetchone()
    conn.close()
    store = SQLiteStore(str(db))  # personal values live in the vault: the system path opens them
    national_id = Engine(store).get(dossier_id).data["applicant_national_id"]
    store.close()
    # the operator is an official of the receiving desk, which may read it
    env = enrol_operator(str(db), tmp_path / "operator.toml", "desk-officer", json.loads(agencies)["receiving"])
    result = runner.invoke(app, ["inspect", dossier_id, "--db", str(db)], env=env)
    assert result.exit_code == 0, result.output
    assert dossier_id in result.stdout and "custodian" in result.stdout
    assert "replay of" in result.stdout and "reproduces the snapshot: yes" in result.stdout
    assert national_id not in result.stdout
    assert national_id[:4] + "******" + national_id[-2:] in result.stdout
    missing = runner.invoke(app, ["inspect", "nope", "--db", str(db)], env=env)
    assert missing.exit_code == 1 and "no dossier 'nope'" in missing.output
