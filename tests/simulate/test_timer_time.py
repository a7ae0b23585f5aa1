"""Simulated time never steps backwards when timers and the officials' tasks interleave.

The defect (issue 17): ``procflow simulate --days 50`` crashed with "time cannot go backwards". A timer
(a liên thông member's expired supplement request) fired, the bundle reacted by scheduling its joined
result's return at that very moment, and the timer driver then jumped the clock to the next timer due a
fraction of a second later, before that task. The scenario below makes that chain frequent: every
residence member that is asked to supplement is abandoned, so its 30-day expiry withdraws it while its
siblings wait, done, for the joined return. Before the fix this run crashed on its 30th day.
"""

from __future__ import annotations

from procflow.simulate.job import run_simulation
from procflow.simulate.scenario import DEFAULT_PROFILES, Choice, Scenario

RESIDENCE = "1.004222"


def _abandoned_supplements() -> dict:
    profiles = dict(DEFAULT_PROFILES)
    profiles[RESIDENCE] = {
        **profiles[RESIDENCE],
        "processing": (Choice("approve", 0.5, minutes=30, data={"documents_complete": True}),
                       Choice("request_supplement", 0.5, minutes=10)),
        "supplement_requested": (Choice("abandon", 1.0, "never"),),
    }
    return profiles


def test_a_timer_that_makes_the_bundle_schedule_work_never_lets_the_clock_jump_past_it():
    scenario = Scenario(province="Lai Châu", days=32, seed=1, dossiers_per_commune_day=0.6,
                        procedure_mix={"LT.KS-TT-BHYT": 1.0}, profiles=_abandoned_supplements())
    result, report, engine = run_simulation(scenario, ":memory:")
    try:
        timers = report.extra["timers"]
        # the chain that used to crash really ran: expiries withdrew members, bundles returned results after
        assert timers["supplements_expired"] > 10
        assert result.bundle_summary is not None and result.bundle_summary["statuses"].get("10", 0) > 0
        assert engine.clock.now() == result.end
        # every event is in time order per dossier, and none is later than the end of the run
        for dossier_id in engine.store.dossier_ids()[:200]:
            times = [e.at for e in engine.store.events(dossier_id)]
            assert times == sorted(times) and times[-1] <= result.end
    finally:
        engine.store.close()


def test_pace_is_the_mean_wall_time_per_simulated_day_over_the_week_ending_there():
    from datetime import UTC, datetime

    from procflow.jurisdiction import Registry
    from procflow.simulate.result import SimulationResult

    t = datetime(2026, 4, 20, tzinfo=UTC)
    result = SimulationResult(scenario=Scenario(), province=Registry.default().province("92"), start=t, end=t)
    result.day_clock = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 13.0]  # start, then each day's close
    assert result.pace(1) == 1.0
    assert result.pace(10) == (13.0 - 3.0) / 7  # days 4..10
    assert result.pace(11) is None and result.pace(0) is None


def test_a_task_that_outlives_its_state_is_checkpointed_and_resumed(tmp_path, monkeypatch):
    """A citizen due back after the supplement request expired: the expiry timer withdraws the dossier while
    the citizen's task still waits. Checkpoints wrote such a task with the dossier's new state and crashed
    (``KeyError`` at day ~150 of a province-year); a run killed after it resumes to the uninterrupted store."""
    import attrs
    import pytest

    from procflow.simulate.runner import Simulator
    from procflow.testing.crash import store_rows

    profiles = dict(DEFAULT_PROFILES)
    late = (Choice("resubmit", 1.0, "citizen", minutes=10, days=40),)  # beyond the 30-day expiry
    profiles["2.000720"] = {**profiles["2.000720"], "supplement_requested": late,
                            "reviewing": (Choice("request_supplement", 1.0, minutes=15),)}
    scenario = Scenario(province="Lai Châu", days=45, seed=2, dossiers_per_commune_day=0.3, commit_every=50,
                        procedure_mix={"2.000720": 1.0}, profiles=profiles)
    result, report, engine = run_simulation(scenario, str(tmp_path / "ref.db"))
    engine.store.close()
    assert report.extra["timers"]["supplements_expired"] > 0

    class Crash(Exception):
        pass

    original = Simulator._dispatch
    crash_at = result.start.timestamp() + 40 * 86400  # well after the first expiries (day 30)

    def dispatch(self, ts, kind, payload):
        if ts > crash_at:
            raise Crash
        return original(self, ts, kind, payload)

    monkeypatch.setattr(Simulator, "_dispatch", dispatch)
    with pytest.raises(Crash):
        run_simulation(attrs.evolve(scenario), str(tmp_path / "crash.db"))
    monkeypatch.setattr(Simulator, "_dispatch", original)
    resumed, report2, engine2 = run_simulation(scenario, str(tmp_path / "crash.db"), resume=True)
    engine2.store.close()
    assert resumed.resumed and report2.to_dict() == report.to_dict()
    assert store_rows(tmp_path / "crash.db") == store_rows(tmp_path / "ref.db")
