"""What only the PostgreSQL store has to get right: connections shared by threads and lost to the server,
statement errors inside a batch, the session time zone, and the one-statement hot path."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import attrs
import psycopg
import pytest

from procflow.dossier import Dossier, DossierEvent, EventKind
from procflow.errors import ConcurrencyConflict, StoreError
from procflow.sla import SlaClock
from procflow.store.base import OutboxMessage
from procflow.store.postgres import PostgresStore
from procflow.testing.directory import staff_of

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 4, 20, 8, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def sample_dossier(did: str) -> tuple[Dossier, DossierEvent]:
    sla = SlaClock(working_days=3, started_at=T0, due_at=T0 + timedelta(days=3), paused_at=None, stopped_at=None)
    d = Dossier(id=did, procedure="p", definition_version=1, state="received", status=2, custodian="A",
                agencies={"receiving": "A"}, location_independent=False, received_at=T0, updated_at=T0, sla=sla)
    e = DossierEvent(dossier_id=did, seq=1, at=T0, kind=EventKind.FILED, trigger=None, from_state=None,
                     to_state="received", status=2, actor="a", agency="A", custodian="A", definition_version=1)
    return d, e


def accepted(d: Dossier) -> tuple[Dossier, DossierEvent]:
    at = T0 + timedelta(hours=1)
    new = attrs.evolve(d, state="processing", status=4, revision=2, updated_at=at)
    return new, DossierEvent(dossier_id=d.id, seq=2, at=at, kind=EventKind.FIRED, trigger="accept",
                             from_state="received", to_state="processing", status=4, actor="a", agency="A",
                             custodian="A", definition_version=1)


def round_trips(pg: PostgresStore, action: Callable[[], object]) -> int:
    """How many times the client waited for the server during ``action``, read from libpq's own protocol
    trace: each exchange ends with the server's ReadyForQuery."""
    conn = pg._conn()
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            action()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        return sum(1 for line in trace if "\tReadyForQuery" in line and line.startswith("B"))


@pytest.fixture
def pg(pg_empty):
    url, schema = pg_empty
    store = PostgresStore(url, schema=schema, pool_size=2, connect_timeout=3)
    yield store
    store.close()


def test_threads_that_end_give_their_connection_back(pg):
    for _ in range(10):  # a pool of 2: without give-back the third thread would wait, then time out
        t = threading.Thread(target=pg.count_dossiers)
        t.start()
        t.join()
    errors: list[BaseException] = []

    def use() -> None:
        try:
            pg.count_dossiers()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors == []


