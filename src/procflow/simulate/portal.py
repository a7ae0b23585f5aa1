"""A simulated run with a real national portal in the loop (``procflow simulate --local-portal``).

The run's ``portal.status`` messages go over HTTP, through the portal adapter (``procflow-portal-http``)
and the ordinary ``DeliveryWorker``, to a portal at ``portal_url`` or to the portal simulator started on
127.0.0.1 that fails ``fail_rate`` of its calls. After every group commit the worker delivers what is due
on the simulated clock, so retries wait simulated minutes, not real ones. When the run ends the worker
keeps going on a clock of its own (the engine's stays at the end of the run, where the report reads it)
until every message is delivered or dead, then reconciliation compares the portal with the store and
corrections go out the same way, until the two agree or ``reconcile_rounds`` is used up.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from procflow.clock import Clock
from procflow.engine.core import Engine
from procflow.engine.outbox import STATUS_SYNC
from procflow.errors import PluginError, UsageError
from procflow.plugins import make_plugin_manager
from procflow.workers.delivery import DeliveryWorker
from procflow.workers.reconcile import reconcile

if TYPE_CHECKING:
    from procflow.simulate.runner import Simulator

__all__ = ["PORTAL_PLUGIN", "PortalRun", "PortalStats", "portal_adapter", "portal_lines"]

PORTAL_PLUGIN = "portal_http"  # the portal adapter's entry-point name in the "procflow" group


def portal_adapter(*, local: bool = False, name: str = PORTAL_PLUGIN) -> tuple[Any, Any]:
    """The installed portal adapter's plugin class and (for ``local``) its portal simulator class, found
    through the plugin manager (entry point ``name`` of group ``procflow``), not imported by module name: the
    core never depends on an adapter package. A missing adapter is one clear :class:`PluginError`."""
    pm = make_plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is None:
        raise PluginError(f"the portal sync needs a portal adapter, and no plugin {name!r} is installed (entry "
                          "point group 'procflow'): pip install ./plugins/procflow-portal-http")
    simulator = getattr(plugin, "simulator_class", None)
    if local and simulator is None:
        raise PluginError(f"the installed portal plugin {name!r} ({type(plugin).__module__}) offers no local "
                          "portal simulator (simulator_class); use --portal URL instead")
    return type(plugin), simulator


class _AfterRun:
    """The engine's clock while the run lasts; afterwards, the same moment plus however far the worker
    had to wait for its retries (the engine's clock must stay where the run ended)."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.extra = timedelta(0)

    def now(self) -> datetime:
        return self.base.now() + self.extra

    def move_to(self, when: datetime) -> None:
        self.extra = max(self.extra, when - self.base.now())


@attrs.define
class PortalStats:
    """What the report shows about the portal sync (đồng bộ Cổng DVCQG)."""

    portal: str
    messages: int = 0
    delivered: int = 0
    delivered_after_retry: int = 0
    failed_attempts: int = 0
    dead: int = 0
    dead_reasons: dict[str, int] = attrs.field(factory=dict)
    reconcile_rounds: int = 0
    corrections: int = 0
    missing_at_portal: int = 0
    in_sync: bool = False
    drift_after: int = 0
    portal_requests: int | None = None  # local simulator only
    duplicates_absorbed: int | None = None  # redeliveries the portal recognised by idempotency key
    injected_faults: dict[str, int] | None = None
    worker: dict[str, int] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class PortalRun:
    """``Simulator(..., after_commit=run)``; then ``run.finish()`` for the stats. The engine must emit
    ``portal.status`` (``Scenario.portal_sync``, or ``topic_rule([status_sync_topic(store)])``).
    Credentials for a real portal default to ``PROCFLOW_PORTAL_USERNAME`` / ``_PASSWORD`` / ``_AGENCY``."""

    def __init__(self, engine: Engine, *, portal_url: str | None = None, local: bool = False,
                 fail_rate: float = 0.0, seed: int = 1, timeout: float | None = None, max_attempts: int = 10,
                 base_delay: float = 60.0, max_delay: float = 1800.0, concurrency: int = 8, batch_size: int = 64,
                 reconcile_rounds: int = 4, username: str | None = None, password: str | None = None,
                 agency_code: str | None = None) -> None:
        PortalPlugin, PortalSimulator = portal_adapter(local=local)
        if (portal_url is None) == (not local):
            raise UsageError("give either portal_url or local=True")
        if fail_rate and not local:
            raise UsageError("fail_rate injects failures into the local portal simulator; a real portal fails "
                             "on its own")
        env = os.environ
        username = username or env.get("PROCFLOW_PORTAL_USERNAME") or "procflow"
        password = password or env.get("PROCFLOW_PORTAL_PASSWORD") or "procflow"
        agency_code = agency_code or env.get("PROCFLOW_PORTAL_AGENCY") or "000.00.00.H00"
        if timeout is None:  # the simulator answers in about a millisecond; a real portal needs patience
            timeout = 0.05 if local else 5.0
        self.engine = engine
        self.simulator = None
        if local:
            self.simulator = PortalSimulator(fail_rate=fail_rate, seed=seed, hang=timeout * 4,
                                             username=username, password=password).start()
            portal_url = self.simulator.url
        assert portal_url is not None
        self.portal_url = portal_url
        self.plugin = PortalPlugin(portal_url, username=username, password=password, agency_code=agency_code)
        self.pm = make_plugin_manager(plugins=[self.plugin], block=("portal_http",))
        self.clock = _AfterRun(engine.clock)
        self.worker = DeliveryWorker(engine.store, self.pm, worker_id="simulation", clock=self.clock,
                                     max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay,
                                     rng=random.Random(seed), timeout=timeout, concurrency=concurrency,
                                     batch_size=batch_size, lease_seconds=max(600.0, timeout * batch_size * 2),
                                     topics=[STATUS_SYNC], vault=engine.vault)
        self.reconcile_rounds = reconcile_rounds
        self.stats = PortalStats(portal="local simulator" if local else portal_url)
        self._finished = False

    def __call__(self, sim: Simulator, final: bool) -> None:
        """``after_commit``: deliver what is due now; at the end, settle and reconcile."""
        self.worker.drain()
        if final:
            self._settle_and_reconcile()

    # -- the end of the run ----------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Deliver until nothing is pending, jumping the worker's clock to each next retry."""
        store = self.engine.store
        assert self.worker.topics is not None  # the worker was made for STATUS_SYNC alone (__init__)
        while True:
            self.worker.drain()
            # only what this run delivers: other topics (e.g. timer notices) wait for their own adapters
            pending = [r for r in store.outbox(status="pending") if r["topic"] in self.worker.topics]
            if not pending:
                return
            due = min(_instant(r["available_at"]) for r in pending)
            self.clock.move_to(max(due, self.clock.now()) + timedelta(seconds=1))

    def _settle_and_reconcile(self) -> None:
        if self._finished:
            return
        self._settle()
        for _ in range(self.reconcile_rounds):
            self.stats.reconcile_rounds += 1
            report = reconcile(self.engine.store, self.pm, clock=self.clock, timeout=max(self.worker.timeout, 1.0),
                               attempts=5, retry_wait=0.0)
            self.stats.corrections += report.corrected
            self.stats.missing_at_portal += report.missing_remote
            self.stats.drift_after = report.corrected + report.unchecked
            if report.corrected == 0 and report.unchecked == 0:
                self.stats.in_sync = True
                break
            self._settle()
        self._finished = True

    def finish(self) -> PortalStats:
        """Settle and reconcile (if the run's final commit did not already), stop the local portal, and
        return the figures for the report."""
        self._settle_and_reconcile()
        rows = [r for r in self.engine.store.outbox() if r["topic"] == STATUS_SYNC]
        s = self.stats
        s.messages = len(rows)
        s.delivered = sum(r["status"] == "delivered" for r in rows)
        s.delivered_after_retry = sum(r["status"] == "delivered" and r["attempts"] > 0 for r in rows)
        s.failed_attempts = sum(int(r["attempts"]) for r in rows)
        dead = [r for r in rows if r["status"] == "dead"]
        s.dead = len(dead)
        s.dead_reasons = dict(Counter(_reason(r["last_error"]) for r in dead).most_common(5))
        s.worker = self.worker.stats.to_dict()
        if self.simulator is not None:
            s.portal_requests = self.simulator.requests
            s.duplicates_absorbed = self.simulator.duplicates
            s.injected_faults = dict(self.simulator.faults)
        self.close()
        return s

    def close(self) -> None:
        self.worker.close()
        self.plugin.close()
        if self.simulator is not None:
            self.simulator.stop()


def _instant(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _reason(error: str | None) -> str:
    """Dead-letter reasons grouped for the report: without the attempt count and the per-call detail."""
    text = (error or "").removeprefix("after ").split(": ", 1)[-1]
    return text.split(" (")[0][:80]


def portal_lines(stats: PortalStats | dict[str, Any]) -> list[str]:
    """The report's lines about the portal sync, for ``procflow simulate`` to print."""
    s = stats if isinstance(stats, dict) else stats.to_dict()
    lines = [f"national portal ({s['portal']}): {s['messages']:,} status messages · delivered {s['delivered']:,} "
             f"({s['delivered_after_retry']:,} after retries, {s['failed_attempts']:,} failed attempts) · "
             f"dead-lettered {s['dead']:,}",
             f"reconciliation: {s['corrections']:,} correction(s) in {s['reconcile_rounds']} round(s) · portal "
             + ("matches procflow for every dossier" if s["in_sync"] else f"still differs for {s['drift_after']:,}")]
    if s.get("portal_requests") is not None:
        faults = ", ".join(f"{k} {v:,}" for k, v in sorted((s.get("injected_faults") or {}).items())) or "none"
        lines.append(f"portal simulator: {s['portal_requests']:,} requests · injected faults: {faults} · "
                     f"redeliveries absorbed by idempotency key: {s['duplicates_absorbed']:,}")
    for reason, n in (s.get("dead_reasons") or {}).items():
        lines.append(f"  dead letters: {n:,} × {reason}")
    return lines
