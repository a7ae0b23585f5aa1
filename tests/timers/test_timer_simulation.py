"""``procflow simulate`` runs the timers on simulated time: reminders, overdue letters, expiring supplements."""

from __future__ import annotations

from datetime import date

from procflow.simulate import Choice, Scenario, run_simulation

# household business registration (3 working days) in a small province: half the dossiers are reviewed far
# too slowly (a reminder, then an overdue letter), half are sent back for a supplement the citizen never
# brings (the request expires after 30 days and the dossier is closed by the scheduler)
PROFILE = {"2.000720": {
    "received": (Choice("accept", 1.0, minutes=5),),
    "reviewing": (Choice("approve", 0.5, minutes=2400, data={"documents_complete": True}),
                  Choice("request_supplement", 0.5, minutes=10)),
    "supplement_requested": (Choice("abandon", 1.0, "never"),),
    "processed": (Choice("return_result", 1.0, "pickup", minutes=5, days=2),),
}}


def test_simulation_fires_reminders_overdue_letters_and_expiring_supplements():
    scenario = Scenario(province="Lai Châu", days=40, seed=3, start=date(2026, 4, 20), dossiers_per_commune_day=0.15,
                        procedure_mix={"2.000720": 1.0}, profiles=PROFILE)
    result, report, engine = run_simulation(scenario, ":memory:")
    timers = report.extra["timers"]
    store = engine.store
    try:
        assert result.refused == 0  # officials never acted on a revision a timer had moved on
        assert timers["reminders"] > 0 and timers["overdue_recorded"] > 0 and timers["supplements_expired"] > 0
        withdrawn = [d for d in store.iter_dossiers() if d.state == "withdrawn"]
        assert len(withdrawn) == timers["supplements_expired"]
        assert all(store.events(d.id)[-1].actor.startswith("scheduler@") for d in withdrawn)
        # one form-04 letter for every dossier the on-time statistics count as late, and for no other
        assert timers["overdue_recorded"] == report.total.completed_late + report.total.overdue_open > 0
        assert report.to_dict()["timers"]["by_name"]["overdue"]["fired"] == timers["overdue_recorded"]
    finally:
        store.close()
