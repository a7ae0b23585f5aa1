"""Reconciliation against an in-process receiver that keeps statuses like the portal does."""

from __future__ import annotations

import random

import pytest
from adapter_support import Recorder, birth, make_engine

from procflow.errors import PluginError, RetryableAdapterError
from procflow.hookspecs import hookimpl
from procflow.plugins import make_plugin_manager
from procflow.workers.delivery import DeliveryWorker
from procflow.workers.reconcile import reconcile


class Mirror(Recorder):
    """Applies each status it receives, as the portal would, and reports what it holds."""

    def __init__(self, lookups=()) -> None:
        super().__init__()
        self.remote: dict[str, int] = {}
        self.lookups = list(lookups)  # scripted lookup outcomes: "ok" or "retry"

    @hookimpl
    def procflow_deliver_status_sync(self, message, timeout):
        receipt = super().procflow_deliver_status_sync(message, timeout)
        self.remote[message.dossier_id] = message.payload["status"]
        return receipt

    @hookimpl
    def procflow_resolve_remote_statuses(self, dossier_ids, timeout):
        if self.lookups and self.lookups.pop(0) == "retry":
            raise RetryableAdapterError("portal busy")
        return {i: self.remote[i] for i in dossier_ids if i in self.remote}


def deliver_all(engine, pm, clock) -> None:
    DeliveryWorker(engine.store, pm, clock=clock, rng=random.Random(0)).drain()


def test_drift_is_corrected_through_the_outbox_and_then_gone(sqlite_store, registry, clock, commune):
    mirror = Mirror()
    engine, pm = make_engine(sqlite_store, registry, clock, mirror)
    ids = [birth(engine, commune, clock, through=("accept",)).id for _ in range(5)]
    deliver_all(engine, pm, clock)
    mirror.remote[ids[1]] = 3  # someone edited the portal by hand
    del mirror.remote[ids[3]]  # the portal lost a dossier
    report = reconcile(sqlite_store, pm, clock=clock, batch_size=2)
    assert (report.checked, report.in_sync, report.corrected, report.missing_remote) == (5, 3, 2, 1)
    assert {(c.dossier_id, c.local_status, c.remote_status) for c in report.corrections} == {
        (ids[1], 4, 3), (ids[3], 4, None)}
    rows = [r for r in sqlite_store.outbox(status="pending")]
    assert {r["key"] for r in rows} == {c.key for c in report.corrections}
    assert all(r["payload"]["reason"] == "reconcile" and r["payload"]["event"] is None for r in rows)
    assert reconcile(sqlite_store, pm, clock=clock).in_flight == 2  # corrections pending: not enqueued twice
    deliver_all(engine, pm, clock)
    assert mirror.remote == {i: 4 for i in ids}
    again = reconcile(sqlite_store, pm, clock=clock)
    assert (again.corrected, again.in_sync) == (0, 5)


def test_lookup_failures_are_retried_then_reported_not_raised(sqlite_store, registry, clock, commune):
    mirror = Mirror(lookups=["retry", "ok", "retry", "retry", "retry"])
    engine, pm = make_engine(sqlite_store, registry, clock, mirror)
    for _ in range(4):
        birth(engine, commune, clock, through=())
    deliver_all(engine, pm, clock)
    report = reconcile(sqlite_store, pm, clock=clock, batch_size=2, attempts=3, retry_wait=0)
    assert (report.checked, report.unchecked, report.in_sync) == (2, 2, 2)
    assert report.errors == ["2 dossier(s) from " + sorted(mirror.remote)[2] + ": RetryableAdapterError: portal busy"]


def test_without_a_status_source_reconciliation_says_what_to_install(sqlite_store):
    with pytest.raises(PluginError, match="procflow-portal-http"):
        reconcile(sqlite_store, make_plugin_manager(load_entrypoints=False))
