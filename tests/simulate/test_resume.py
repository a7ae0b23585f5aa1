"""A run interrupted anywhere (the batch in hand rolls back, as when the process dies) and resumed ends with
the store and report of an uninterrupted run with the same seed — faults, bundles and timers included."""

from __future__ import annotations

import attrs
import pytest

from procflow.errors import StoreError
from procflow.simulate import Scenario, run_simulation
from procflow.simulate.faults import parse_fault
from procflow.simulate.runner import Simulator
from procflow.testing.crash import check_store, store_rows

SCENARIO = Scenario(province="Lai Châu", days=8, seed=3, dossiers_per_commune_day=4, commit_every=200,
                    faults=(parse_fault("portal-down"), parse_fault("official-leave:officials=2")))


class Crash(Exception):
    pass


def _run_until_crash(monkeypatch, db, *, after: int, resume: bool) -> None:
    count = {"n": 0}
    original = Simulator._dispatch

    def dispatch(self, ts, kind, payload):
        count["n"] += 1
        if count["n"] == after:
            raise Crash  # mid-batch: the batch's transaction rolls back, like a killed process's
        return original(self, ts, kind, payload)

    monkeypatch.setattr(Simulator, "_dispatch", dispatch)
    with pytest.raises(Crash):
        run_simulation(SCENARIO, str(db), resume=resume)
    monkeypatch.setattr(Simulator, "_dispatch", original)


def test_interrupted_runs_resume_to_the_uninterrupted_store_and_report(tmp_path, monkeypatch):
    result, report, engine = run_simulation(SCENARIO, str(tmp_path / "ref.db"))
    engine.store.close()
    db = tmp_path / "crash.db"
    for i, after in enumerate((1, 700, 900, 1100)):  # counted per start; the first dies before any commit
        _run_until_crash(monkeypatch, db, after=after, resume=i > 0)
    resumed, report2, engine2 = run_simulation(SCENARIO, str(db), resume=True)
    engine2.store.close()
    assert resumed.resumed and (resumed.filed, resumed.fired) == (result.filed, result.fired)
    assert report2.to_dict() == report.to_dict() and resumed.backlog == result.backlog
    assert store_rows(db) == store_rows(tmp_path / "ref.db")
    assert check_store(db) == []


def test_a_finished_run_resumes_to_itself_and_other_settings_are_refused(tmp_path):
    db = str(tmp_path / "sim.db")
    small = attrs.evolve(SCENARIO, days=3, faults=())
    _, report, engine = run_simulation(small, db)
    engine.store.close()
    again, report2, engine = run_simulation(small, db, resume=True)
    engine.store.close()
    assert again.resumed and report2.to_dict() == report.to_dict()
    with pytest.raises(StoreError, match="other settings"):
        run_simulation(attrs.evolve(small, seed=4), db, resume=True)


def test_the_same_seed_gives_the_same_run_and_the_bundle_is_in_the_default_mix():
    a = run_simulation(attrs.evolve(SCENARIO, days=4), ":memory:")
    b = run_simulation(attrs.evolve(SCENARIO, days=4), ":memory:")
    for _, _, engine in (a, b):
        engine.store.close()
    assert a[1].to_dict() == b[1].to_dict() and a[0].backlog == b[0].backlog
    assert "LT.KS-TT-BHYT" in Scenario().procedure_mix
    assert a[0].bundles > 0 and a[0].bundle_summary["received"] == a[0].bundles
    assert {"1.004222", "BHYT.TE6"} <= set(a[1].by_procedure)
