"""`procflow simulate --catalogue`: a province runs on its catalogue, imported in memory."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from procflow.catalogue import DEFAULT_ANNUAL_VOLUME, sample_catalogue, simulation_inputs
from procflow.cli.app import app

runner = CliRunner()


def test_simulate_runs_a_province_on_the_sample_catalogue(tmp_path):
    html = tmp_path / "r.html"
    result = runner.invoke(app, ["simulate", "--catalogue", str(sample_catalogue()), "--days", "2", "--rate", "0.1",
                                 "--db", str(tmp_path / "c.db"), "--json", "--html", str(html)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    generated = {"2.000815", "2.000884", "1.004873", "2.000635"}  # high-volume generated procedures
    assert generated <= set(data["by_procedure"])
    assert data["by_procedure"]["2.000815"]["completed"] > 0
    table = data["official_table"]
    assert table["total"]["received"] == data["total"]["received"]
    assert {"Chứng thực", "Hộ tịch"} <= set(table["by_sector"])
    assert "official reporting table" in html.read_text(encoding="utf-8")


def test_volumes_come_from_the_column_or_the_documented_default():
    definitions, volumes, profiles = simulation_inputs(sample_catalogue())
    with sample_catalogue().open(encoding="utf-8", newline="") as f:
        rows = {r["code"]: r for r in csv.DictReader(f)}
    assert len(definitions) == len(rows) == len(volumes)
    for code, row in rows.items():
        expected = float(row["annual_volume"]) if row["annual_volume"] else DEFAULT_ANNUAL_VOLUME[row["level"]]
        assert volumes[code] == expected
        assert profiles[code]


def test_simulate_refuses_a_malformed_catalogue_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    text = sample_catalogue().read_text(encoding="utf-8")
    text = text.replace(",commune,Hộ tịch,commune,0,", ",xã nào,Hộ tịch,commune,0,", 1)
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["simulate", "--catalogue", str(bad), "--days", "1", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "row 2, column level" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.db").exists()
