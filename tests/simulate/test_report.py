"""The simulation report: commune ranking, backlog over time, and a self-contained HTML page."""

from __future__ import annotations

import json
import re

import pytest
import typer
from typer.testing import CliRunner

from procflow.cli.simulate import simulate
from procflow.jurisdiction import Registry
from procflow.simulate.html import render_html
from procflow.statistics import CommuneRow, backlog_series, rank_communes

REGISTRY = Registry.default()


def test_communes_rank_on_both_percentiles_not_on_raw_rates():
    rows = [CommuneRow("a", "A", received=100, location_independent=1, completed=100, on_time=100, overdue_open=0),
            CommuneRow("b", "B", received=100, location_independent=9, completed=100, on_time=97, overdue_open=2),
            CommuneRow("c", "C", received=100, location_independent=10, completed=100, on_time=99, overdue_open=0),
            CommuneRow("d", "D", received=10, location_independent=0, completed=0, on_time=0, overdue_open=4)]
    ranked = rank_communes(rows)
    # c: 2nd on time, 1st on location-independent share; a: 1st on time but 3rd on share
    assert [r.agency for r in ranked] == ["c", "a", "b", "d"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]
    assert ranked[0].score == pytest.approx(5 / 6) and ranked[-1].score == 0.0 and ranked[-1].on_time_rate is None
    tied = rank_communes([CommuneRow("x", "X", 10, 1, 10, 9, 0), CommuneRow("y", "Y", 10, 1, 10, 10, 0)])
    assert [r.agency for r in tied] == ["y", "x"]  # equal shares: the on-time rate decides


def test_backlog_series_fills_days_an_agency_had_nothing_open():
    a, b = "311.35.99.H92", "999.92.00.G01"
    samples = [("d1", "*", 3, 0, 0), ("d1", a, 3, 0, 0),
               ("d2", "*", 9, 1, 2), ("d2", a, 4, 1, 2), ("d2", b, 5, 0, 0),
               ("d3", "*", 1, 0, 0), ("d3", b, 1, 0, 0)]
    series = backlog_series(samples, REGISTRY, top=1)
    assert series["days"] == ["d1", "d2", "d3"] and series["province"]["open"] == [3, 9, 1]
    (only,) = series["agencies"]
    assert only["agency"] == b and only["open"] == [0, 5, 1] and only["kind"] == "police"


def test_html_is_self_contained_escaped_and_has_charts(tmp_path):
    app = typer.Typer()
    app.command()(simulate)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["--province", "Lai Châu", "--days", "5", "--rate", "0.25", "--db",
                                      str(tmp_path / "sim.db"), "--json", "--html", str(out),
                                      "--fault", "official-leave:officials=2,start=2026-04-21,days=2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"commune_ranking", "backlog_over_time", "bundles", "faults", "fault_effect", "timers"} <= set(data)
    assert data["commune_ranking"][0]["rank"] == 1 and len(data["backlog_over_time"]["days"]) == 5
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") >= 4 and "<polyline" in page and "Xếp hạng xã" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched: readable offline
    assert "<link" not in page and "<script src" not in page
    data["simulation"]["province"] = "<script>alert(1)</script>"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render_html(data)
    assert "<script>alert(1)" not in render_html(data)


def test_the_text_report_names_bundles_ranking_and_faults(tmp_path):
    app = typer.Typer()
    app.command()(simulate)
    result = CliRunner().invoke(app, ["--province", "Lai Châu", "--days", "4", "--rate", "0.25", "--db",
                                      str(tmp_path / "sim.db"), "--fault", "portal-down", "--no-baseline"])
    assert result.exit_code == 0, result.output
    assert "liên thông bundles" in result.output and "commune ranking" in result.output
    assert "fault portal-down: national portal unreachable" in result.output
    bad = CliRunner().invoke(app, ["--days", "1", "--db", str(tmp_path / "x.db"), "--fault", "meteor"])
    assert bad.exit_code == 1 and "unknown fault 'meteor'" in bad.output
