"""The delivery worker on a real SQLite store with in-process adapters: outcomes, backoff, dead letters,
requeue, graceful stop, and invariant 5 (delivery never inside, never undoing, a state transition)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from adapter_support import Recorder, birth, desk, make_engine, officer
from hypothesis import given
from hypothesis import strategies as st

from procflow.errors import StoreError
from procflow.hookspecs import hookimpl
from procflow.plugins import make_plugin_manager
from procflow.workers.backoff import Backoff
from procflow.workers.delivery import DeliveryWorker


def worker(engine, pm, clock, **kw) -> DeliveryWorker:
    opts = {"base_delay": 60.0, "max_delay": 3600.0, "jitter": 0.0, "max_attempts": 4, "timeout": 1.0,
            "rng": random.Random(1), **kw}
    return DeliveryWorker(engine.store, pm, clock=clock, worker_id="w1", **opts)


def test_each_message_is_delivered_once_with_its_key(sqlite_store, registry, clock, commune):
    rec = Recorder()
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    d = birth(engine, commune, clock, through=("accept", "approve"))
    stats = worker(engine, pm, clock).drain()
    assert stats.delivered == 3 and stats.retried == stats.dead == 0
    assert [m.key for m in rec.calls] == [f"portal.status:{d.id}:{seq}" for seq in (1, 2, 3)]
    assert rec.applied == {m.key: 1 for m in rec.calls}
    assert {r["status"] for r in sqlite_store.outbox()} == {"delivered"}
    assert rec.in_transaction_seen == [False, False, False]  # invariant 5: adapters run outside transactions


def test_a_failure_waits_its_backoff_then_retries_with_the_same_key(sqlite_store, registry, clock, commune):
    rec = Recorder(["retry"])
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    birth(engine, commune, clock, through=())
    w = worker(engine, pm, clock)
    assert w.run_once().retried == 1
    [row] = sqlite_store.outbox()
    assert row["status"] == "pending" and row["attempts"] == 1 and "portal busy" in row["last_error"]
    assert row["available_at"] == (clock.now() + timedelta(seconds=60)).isoformat()
    clock.advance(seconds=59)
    assert w.run_once().claimed == 0
    clock.advance(seconds=1)
    assert w.run_once().delivered == 1
    assert [(m.key, m.attempt) for m in rec.calls] == [(row["key"], 1), (row["key"], 2)]
    assert rec.applied[row["key"]] == 1


def test_retries_end_in_a_dead_letter_with_the_last_error(sqlite_store, registry, clock, commune):
    dead: list[tuple[str, str]] = []

    class Alarm:
        @hookimpl
        def procflow_on_dead_letter(self, message, error):
            dead.append((message.key, error))

    rec = Recorder(["retry", "retry", "bug", "retry"])
    engine, pm = make_engine(sqlite_store, registry, clock, rec, Alarm())
    birth(engine, commune, clock, through=())
    w = worker(engine, pm, clock)
    for _ in range(4):
        w.run_once()
        clock.advance(hours=2)
    [row] = sqlite_store.outbox()
    assert row["status"] == "dead" and row["attempts"] == 4
    assert row["last_error"] == "after 4 attempt(s): RetryableAdapterError: portal busy (error_code 99)"
    assert dead == [(row["key"], row["last_error"])] and w.stats.dead == 1 and w.stats.retried == 3
    assert not rec.applied


def test_an_unclassified_adapter_error_is_retried_and_named(sqlite_store, registry, clock, commune):
    rec = Recorder(["bug"])
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    birth(engine, commune, clock, through=())
    worker(engine, pm, clock).run_once()
    [row] = sqlite_store.outbox()
    assert row["status"] == "pending" and row["last_error"] == "unclassified KeyError: 'TrangThaiHoSo'"


def test_a_permanent_error_is_dead_at_once_and_masked(sqlite_store, registry, clock, commune):
    rec = Recorder(["permanent"])
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    birth(engine, commune, clock, through=())
    stats = worker(engine, pm, clock).run_once()
    [row] = sqlite_store.outbox()
    assert stats.dead == 1 and row["status"] == "dead" and row["attempts"] == 1
    assert row["last_error"] == "PermanentAdapterError: portal rejected the record: MaHoSo 0921******89 unknown"


def test_a_topic_nobody_delivers_is_dead_lettered_then_requeued_once_an_adapter_exists(
        sqlite_store, registry, clock, commune):
    subscriber = Recorder()
    engine, _ = make_engine(sqlite_store, registry, clock, subscriber)
    birth(engine, commune, clock, through=())
    bare = make_plugin_manager(load_entrypoints=False)
    assert worker(engine, bare, clock).run_once().dead == 1
    [row] = sqlite_store.outbox(status="dead")
    assert "no adapter delivers topic 'portal.status'" in row["last_error"]
    assert sqlite_store.requeue_dead(None, now=clock.now()) == 1
    late = Recorder(subscribe=False)
    assert worker(engine, make_plugin_manager(load_entrypoints=False, plugins=[late]), clock).drain().delivered == 1
    assert late.applied == {row["key"]: 1}


def test_an_adapter_returning_none_is_not_a_delivery(sqlite_store, registry, clock, commune):
    rec = Recorder(["none"])
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    birth(engine, commune, clock, through=())
    assert worker(engine, pm, clock).run_once().dead == 1
    assert "every procflow_deliver_status_sync returned None" in sqlite_store.outbox()[0]["last_error"]


def test_delivery_refuses_to_run_inside_a_state_transaction(sqlite_store, registry, clock, commune):
    engine, pm = make_engine(sqlite_store, registry, clock, Recorder())
    birth(engine, commune, clock, through=())
    w = worker(engine, pm, clock)
    with engine.batch(), pytest.raises(StoreError, match="invariant 5"):
        w.run_once()
    assert sqlite_store.outbox()[0]["status"] == "pending"


def test_a_failing_portal_never_blocks_or_undoes_a_transition(sqlite_store, registry, clock, commune):
    rec = Recorder(["permanent"] * 10)
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    d = birth(engine, commune, clock, through=("accept",))
    w = worker(engine, pm, clock)
    w.drain()
    engine.fire(d, "approve", officer(commune), data={"documents_complete": True})
    engine.fire(d, "return_result", desk(commune))
    assert engine.get(d.id).status == 10 and len(engine.history(d.id)) == 4
    assert [r["status"] for r in sqlite_store.outbox()] == ["dead", "dead", "pending", "pending"]


def test_graceful_stop_hands_back_the_rest_of_the_batch(sqlite_store, registry, clock, commune):
    class StopAfterOne(Recorder):
        @hookimpl
        def procflow_deliver_status_sync(self, message, timeout):
            w.stop()  # as SIGTERM would, while the first delivery is in flight
            return super().procflow_deliver_status_sync(message, timeout)

    rec = StopAfterOne()
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    for _ in range(5):
        birth(engine, commune, clock, through=())
    w = worker(engine, pm, clock)
    stats = w.run_once()
    w.close()
    assert (stats.delivered, stats.released) == (1, 4)
    assert [r["claimed_by"] for r in sqlite_store.outbox(status="pending")] == [None] * 4
    assert len(sqlite_store.claim_outbox("w2", now=clock.now())) == 4  # another worker need not wait


def test_a_message_whose_lease_runs_out_is_handed_back_not_started(sqlite_store, registry, clock, commune):
    class Slow(Recorder):
        @hookimpl
        def procflow_deliver_status_sync(self, message, timeout):
            clock.advance(seconds=59.5)  # an adapter that overran: the batch's lease is nearly gone
            return super().procflow_deliver_status_sync(message, timeout)

    engine, pm = make_engine(sqlite_store, registry, clock, Slow())
    birth(engine, commune, clock, through=("accept",))
    stats = worker(engine, pm, clock, lease_seconds=60, timeout=1, batch_size=2).run_once()
    assert (stats.delivered, stats.released) == (1, 1)
    assert [r["claimed_by"] for r in sqlite_store.outbox(status="pending")] == [None]


def test_concurrent_delivery_keeps_each_dossiers_order(sqlite_store, registry, clock, commune):
    rec = Recorder()
    engine, pm = make_engine(sqlite_store, registry, clock, rec)
    ids = [birth(engine, commune, clock, through=("accept", "approve", "return_result")).id for _ in range(6)]
    stats = worker(engine, pm, clock, concurrency=4, batch_size=50).drain()
    assert stats.delivered == 24 and rec.applied.total() == 24
    for dossier_id in ids:
        assert [m.key.rsplit(":", 1)[1] for m in rec.calls if m.dossier_id == dossier_id] == ["1", "2", "3", "4"]


def test_run_until_a_time_then_returns(sqlite_store, registry, clock, commune):
    engine, pm = make_engine(sqlite_store, registry, clock, Recorder())
    birth(engine, commune, clock, through=())
    w = worker(engine, pm, clock, poll_interval=0.01)
    done = threading.Event()

    def stop_soon() -> bool:
        return done.is_set() or w.stats.delivered >= 1

    assert w.run(until=stop_soon).delivered == 1
    assert w.run(until=clock.now()).claimed == 0  # already past: returns at once


def test_a_lease_shorter_than_a_batch_is_refused(sqlite_store):
    with pytest.raises(ValueError, match="would run out"):
        DeliveryWorker(sqlite_store, make_plugin_manager(load_entrypoints=False), timeout=10, batch_size=20,
                       concurrency=1, lease_seconds=60)


def test_backoff_doubles_and_caps():
    b = Backoff(base=10, maximum=60, jitter=0)
    assert [b.delay(n, random.Random(0)) for n in range(1, 6)] == [10, 20, 40, 60, 60]


@given(st.integers(1, 40), st.floats(0, 1), st.integers(0, 2**32))
def test_jitter_stays_within_its_band_and_the_cap(failures, jitter, seed):
    b = Backoff(base=30, maximum=3600, jitter=jitter)
    raw = min(3600, 30 * 2 ** (failures - 1))
    delay = b.delay(failures, random.Random(seed))
    assert raw * (1 - jitter) - 1e-9 <= delay <= min(3600, raw * (1 + jitter)) + 1e-9
