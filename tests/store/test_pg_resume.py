"""``procflow simulate`` on PostgreSQL, SIGKILLed mid-run and restarted with ``--resume``, ends with the
report (and the dossiers, events and liên thông bundles) of an uninterrupted run on SQLite.

The checkpoint rides in each group commit on PostgreSQL as on SQLite (``SimulationRecords``), and bundles
are kept in the store's bundle tables (``BundleRecords``), so a killed process loses nothing it committed
and a restarted one decides exactly what the uninterrupted run decided.
"""

from __future__ import annotations

import json
import sys

import pytest

from procflow.bundle import BundleCoordinator
from procflow.engine.core import Engine
from procflow.simulate import Scenario, run_simulation
from procflow.simulate.report import simulation_report
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SQLiteStore
from procflow.testing.crash import postgres_count, run_with_kills, sqlite_count

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OPTIONS = {"province": "Lai Châu", "days": 12, "rate": 0.4, "seed": 7}


def test_a_killed_postgres_run_resumes_to_the_uninterrupted_sqlite_report(pg_empty, tmp_path):
    url, schema = pg_empty
    scenario = Scenario(province=OPTIONS["province"], days=OPTIONS["days"], seed=OPTIONS["seed"],
                        rate=OPTIONS["rate"])
    result, report, engine = run_simulation(scenario, str(tmp_path / "ref.db"))
    reference = json.loads(json.dumps(simulation_report(result, report, engine)))
    engine.store.close()
    assert result.bundles > 0  # the default mix files liên thông bundles
    total = sqlite_count(tmp_path / "ref.db", "events")()
    assert total > 2 * scenario.commit_every  # so kills land after the first and the second group commit

    db = f"{url}?options=-csearch_path%3D{schema}"
    argv = [sys.executable, "-m", "procflow.simulate", "--province", OPTIONS["province"],
            "--days", str(OPTIONS["days"]), "--rate", str(OPTIONS["rate"]), "--seed", str(OPTIONS["seed"]),
            "--db", db, "--resume", "--json"]
    runs = run_with_kills(argv, points=[total * 0.2, total * 0.55], probe=postgres_count(url, "events", schema=schema),
                          timeout=240, seed=2)
    assert runs.kills == 2, [(a.killed, a.returncode, a.stderr[-300:]) for a in runs.attempts]
    assert runs.final.returncode == 0, runs.final.stderr[-2000:]
    assert json.loads(runs.final.stdout) == reference  # the uninterrupted SQLite run's report

    # the store itself: the same dossiers, events and bundles as the uninterrupted run wrote
    sqlite, pg = SQLiteStore(str(tmp_path / "ref.db")), PostgresStore(url, schema=schema, pool_size=1)
    try:
        assert list(pg.iter_dossiers()) == list(sqlite.iter_dossiers())
        for dossier_id in sqlite.dossier_ids()[::40]:
            assert pg.events(dossier_id) == sqlite.events(dossier_id)
        b_sqlite = BundleCoordinator(Engine(sqlite), definitions=())
        b_pg = BundleCoordinator(Engine(pg), definitions=())
        bundles = list(b_sqlite.iter_bundles())
        assert len(bundles) == result.bundles and list(b_pg.iter_bundles()) == bundles
        assert all(b_pg.events(b.id) == b_sqlite.events(b.id) for b in bundles[::10])
        assert pg.sim_samples() == sqlite.sim_samples()
    finally:
        sqlite.close()
        pg.close()
