"""One event writer: the engine, the exchange import and migrate write identical rows for the same event.

Issue 16 item 5: "an event is written with its vault-sealed values, its hash-chain link, its sealed outbox
rows and its timer arming, in one transaction" was coded three times, each with a different subset. Now
all three go through ``procflow.engine.eventwriter.EventWriter``. The property: for any history of fires (with
personal values, timers armed and cancelled, the clock moving), a dossier written by the engine (node A),
the same events imported through the exchange (node C) and — for a unit migration — the ``migrated``
event written by migrate on two nodes (A and B) are stored as the same rows: snapshot, events with their
hash chain and vault references, the values the vault opens them to, the queued timers and outbox rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.exchange import ExchangeNode, TrustStore
from procflow.exchange.transfer import _Plan
from procflow.jurisdiction import Registry
from procflow.migrate import migrate_units
from procflow.privacy.keys import StaticKeyProvider
from procflow.privacy.vault import Vault
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

VN = ZoneInfo("Asia/Ho_Chi_Minh")
HKD = "2.000720"  # household business registration: three personal fields, timers
REGISTRY = Registry.default()
DEFINITIONS = bundled_definitions()
COMMUNE, OTHER = (c.code for c in REGISTRY.communes_of("92")[:2])
FILING = {"business_name": "Tạp hóa Minh An", "owner_name": "Lê Văn Minh", "owner_national_id": "092123456789",
          "business_address": "Số 3, đường 3/2"}


def _node(clock: FakeClock) -> Engine:
    store = SQLiteStore(":memory:")
    engine = Engine(store, registry=REGISTRY, clock=clock, vault=Vault(store, StaticKeyProvider.generate()),
                    outbox_rules=[topic_rule([status_sync_topic(store)])])
    for d in DEFINITIONS:
        engine.register(d)
    return engine


def _rows(engine: Engine, dossier_id: str) -> dict[str, Any]:
    store = engine.store
    return {
        "dossier": store.get(dossier_id),
        "events": store.events(dossier_id),  # as stored: vault references, prev_hash, hash
        "opened": [e.effects for e in engine.history(dossier_id)],  # what the vault opens them to
        "timers": [(t.name, t.fire_at, t.armed_seq, t.keep) for t in store.timers(dossier_id=dossier_id)],
    }


def _outbox(engine: Engine, dossier_id: str) -> list[tuple[str, str, Any]]:
    return [(r["topic"], r["key"], r["payload"]) for r in engine.store.outbox() if r["dossier_id"] == dossier_id]


def _import(engine: Engine, events: list, known: int) -> None:
    node = ExchangeNode(engine, OTHER, trust=TrustStore({}))
    defn = engine.definition(HKD, events[-1].definition_version)
    with engine.store.transaction():
        node._apply(_Plan(envelope=None, definition=defn, events=tuple(events), known=known))  # type: ignore[arg-type]


steps = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 72), st.booleans()), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_engine_import_and_migrate_write_identical_rows_for_the_same_event(steps):
    clock = FakeClock(datetime(2026, 4, 20, 8, 30, tzinfo=VN))
    a, b, c = _node(clock), _node(clock), _node(clock)
    try:
        desk = staff_of(a).official(COMMUNE, "desk")
        staff_of(b).official(COMMUNE, "desk")  # each node's directory knows the desk (imports name it)
        staff_of(c).official(COMMUNE, "desk")
        d = a.file(HKD, filed_at=COMMUNE, actor=desk, data=FILING)
        for pick, hours, personal in steps:
            allowed = a.allowed_triggers(d)
            if not allowed:
                break
            trigger = allowed[pick % len(allowed)]
            clock.advance(hours=hours)
            data: dict[str, Any] = {"documents_complete": True} if trigger == "approve" else {}
            if personal:
                data["owner_name"] = f"Lê Văn Minh {hours}"
            a.fire(d, trigger, staff_of(a).official(d.custodian), data=data or None)
        fired = a.history(d.id)  # what a sender puts in an envelope: real values
        _import(b, fired, 0)
        _import(c, fired, 0)
        assert _rows(b, d.id) == _rows(a, d.id)  # engine vs exchange import
        # a unit migration, written by migrate on A and on B, and imported by C
        for engine in (a, b):
            migrate_units(engine, {COMMUNE: OTHER}, partial=True)
        migrated = a.history(d.id)
        if len(migrated) > len(fired):
            _import(c, migrated, len(fired))
        assert _rows(b, d.id) == _rows(a, d.id) == _rows(c, d.id)
        seq = str(migrated[-1].seq) if len(migrated) > len(fired) else "none"
        # migrate's own outbox rows (a status sync when the move hands the dossier over), sealed alike
        assert [r for r in _outbox(b, d.id) if r[1].split(":")[2] == seq] == [
            r for r in _outbox(a, d.id) if r[1].split(":")[2] == seq]
        assert all("Lê Văn Minh" not in str(p) for _, _, p in _outbox(a, d.id))  # no personal value in clear
    finally:
        for engine in (a, b, c):
            engine.store.close()


def test_a_fire_arming_timers_writes_its_event_and_armings_in_one_transaction():
    """A fire whose armings cannot be written leaves no event and no snapshot change behind."""
    clock = FakeClock(datetime(2026, 4, 20, 8, 30, tzinfo=VN))
    engine = _node(clock)
    store = engine.store
    desk = staff_of(engine).official(COMMUNE, "desk")
    d = engine.file(HKD, filed_at=COMMUNE, actor=desk, data=FILING)
    before = (store.get(d.id), store.events(d.id), store.timers(dossier_id=d.id))

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("disk full")

    store.save_timers = broken  # type: ignore[method-assign]
    try:
        engine.fire(d.id, "accept", desk)  # entering "reviewing" arms the due reminder
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failing arming was not reported")
    assert (store.get(d.id), store.events(d.id), store.timers(dossier_id=d.id)) == before
    store.close()
