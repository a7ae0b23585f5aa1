"""``simulate --workers N`` on PostgreSQL gives the single-process report, and the very same store contents."""

from __future__ import annotations

import pytest

from procflow.errors import StoreError
from procflow.simulate import Scenario, run_simulation
from procflow.simulate.parallel import run_parallel_simulation
from procflow.store.postgres import PostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_postgres_workers_reproduce_the_single_process_sqlite_run(pg_empty, tmp_path):
    url, schema = pg_empty
    scenario = Scenario(days=3, seed=11, dossiers_per_commune_day=2.0, portal_sync=True)
    one, single, engine = run_simulation(scenario, str(tmp_path / "single.db"))
    seen: list[float] = []
    result, parallel, pg_engine = run_parallel_simulation(scenario, url, workers=2, progress=seen.append,
                                                          store_options={"schema": schema})
    try:
        assert result.filed > 300 and result.fired > result.filed
        assert parallel.to_dict() == single.to_dict()  # the report has no timing fields
        # not just the figures: every snapshot and every event is the one the single process wrote
        sqlite_store, pg_store = engine.store, pg_engine.store
        assert list(pg_store.iter_dossiers()) == list(sqlite_store.iter_dossiers())
        for dossier_id in sqlite_store.dossier_ids()[::25]:
            assert pg_store.events(dossier_id) == sqlite_store.events(dossier_id)
        assert pg_store._execute("SELECT count(*) FROM events")[0][0] == result.filed + result.fired
        assert sorted(pg_store._execute("SELECT agency, day, last FROM sequences")) == \
            sorted(sqlite_store._execute("SELECT agency, day, last FROM sequences"))
        def messages(store):
            return sorted((r["key"], r["topic"], r["payload"]) for r in store.outbox())

        assert messages(pg_store) == messages(sqlite_store) != []
        assert pg_store.timers(statuses=None) == sqlite_store.timers(statuses=None)
        assert pg_store.timer_counts() == sqlite_store.timer_counts()
        assert result.bundle_summary == one.bundle_summary
        # liên thông bundles are in the shared store too, each written by the process owning its id
        assert list(pg_store.bundle_records()) == list(sqlite_store.bundle_records()) != []
        assert seen and all(0.0 <= f <= 1.0 for f in seen)
    finally:
        engine.store.close()
        pg_engine.store.close()


def test_refuses_a_used_store_unless_told_and_refuses_sqlite(pg_empty, tmp_path):
    url, schema = pg_empty
    store = PostgresStore(url, schema=schema)
    store.next_sequence("A", "260420")
    store.close()
    scenario = Scenario(days=1, seed=1, dossiers_per_commune_day=0.2)
    with pytest.raises(StoreError, match="--overwrite"):
        run_parallel_simulation(scenario, url, workers=2, store_options={"schema": schema})
    _, report, engine = run_parallel_simulation(scenario, url, workers=2, overwrite=True,
                                                store_options={"schema": schema})
    engine.store.close()
    assert report.total.received > 0
    with pytest.raises(StoreError, match="PostgreSQL"):
        run_parallel_simulation(scenario, str(tmp_path / "x.db"), workers=2)
