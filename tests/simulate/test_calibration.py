"""The calibrated simulation: Cần Thơ's births per month match the cited statistic, communes are loaded
within bounds, --rate multiplies, and the official reporting table adds up."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pytest

from procflow.jurisdiction import Registry
from procflow.official import official_table
from procflow.simulate import Scenario, run_simulation
from procflow.simulate.calibration import calibration_for, commune_weights, load_calibration
from procflow.simulate.report import simulation_report


@pytest.fixture(scope="module")
def can_tho():
    return Registry.default().province("Cần Thơ")


@pytest.fixture(scope="module")
def week(can_tho):
    """One week from a Monday outside holidays, at the calibrated volumes (rate 1.0)."""
    scenario = Scenario(province="Cần Thơ", days=7, seed=4, start=date(2026, 6, 1))
    result, report, engine = run_simulation(scenario, ":memory:")
    data = simulation_report(result, report, engine)
    yield result, report, engine, data
    engine.store.close()


def test_every_calibration_figure_cites_a_source(can_tho):
    data = load_calibration()["provinces"]["92"]
    figures = [v for v in data.values() if isinstance(v, dict)] + list(data["volumes"])
    for figure in figures:
        assert figure.get("source"), figure
        assert isinstance(figure.get("unconfirmed"), bool), figure
    cal = calibration_for(can_tho)
    assert cal is not None and 3_900_000 < cal.population < 4_300_000  # the merged city, July 2025


def test_monthly_births_are_within_thirty_percent_of_the_cited_statistic(can_tho, week):
    cal = calibration_for(can_tho)
    statistic = cal.population * cal.figures["crude_birth_rate"]["value"] / 12  # births a month (GSO rate)
    _, _, _, data = week
    got = data["calibration"]
    assert got["births_per_month_expected"] == pytest.approx(statistic, rel=0.01)  # the scenario's volumes
    simulated = got["births_per_month_simulated"]  # standalone registrations + child-under-6 bundles, scaled
    assert abs(simulated - statistic) / statistic <= 0.30, (simulated, statistic)


def test_rate_multiplies_the_calibrated_volumes():
    from procflow.calendar import WorkingCalendar
    from procflow.clock import FakeClock
    from procflow.definition.reader import bundled_definitions
    from procflow.engine.core import Engine
    from procflow.simulate.runner import Simulator
    from procflow.store.sqlite import SQLiteStore

    def filings(rate: float) -> tuple[int, float]:  # the arrivals a run draws (before any work), its volumes
        sc = Scenario(province="Cần Thơ", days=5, seed=9, start=date(2026, 6, 1), rate=rate)
        engine = Engine(SQLiteStore(":memory:"), calendar=WorkingCalendar(), clock=FakeClock(
            datetime.combine(sc.start, time(0), WorkingCalendar().tz)))
        for d in bundled_definitions():
            engine.register(d)
        sim = Simulator(engine, sc)
        sim._arrivals()
        engine.store.close()
        return len(sim._arrivals_heap), sum(sim.mix.values())

    (low, _), (high, _) = filings(0.2), filings(0.6)
    assert 2.6 < high / low < 3.4
    # at rate 1.0 a working day files the calibrated yearly volume / (working days + days off x online share)
    count, annual = filings(1.0)
    per_working_day = annual / (250 + 115 * Scenario().online_share)
    assert count / 5 == pytest.approx(per_working_day, rel=0.1)  # 1-5 June 2026: five working days


def test_communes_are_busy_or_quiet_within_bounds(can_tho):
    cfg = load_calibration()["commune_load"]
    communes = Registry.default().communes_of(can_tho.code)
    for seed in range(5):
        w = commune_weights(communes, random.Random(seed))
        mean = 1 / len(w)
        assert sum(w) == pytest.approx(1.0)
        assert cfg["min_factor"] - 1e-6 <= min(w) / mean and max(w) / mean <= cfg["max_factor"] + 1e-6
        wards = [x for x, c in zip(w, communes, strict=True) if "phường" in c.name.lower()]
        rural = [x for x, c in zip(w, communes, strict=True) if "phường" not in c.name.lower()]
        assert sum(wards) / len(wards) > sum(rural) / len(rural)  # urban wards are busier on average


def test_no_commune_collapses_under_the_default_load(week):
    _, report, _, _ = week
    worst = max(report.communes, key=lambda r: r.overdue_open)
    assert worst.overdue_open <= max(5, worst.received // 10)


def test_the_official_table_adds_up_per_level_and_sector(week):
    result, report, _, data = week
    table = data["official_table"]
    rows = [table["total"], *table["by_level"].values(), *table["by_sector"].values()]
    for r in rows:
        assert r["received"] == r["resolved"] + r["in_progress"] + r["withdrawn"] + r["refused"]
        assert r["received"] == r["carried_over"] + r["online"] + r["in_person"]
        assert r["resolved"] == r["early"] + r["on_time"] + r["late"]
        assert r["in_progress"] == r["within_limit"] + r["overdue"]
    for key in ("received", "resolved", "in_progress", "online"):
        assert sum(r[key] for r in table["by_level"].values()) == table["total"][key]
        assert sum(r[key] for r in table["by_sector"].values()) == table["total"][key]
    assert table["total"]["received"] == report.total.received
    assert table["total"]["online"] == len(result.online_ids) > 0
    share = table["total"]["online"] / table["total"]["received"]
    assert abs(share - 0.40) < 0.06  # the cited online share over the week, days off included
    assert table["total"]["resolved"] == report.total.completed


def test_a_later_period_carries_open_dossiers_over(week):
    result, report, engine, _ = week
    defs = {d.key: d for d in engine.definitions()}
    later = result.start + timedelta(days=4)
    table = official_table(engine.store.iter_dossiers(), defs, start=later, at=report.at)
    whole = official_table(engine.store.iter_dossiers(), defs, start=result.start, at=report.at)
    assert table["total"]["carried_over"] > 0
    assert table["total"]["received"] < whole["total"]["received"]  # those finished before it are not in it
    unknown = official_table(engine.store.iter_dossiers(), defs, start=result.start, at=report.at)
    assert unknown["total"]["online"] is None  # without a channel the split is not invented


def test_the_table_counted_in_the_report_pass_is_the_table_of_the_store(week):
    """run_simulation counts the official table while it reads the store for the report (one pass, not two):
    the same table as reading every dossier again."""
    result, report, engine, data = week
    defs = {d.key: d for d in engine.definitions()}
    again = official_table(engine.store.iter_dossiers(), defs, start=result.start, at=report.at,
                           online=lambda d: d.id in result.online_ids)
    assert result.official_table is not None and data["official_table"] == again
    assert again["total"]["received"] == report.total.received > 0


def test_every_bundled_procedure_reports_under_a_sector():
    from procflow.definition.reader import bundled_definitions
    from procflow.official import OTHER, sector_of

    assert [d.code for d in bundled_definitions() if sector_of(d) == OTHER] == []
