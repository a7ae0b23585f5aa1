"""The store contract: what every backend must do, run against SQLite and a real PostgreSQL alike.

Engine-level tests use the bundled procedures and real communes of Cần Thơ (92), so the writes are the
ones production makes (changed-column updates, hand-offs, SLA clocks), not synthetic rows.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind, replay
from procflow.engine.core import Engine
from procflow.errors import ConcurrencyConflict, DossierNotFound, StoreError
from procflow.simulate import Scenario, Simulator
from procflow.store.base import AuditEntry, OutboxMessage
from procflow.testing.directory import staff_of

VN = ZoneInfo("Asia/Ho_Chi_Minh")
BIRTH = "1.001193"
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789"}
T0 = datetime(2026, 4, 20, 8, 0, tzinfo=VN)

# SQLite raises its driver's IntegrityError for a constraint violation; PostgresStore converts to StoreError
_REFUSED_WRITE = (StoreError, sqlite3.IntegrityError)


def portal_sync(d: Dossier, e: DossierEvent, _defn: object) -> list[OutboxMessage]:
    """Every event syncs to the national portal: one outbox row per event, keyed for idempotency."""
    return [OutboxMessage("portal.sync", f"{e.dossier_id}:{e.seq}", d.id, {"status": e.status, "state": e.to_state})]


def make_engine(store, registry, clock, **kw) -> Engine:
    engine = Engine(store, registry=registry, clock=clock, **kw)
    for definition in bundled_definitions():
        engine.register(definition)
    # the contract's cast: each first commune's desk and civil-status officer (the engine is strict)
    staff_of(engine).actors(*(who(c.code) for c in registry.communes_of("92")[:3] for who in (desk, civil)))
    return engine


def desk(code: str) -> Actor:
    return Actor(f"desk@{code}", code, {"one_stop_officer"})


def civil(code: str) -> Actor:
    return Actor(f"hotich@{code}", code, {"civil_status_officer"})


def footprint(store, dossier_id: str):
    return store.get(dossier_id), store.events(dossier_id), [(r["key"], r["status"]) for r in store.outbox()]


@pytest.fixture
def commune(registry) -> str:
    return registry.communes_of("92")[0].code


# -- atomicity -------------------------------------------------------------------------------------------
def test_failure_after_the_write_inside_a_transaction_leaves_nothing(store, registry, clock, commune):
    engine = make_engine(store, registry, clock, outbox_rules=[portal_sync])
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    before = footprint(store, d.id)
    with pytest.raises(RuntimeError, match="injected"), store.transaction():
        engine.fire(d.copy(), "accept", desk(commune))
        raise RuntimeError("injected after snapshot, event and outbox were written")
    assert footprint(store, d.id) == before
    assert store.get(d.id).revision == 1 and len(store.outbox()) == 1


def test_failing_outbox_row_rolls_back_snapshot_and_event(store, registry, clock, commune):
    engine = make_engine(store, registry, clock, outbox_rules=[portal_sync])
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    before = footprint(store, d.id)

    def duplicate_key(d, e, _defn):  # the idempotency key of the filing event: the outbox INSERT must fail
        return [OutboxMessage("portal.sync", f"{d.id}:1", d.id, {"again": True})]

    engine.outbox_rules = [duplicate_key]
    with pytest.raises(_REFUSED_WRITE):
        engine.fire(d, "accept", desk(commune))
    assert footprint(store, d.id) == before and d.revision == 1

    def unserialisable(d, e, _defn):  # fails while the statements are being issued
        return [OutboxMessage("portal.sync", f"{d.id}:x", d.id, {"when": object()})]

    engine.outbox_rules = [unserialisable]
    with pytest.raises(TypeError):
        engine.fire(d, "accept", desk(commune))
    assert footprint(store, d.id) == before


def test_nested_transactions_join_the_outermost(store, registry, clock, commune):
    engine = make_engine(store, registry, clock)
    with pytest.raises(RuntimeError), store.batch():
        with store.transaction():
            d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
        engine.fire(d, "accept", desk(commune))  # the inner scope's commit was deferred to the outer one
        raise RuntimeError("outer fails")
    assert store.count_dossiers() == 0 and store.dossier_ids() == []
    with store.batch():
        with store.transaction():
            d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
        engine.fire(d, "accept", desk(commune))
    assert store.get(d.id).state == "processing" and len(store.events(d.id)) == 2


def test_a_refusal_inside_a_batch_does_not_spoil_the_batch(store, registry, clock, commune):
    engine = make_engine(store, registry, clock)
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    stale = d.copy()
    with store.batch():
        engine.fire(d, "accept", desk(commune))
        with pytest.raises(ConcurrencyConflict):
            engine.fire(stale, "accept", desk(commune))
        with pytest.raises(StoreError):
            store.insert_dossier(store.get(d.id), store.events(d.id)[0], ())
        engine.fire(d, "approve", civil(commune), data={"documents_complete": True})
    assert store.get(d.id).state == "processed" and [e.seq for e in store.events(d.id)] == [1, 2, 3]


# -- optimistic concurrency ------------------------------------------------------------------------------
def test_two_engines_stale_revision_conflicts_and_writes_nothing(store_factory, registry, commune):
    clock = FakeClock(T0)
    a = make_engine(store_factory(), registry, clock, outbox_rules=[portal_sync])
    b = make_engine(store_factory(), registry, clock, outbox_rules=[portal_sync])
    d = a.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    seen_by_b = b.get(d.id)
    clock.advance(minutes=5)
    a.fire(a.get(d.id), "accept", desk(commune))
    after_a = footprint(a.store, d.id)
    clock.advance(minutes=5)
    with pytest.raises(ConcurrencyConflict) as info:
        b.fire(seen_by_b, "refuse_receipt", desk(commune))
    assert (info.value.dossier_id, info.value.expected_version, info.value.actual_version) == (d.id, 1, 2)
    assert seen_by_b.revision == 1 and seen_by_b.state == "received"  # the caller's record is untouched
    assert footprint(b.store, d.id) == after_a == footprint(a.store, d.id)
    b.fire(b.get(d.id), "approve", civil(commune), data={"documents_complete": True})  # re-read, retry: fine
    assert a.get(d.id).revision == 3


def test_racing_writers_exactly_one_wins_per_revision(store_factory, registry, commune):
    clock = FakeClock(T0)
    engines = [make_engine(store_factory(), registry, clock) for _ in range(2)]
    d = engines[0].file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def race(engine: Engine) -> None:
        mine = engine.get(d.id)
        barrier.wait()
        try:
            engine.fire(mine, "accept", desk(commune))
            outcomes.append("won")
        except ConcurrencyConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=race, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "won"]
    assert [e.seq for e in engines[1].store.events(d.id)] == [1, 2]


def test_apply_on_a_missing_dossier(store, registry, clock, commune):
    engine = make_engine(store, registry, clock)
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    ghost = d.copy()
    ghost.id = "nobody"
    ev = DossierEvent(dossier_id="nobody", seq=2, at=T0, kind=EventKind.FIRED, trigger="accept",
                      from_state="received", to_state="processing", status=4, actor="x", agency=commune,
                      custodian=commune, definition_version=1)
    with pytest.raises(DossierNotFound):
        store.apply(ghost, 1, ev, (), frozenset())
    with pytest.raises(DossierNotFound):
        store.get("nobody")
    assert store.events("nobody") == []


# -- the event log is the truth ----------------------------------------------------------------------------
def test_replay_equals_snapshot_after_a_simulated_province(store, registry):
    scenario = Scenario(days=4, seed=7, dossiers_per_commune_day=0.4)
    clock = FakeClock(datetime(2026, 4, 20, tzinfo=VN))
    engine = make_engine(store, registry, clock, outbox_rules=[portal_sync])
    result = Simulator(engine, scenario).run()
    ids = store.dossier_ids()
    assert len(ids) == result.filed == store.count_dossiers() > 20 and result.fired > len(ids)
    snapshots = list(store.iter_dossiers())
    assert [s.id for s in snapshots] == ids
    for snap in snapshots:
        events = store.events(snap.id)
        assert replay(events) == snap
        assert [e.seq for e in events] == list(range(1, snap.revision + 1))
    assert len(store.outbox()) == result.filed + result.fired


def test_values_round_trip_exactly(store, registry, clock, commune):
    """What comes back is what SQLite gives back: equal values, same types, fixed-offset instants."""
    engine = make_engine(store, registry, clock)
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune),
                    data={**CHILD, "parent_phone": "0912345678"})
    clock.advance(minutes=3)
    engine.fire(d, "accept", desk(commune), note="ghi chú: đủ giấy tờ")
    # the store holds vault references for personal fields; the engine opens them (procflow.privacy.vault)
    got, events = engine.open_record(store.get(d.id)), store.events(d.id)
    assert got == d and repr(got.received_at) == repr(datetime.fromisoformat(d.received_at.isoformat()))
    assert list(got.data) == sorted(got.data) and events[-1].note == "ghi chú: đủ giấy tờ"
    assert events[0].effects is not None and list(events[0].effects) == sorted(events[0].effects)
    assert isinstance(got.location_independent, bool) and isinstance(got.status, int)


# -- definitions, sequences, audit -----------------------------------------------------------------------------
def test_definition_registration_is_idempotent_and_refuses_changed_content(store):
    store.register_definition("x.1", 1, "hash-a", "source a")
    store.register_definition("x.1", 1, "hash-a", "source a")
    store.register_definition("x.1", 2, "hash-b", "source b")
    with pytest.raises(StoreError, match="already registered with different content"):
        store.register_definition("x.1", 1, "hash-c", "source c")
    assert store.definition_sources() == [("x.1", 1, "source a"), ("x.1", 2, "source b")]


def test_sequences_count_per_agency_and_day_without_gaps_or_repeats(store_factory):
    stores = [store_factory(), store_factory()]
    got: list[int] = []
    lock = threading.Lock()

    def draw(s) -> None:
        for _ in range(100):
            n = s.next_sequence("A", "260420")
            with lock:
                got.append(n)

    threads = [threading.Thread(target=draw, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 201))
    assert stores[0].next_sequence("A", "260421") == 1 and stores[1].next_sequence("B", "260420") == 1


def test_audit_records_refusals_only(store, registry, clock, commune):
    engine = make_engine(store, registry, clock)
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    store.record_audit(AuditEntry(T0, "someone", "X", d.id, "fire:accept", "refused:NotCustodian", "why"))
    assert store.audit(dossier_id=d.id) == [AuditEntry(T0, "someone", "X", d.id, "fire:accept",
                                                       "refused:NotCustodian", "why")]
    assert store.audit(actor="nobody") == [] and store.get(d.id).revision == 1


# -- outbox claiming ------------------------------------------------------------------------------------------
def _fill_outbox(store, n: int) -> None:
    ev = DossierEvent(dossier_id="D", seq=1, at=T0, kind=EventKind.FILED, trigger=None, from_state=None,
                      to_state="received", status=2, actor="a", agency="A", custodian="A", definition_version=1)
    d = Dossier(id="D", procedure="p", definition_version=1, state="received", status=2, custodian="A",
                agencies={"receiving": "A"}, location_independent=False, received_at=T0, updated_at=T0,
                sla=_sla())
    store.insert_dossier(d, ev, [OutboxMessage("portal.sync", f"k{i:05d}", "D", {"i": i}) for i in range(n)])


def _sla():
    from procflow.sla import SlaClock

    return SlaClock(working_days=1, started_at=T0, due_at=T0 + timedelta(hours=8), paused_at=None, stopped_at=None)


def test_two_claimers_never_get_the_same_row(store_factory):
    a, b = store_factory(), store_factory()
    _fill_outbox(a, 400)
    got: dict[str, list[int]] = {"a": [], "b": []}

    def claim(name: str, s) -> None:
        while rows := s.claim_outbox(name, now=T0, limit=7, lease_seconds=600):
            got[name] += [r["id"] for r in rows]

    threads = [threading.Thread(target=claim, args=(n, s)) for n, s in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == [r["id"] for r in a.outbox()]


def test_claim_returns_the_row_and_respects_the_lease(store):
    _fill_outbox(store, 3)
    rows = store.claim_outbox("w1", now=T0, limit=2, lease_seconds=30)
    assert [(r["key"], r["topic"], r["dossier_id"], r["status"], r["claimed_by"]) for r in rows] == [
        ("k00000", "portal.sync", "D", "pending", "w1"), ("k00001", "portal.sync", "D", "pending", "w1")]
    assert rows[0]["payload"] == {"i": 0}
    assert [r["key"] for r in store.claim_outbox("w2", now=T0 + timedelta(seconds=29))] == ["k00002"]
    assert store.claim_outbox("w2", now=T0 + timedelta(seconds=29)) == []
    assert store.claim_outbox("w2", now=T0, topics=["other.topic"]) == []


def test_an_expired_lease_hands_the_row_to_another_worker(store):
    _fill_outbox(store, 1)
    [row] = store.claim_outbox("w1", now=T0, lease_seconds=30)  # w1 is then killed, never completes
    later = T0 + timedelta(seconds=31)
    [again] = store.claim_outbox("w2", now=later, lease_seconds=30)
    assert again["id"] == row["id"] and again["claimed_by"] == "w2"
    assert store.complete_outbox(row["id"], "w1", now=later) is False  # w1 lost its lease
    assert store.complete_outbox(row["id"], "w2", now=later) is True
    [done] = store.outbox()
    assert done["status"] == "delivered" and store.claim_outbox("w3", now=later + timedelta(days=1)) == []


def test_failures_retry_later_then_die_and_can_be_requeued(store):
    _fill_outbox(store, 1)
    [row] = store.claim_outbox("w1", now=T0)
    retry_at = T0 + timedelta(minutes=5)
    assert store.fail_outbox(row["id"], "w1", now=T0, error="portal 503", retry_at=retry_at) is True
    assert store.claim_outbox("w1", now=T0 + timedelta(minutes=4)) == []
    [row] = store.claim_outbox("w2", now=retry_at)
    assert row["attempts"] >= 1 and row["last_error"] == "portal 503"
    assert store.fail_outbox(row["id"], "w1", now=retry_at, error="not mine", retry_at=None) is False
    assert store.fail_outbox(row["id"], "w2", now=retry_at, error="permanent 400", retry_at=None) is True
    [dead] = store.outbox(status="dead")
    assert dead["last_error"] == "permanent 400" and store.claim_outbox("w2", now=T0 + timedelta(days=9)) == []
    assert store.requeue_dead(None, now=retry_at) == 1
    assert [r["id"] for r in store.claim_outbox("w3", now=retry_at)] == [row["id"]]


def test_release_hands_claims_back_at_once_and_enqueue_skips_known_keys(store):
    _fill_outbox(store, 4)
    rows = store.claim_outbox("w1", now=T0, lease_seconds=600)
    assert store.complete_outbox(rows[0]["id"], "w1", now=T0)
    assert store.release_outbox("w1", [r["id"] for r in rows[1:3]]) == 2  # graceful shutdown
    assert [r["key"] for r in store.claim_outbox("w2", now=T0)] == ["k00001", "k00002"]
    assert store.release_outbox("w1") == 1 and store.release_outbox("w1") == 0
    again = [OutboxMessage("portal.sync", "k00000", "D", {"i": 0}), OutboxMessage("portal.sync", "fix-1", "D", {})]
    assert store.enqueue_outbox(again, now=T0) == 1
    assert store.outbox_counts() == {"pending": 4, "delivered": 1, "dead": 0}


# -- every method of every contract a backend keeps (a missing one fails here, never skips) ---------------
def _contracts(store) -> tuple[type, ...]:
    from procflow.store import base, contracts

    if type(store).__name__ == "PartitionStore":  # a simulation process: no checkpoints, imports, retention
        return (base.Store, contracts.BundleRecords, contracts.HashChainHead, contracts.OfficialRecords)
    return (base.Store, *contracts.FEATURE_CONTRACTS)


def test_every_contract_method_is_implemented(store):
    missing = [f"{contract.__name__}.{name}" for contract in _contracts(store)
               for name, member in vars(contract).items()
               if callable(member) and not name.startswith("_") and not callable(getattr(store, name, None))]
    assert missing == [], f"{type(store).__name__} lacks {missing}"


def test_bundle_records_check_the_revision_and_read_back(store):
    from procflow.errors import StoreError as Refused

    store.add_bundle_definition("LT.X", 1, "h1", "source")
    assert store.bundle_definition_hash("LT.X", 1) == "h1" and store.bundle_definition_hash("LT.X", 2) is None
    assert store.bundle_definition_sources() == [("LT.X", 1, "source")]
    ev1 = (1, T0.isoformat(), "filed", 2, "desk", '{"a":1}')
    with store.transaction():
        store.save_bundle("LT-1", '{"r":1}', status=2, revision=1, event=ev1, members={"birth": "D1"})
    with pytest.raises(Refused, match="already exists"):
        store.save_bundle("LT-1", '{"r":1}', status=2, revision=1, event=ev1, members={})
    with pytest.raises(Refused, match="changed concurrently"):
        store.save_bundle("LT-1", '{"r":3}', status=4, revision=3, event=ev1, members={})
    ev2 = (2, (T0 + timedelta(hours=1)).isoformat(), "changed", 4, "desk", "{}")
    store.save_bundle("LT-1", '{"r":2}', status=4, revision=2, event=ev2, members={"residence": "D2"})
    assert store.bundle_record("LT-1") == '{"r":2}' and store.bundle_record("LT-9") is None
    assert list(store.bundle_records()) == ['{"r":2}'] and store.bundle_events("LT-1") == [ev1, ev2]
    assert store.bundle_member_of("D2") == ("LT-1", "residence") and store.bundle_member_of("D9") is None
    assert store.bundle_membership(["LT-1", "LT-9"]) == {"LT-1": (4, ("D1", "D2"))}


def test_chain_heads_come_from_the_event_log(store, registry, clock, commune):
    engine = make_engine(store, registry, clock)
    d = engine.file(BIRTH, filed_at=commune, actor=desk(commune), data=CHILD)
    assert store.event_hash(d.id, 1) == store.events(d.id)[0].hash and store.event_hash(d.id, 2) is None
    assert store.logged_dossier_ids() == [d.id]


def test_simulation_records_round_trip(store_factory):  # SQLite and PostgreSQL: not a partition store's contract
    store = store_factory()
    at = "2026-04-20T17:00:00+07:00"
    assert store.load_sim_checkpoint() is None and store.sim_samples() == []
    with store.transaction():
        store.save_sim_checkpoint("fp1", '{"v":1}')
        store.add_sim_samples([(at, "*", 3, 1, 0), (at, "A", 2, 0, 0)])
    store.save_sim_checkpoint("fp2", '{"v":2}')
    store.add_sim_samples([(at, "*", 4, 1, 0)])
    store.add_sim_online("D2")
    store.add_sim_online("D1")
    store.add_sim_online("D2")
    assert store.load_sim_checkpoint() == ("fp2", '{"v":2}') and store.sim_online_ids() == ["D1", "D2"]
    assert store.sim_samples() == [(at, "*", 4, 1, 0), (at, "A", 2, 0, 0)]


def test_replay_log_records_each_message_once_and_secure_erase_is_a_scope(store_factory):  # not a partition's
    store = store_factory()
    assert store.record_received("m1", at=T0, sender="S", dossier_id="D1") is True
    assert store.record_received("m1", at=T0, sender="S", dossier_id="D1") is False
    assert store.record_received("m0", at=T0 + timedelta(days=2)) is True
    assert store.is_received("m1") and not store.is_received("m2")
    assert store.received_messages() == [("m0", None, None), ("m1", "S", "D1")]
    assert store.received_messages("D1") == [("m1", "S", "D1")]
    assert store.forget_received_before(T0 + timedelta(days=1)) == 1 and store.received_messages() == [
        ("m0", None, None)]
    with store.secure_erase():
        pass


def test_officials_directory_rows_round_trip_and_replace_by_id(store):
    from datetime import date

    from procflow.privacy.directory import Official

    assert store.official_count() == 0 and store.official_rows() == [] and store.official_row("a") is None
    a = Official(id="a", name="Nguyễn Văn A", agency="311.20.99.H92", roles={"one_stop_officer", "oversight:92"},
                 valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31), acts_for={"b"}, credential="d" * 64)
    b = Official(id="b", name="Trần Thị B", agency="311.35.99.H92")
    with store.transaction():
        store.save_officials([b.to_row(), a.to_row()])
    assert [Official.from_row(r) for r in store.official_rows()] == [a, b]  # in id order
    assert Official.from_row(store.official_row("a")) == a and store.official_count() == 2
    changed = Official(id="a", name="Nguyễn Văn A", agency="311.20.99.H92", roles={"personal_data:unmask"})
    store.save_officials([changed.to_row()])
    assert Official.from_row(store.official_row("a")) == changed and store.official_count() == 2


def test_an_officials_write_rolls_back_with_its_transaction(store):
    from procflow.privacy.directory import Official

    with pytest.raises(RuntimeError), store.transaction():
        store.save_officials([Official(id="x", name="X", agency="311.20.99.H92").to_row()])
        raise RuntimeError("the audit entry failed")
    assert store.official_count() == 0


def test_a_store_from_before_the_directory_has_none(tmp_path, monkeypatch):
    """A SQLite file whose schema predates the officials table (as procflow before the directory wrote it)
    reads as an empty directory, so an engine on it takes actors as built, and never fails on the table."""
    from procflow.store import migrations
    from procflow.store.sqlite import SQLiteStore

    monkeypatch.setitem(migrations._STEPS, "sqlite", migrations.SQLITE[:8])
    old = SQLiteStore(str(tmp_path / "v8.db"))
    try:
        assert old.schema_version == 8 and old.official_count() == 0
    finally:
        old.close()