def test_a_lost_connection_fails_once_then_the_store_reconnects(pg, pg_url):
    pid = pg._execute("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreError, match="lost the connection to PostgreSQL") as info:
        pg.count_dossiers()
    assert isinstance(info.value.__cause__, psycopg.OperationalError)  # typed at the boundary, cause kept
    assert "\n" not in str(info.value)  # one line
    assert pg.count_dossiers() == 0 and pg._execute("SELECT pg_backend_pid()")[0][0] != pid


def test_a_failed_statement_inside_a_batch_refuses_to_commit(pg):
    d, e = sample_dossier("D1")
    with pytest.raises(StoreError, match="rolled all of it back"), pg.batch():
        pg.insert_dossier(d, e, ())
        with pytest.raises(psycopg.errors.UndefinedTable):
            pg._execute("SELECT * FROM no_such_table")  # swallowed by the caller: the batch is now void
    assert pg.count_dossiers() == 0


def test_a_duplicate_idempotency_key_is_a_store_error_and_writes_nothing(pg):
    d, e = sample_dossier("D1")
    pg.insert_dossier(d, e, [OutboxMessage("t", "same-key", "D1", {})])
    d2, e2 = sample_dossier("D2")
    with pytest.raises(StoreError, match="refused the write"):
        pg.insert_dossier(d2, e2, [OutboxMessage("t", "same-key", "D2", {})])
    assert pg.dossier_ids() == ["D1"] and pg.events("D2") == []


def test_instants_come_back_in_the_session_time_zone_with_a_fixed_offset(pg_empty):
    url, schema = pg_empty
    utc = PostgresStore(url, schema=schema, timezone="UTC")
    try:
        d, e = sample_dossier("D1")
        utc.insert_dossier(d, e, ())
        got = utc.get("D1")
        assert got.received_at == d.received_at and got.received_at.tzinfo == UTC
        assert got.received_at.utcoffset() == timedelta(0)
    finally:
        utc.close()
    vn = PostgresStore(url, schema=schema)
    try:
        assert vn.get("D1").received_at.tzinfo == timezone(timedelta(hours=7))
    finally:
        vn.close()


def test_a_transition_is_one_round_trip(pg):
    """The hot path's promise, checked on the wire: snapshot + event + outbox in one statement, one wait."""
    for did in ("D0", "D1"):
        d, e = sample_dossier(did)
        pg.insert_dossier(d, e, ())
    warm, warm_event = accepted(pg.get("D0"))  # the first use of a statement also prepares it
    pg.apply(warm, 1, warm_event, [OutboxMessage("portal.status", "D0:2", "D0", {"s": 4})], frozenset())
    new, event = accepted(pg.get("D1"))
    assert round_trips(pg, lambda: pg.apply(new, 1, event, [OutboxMessage("portal.status", "D1:2", "D1", {"s": 4})],
                                            frozenset())) == 1
    assert pg.get("D1") == new and [x.seq for x in pg.events("D1")] == [1, 2] and len(pg.outbox()) == 2
    stale, stale_event = accepted(pg.get("D0"))
    with pytest.raises(ConcurrencyConflict, match="expected version 1"):
        pg.apply(stale, 1, stale_event, (), frozenset())


def test_a_fire_that_arms_timers_is_still_one_round_trip(pg):
    """Issue 17: a fire arming timers cost 4 round trips (BEGIN, snapshot+event, armings, COMMIT). The
    armings now ride in the snapshot's statement, and only when its revision check passed."""
    from procflow.clock import FakeClock
    from procflow.definition.reader import bundled_definitions
    from procflow.dossier import Actor
    from procflow.engine.core import Engine
    from procflow.jurisdiction import Registry
    from procflow.privacy.keys import StaticKeyProvider
    from procflow.privacy.vault import Vault

    registry = Registry.default()
    commune = registry.communes_of("92")[0].code
    clock = FakeClock(T0)
    engine = Engine(pg, registry=registry, clock=clock, vault=Vault(pg, StaticKeyProvider.generate()))
    for definition in bundled_definitions():
        engine.register(definition)
    desk = Actor("desk", commune, {"one_stop_officer"})
    staff_of(engine).actors(desk)
    data = {"business_name": "Tạp hóa An", "owner_name": "Lê Văn An", "owner_national_id": "092123456789",
            "business_address": "Số 3, đường 3/2"}
    warm, d = (engine.file("2.000720", filed_at=commune, actor=desk, data=data) for _ in range(2))
    engine.fire(warm.id, "accept", desk)  # prepares the statements
    d = engine.get(d.id)  # as a caller holds it: read back from the store, with its hash-chain head
    assert round_trips(pg, lambda: engine.fire(d, "accept", desk)) == 1
    armed = pg.timers(dossier_id=d.id)
    assert [t.armed_seq for t in armed if t.armed_seq == 2] and d.state == "reviewing"
    assert [e.seq for e in pg.events(d.id)] == [1, 2]
    stale = attrs.evolve(d, revision=1, state="received")
    with pytest.raises(ConcurrencyConflict):
        engine.fire(stale, "accept", desk)
    assert [t.armed_seq for t in pg.timers(dossier_id=d.id)] == [t.armed_seq for t in armed]  # nothing armed
