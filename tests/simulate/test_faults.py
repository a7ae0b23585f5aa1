"""Fault scenarios: each leaves its mark on the store, and the report compares against the run without them."""

from __future__ import annotations

from datetime import date, datetime

import attrs
import pytest

from procflow.errors import ProcflowError
from procflow.simulate import Scenario, run_simulation
from procflow.simulate.faults import parse_fault
from procflow.simulate.report import run_with_baseline, simulation_report

OFFLINE = "034.24.99.H12"  # a commune of Lai Châu
FAULTS = ("portal-down:day=2026-04-22", f"commune-offline:commune={OFFLINE},start=2026-04-23T08:00,hours=6",
          "official-leave:officials=4,start=2026-04-21,days=6", "holiday-week:start=2026-04-27")
SCENARIO = Scenario(province="Lai Châu", days=12, seed=5, dossiers_per_commune_day=4,
                    faults=tuple(parse_fault(f) for f in FAULTS))


@pytest.fixture(scope="module")
def runs():
    result, report, engine = run_simulation(SCENARIO, ":memory:")
    events = [e for i in engine.store.dossier_ids() for e in engine.store.events(i)]
    baseline = run_with_baseline(SCENARIO)
    data = simulation_report(result, report, engine, baseline=baseline)
    yield result, events, baseline, data, engine
    engine.store.close()


def _at(text):
    return datetime.fromisoformat(text)


def test_portal_down_holds_online_filings_until_it_is_back(runs):
    result, events, *_ = runs
    down = next(f for f in result.faults if f["kind"] == "portal-down")
    start, end = _at(down["from"]), _at(down["to"])
    filed = [e for e in events if e.kind == "filed" and e.actor.startswith("desk@")]
    during = [e for e in filed if start <= e.at < end]
    assert all(start.replace(hour=7) <= e.at <= start.replace(hour=17) for e in during)  # only walk-ins
    assert sum(e.at == end for e in filed) > 5  # the queue arrives when the portal is back


def test_an_offline_commune_syncs_its_actions_when_the_line_is_back(runs):
    result, events, *_ = runs
    off = next(f for f in result.faults if f["kind"] == "commune-offline")
    start, end = _at(off["from"]), _at(off["to"])
    by_commune = [e for e in events if e.agency == OFFLINE and e.actor.startswith(("official-", "desk@"))]
    assert not [e for e in by_commune if start <= e.at < end]
    assert any(e.at == end for e in by_commune)


def test_officials_on_leave_grow_the_backlog_and_a_holiday_week_stops_work(runs):
    result, events, baseline, _, engine = runs
    leave = next(f for f in result.faults if f["kind"] == "official-leave")
    agency = leave["agency"]
    window = (_at(leave["from"]), _at(leave["to"]))

    def backlog(samples):
        return sum(n for at, a, n, _, _ in samples if a == agency and window[0] <= _at(at) < window[1])

    assert backlog(result.backlog) > backlog(baseline[0].backlog)
    assert not engine.calendar.is_working_day(date(2026, 4, 28))  # the declared week (27/4 is a holiday)
    worked = [e for e in events if e.actor.startswith("official-") and e.at.date() in (date(2026, 4, 28),
                                                                                     date(2026, 4, 29))]
    assert worked == []


def test_the_report_shows_what_the_faults_cost(runs):
    *_, data, _ = runs
    effect = data["fault_effect"]
    assert {f["kind"] for f in data["faults"]} == {"portal-down", "commune-offline", "official-leave",
                                                   "holiday-week"}
    assert effect["faulted"]["backlog_peak"] >= effect["baseline"]["backlog_peak"]
    assert effect["delta"]["on_time_rate"] == pytest.approx(
        effect["faulted"]["on_time_rate"] - effect["baseline"]["on_time_rate"])
    assert len(effect["baseline_backlog"]["open"]) == len(data["backlog_over_time"]["days"]) == 12


@pytest.mark.parametrize(("text", "message"), [
    ("earthquake", "unknown fault 'earthquake'"),
    ("portal-down:hours", "expected key=value"),
    ("official-leave:colour=red", "key one of agency, officials, days, start"),
    ("portal-down:hours=many", "hours must be a number"),
])
def test_bad_fault_options_are_refused_with_the_allowed_ones(text, message):
    with pytest.raises(ProcflowError, match=message):
        parse_fault(text)


def test_leave_cannot_take_a_whole_office():
    with pytest.raises(ProcflowError, match="officials must be between 1 and 5"):
        run_simulation(attrs.evolve(SCENARIO, days=2, faults=(parse_fault("official-leave:officials=6"),)))
