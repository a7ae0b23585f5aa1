"""``procflow plugins / worker / outbox / reconcile`` as an operator runs them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from adapter_support import birth
from operator_support import use_operator
from test_plugins import install_fake_distribution
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()
PROCFLOW = str(Path(sys.executable).parent / "procflow")


def _plugins_json(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROCFLOW, "plugins", "--json"], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60)


def test_an_installed_adapter_appears_in_procflow_plugins(tmp_path):
    install_fake_distribution(tmp_path / "site", "acme_cli", """
        from procflow.hookspecs import hookimpl

        @hookimpl
        def procflow_deliver_notification(message, timeout):
            return "sms-1"
    """)
    run = _plugins_json({"PYTHONPATH": str(tmp_path / "site")})
    assert run.returncode == 0, run.stderr
    plugins = {p["name"]: p for p in json.loads(run.stdout)}
    assert plugins["acme"] == {"name": "acme", "source": "acme-adapter 1.2", "hooks": ["procflow_deliver_notification"]}
    for name, dist in (("portal_http", "procflow_portal_http"),
                       ("civil_registry_sqlite", "procflow_civil_registry_sqlite")):
        try:
            __import__(dist)
        except ImportError:
            continue  # reference adapter not installed in this environment
        assert plugins[name]["source"].startswith(dist.replace("_", "-"))


def test_a_broken_plugin_stops_procflow_plugins_with_its_name(tmp_path):
    install_fake_distribution(tmp_path / "site", "acme_cli_broken", "raise RuntimeError('licence file missing')\n")
    run = _plugins_json({"PYTHONPATH": str(tmp_path / "site")})
    assert run.returncode == 1
    assert "plugin 'acme'" in run.stderr and "licence file missing" in run.stderr


@pytest.fixture
def outbox_db(tmp_path, registry, clock, commune, monkeypatch) -> str:
    """A store with three dossiers' outbox rows (one dead), and its operator's credential in the environment
    (requeue, worker and reconcile act as the operator)."""
    path = str(tmp_path / "ops.db")
    store = SQLiteStore(path)
    engine = Engine(store, registry=registry, clock=clock, outbox_rules=[topic_rule([status_sync_topic(store)])])
    for d in bundled_definitions():
        engine.register(d)
    for _ in range(3):
        birth(engine, commune, clock, through=())
    [first, *_] = store.claim_outbox("w", now=clock.now() + timedelta(days=1))
    store.fail_outbox(first["id"], "w", now=clock.now(), error="portal refused 092123456789", retry_at=None)
    store.release_outbox("w")
    use_operator(monkeypatch, store)
    store.close()
    return path


def test_outbox_lists_dead_letters_masked_and_requeues_them(outbox_db):
    shown = runner.invoke(app, ["outbox", "--db", outbox_db, "--dead", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["counts"] == {"pending": 2, "delivered": 0, "dead": 1}
    [dead] = data["messages"]
    assert dead["last_error"] == "portal refused 0921******89"
    requeued = runner.invoke(app, ["outbox", "--db", outbox_db, "--requeue", str(dead["id"]), "--requeue", "999"])
    assert requeued.exit_code == 0 and "requeued 1 dead message(s)" in requeued.stdout
    assert "1 id(s) were not dead letters" in requeued.stderr
    assert "pending 3 · delivered 0 · dead 0" in requeued.stdout


def test_worker_once_and_reconcile_against_the_portal(outbox_db, monkeypatch):
    portal_http = pytest.importorskip("procflow_portal_http")
    from procflow_portal_http.plugin import default  # the instance the entry point registers

    with portal_http.PortalSimulator() as portal, contextlib.closing(default):
        monkeypatch.setenv("PROCFLOW_PORTAL_URL", portal.url)
        monkeypatch.setenv("PROCFLOW_PORTAL_PASSWORD", portal.password)
        done = runner.invoke(app, ["worker", "--db", outbox_db, "--once", "--no-timers", "--json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["delivered"] == 2
        assert len(portal.statuses()) == 2
        report = runner.invoke(app, ["reconcile", "--db", outbox_db, "--json"])
        assert report.exit_code == 0, report.output
        data = json.loads(report.stdout)
        assert (data["checked"], data["in_sync"], data["corrected"], data["missing_remote"]) == (3, 2, 1, 1)
        human = runner.invoke(app, ["outbox", "--db", outbox_db, "--pending"])
        assert "reconcile" in human.stdout and "pending 1 · delivered 2 · dead 1" in human.stdout
        runner.invoke(app, ["worker", "--db", outbox_db, "--once", "--no-timers"])
        assert len(portal.statuses()) == 3


def test_commands_refuse_a_missing_store(tmp_path):
    for cmd in ("worker", "outbox", "reconcile"):
        result = runner.invoke(app, [cmd, "--db", str(tmp_path / "nope.db")])
        assert result.exit_code == 1 and "no store at" in result.stderr
