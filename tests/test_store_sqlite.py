"""SQLite specifics: WAL, :memory:, outbox rows written with the transition, atomic failure."""

from __future__ import annotations

import pytest

from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.errors import ConcurrencyConflict, NotCustodian, StoreError
from procflow.store import OutboxMessage, open_store
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

CHILD = {"child_name": "Lê Văn C", "child_birth_date": "2026-04-01", "parent_national_id": "092000111222"}


def portal_rule(dossier, event, definition):
    yield OutboxMessage("portal.status", f"portal.status:{dossier.id}:{event.seq}", dossier.id,
                        {"status": event.status, "state": event.to_state})


def test_wal_mode_and_synchronous_setting(tmp_path):
    store = SQLiteStore(str(tmp_path / "a.db"))
    assert store._execute("PRAGMA journal_mode")[0][0] == "wal"
    assert store._execute("PRAGMA synchronous")[0][0] == 1  # NORMAL
    full = SQLiteStore(str(tmp_path / "b.db"), synchronous="FULL")
    assert full._execute("PRAGMA synchronous")[0][0] == 2
    with pytest.raises(StoreError):
        SQLiteStore(str(tmp_path / "c.db"), synchronous="SOMETIMES")


def test_wal_is_checkpointed_every_4000_pages_by_default_and_as_configured(tmp_path):
    # a checkpoint fsyncs and copies every distinct page: fewer of them cost cold fires less (issue 17)
    assert SQLiteStore(str(tmp_path / "a.db"))._execute("PRAGMA wal_autocheckpoint")[0][0] == 4000
    sizes = {}
    for pages in (20, 0):
        path = tmp_path / f"w{pages}.db"
        store = SQLiteStore(str(path), wal_autocheckpoint=pages)
        assert store._execute("PRAGMA wal_autocheckpoint")[0][0] == pages
        created = (tmp_path / f"w{pages}.db-wal").stat().st_size  # the schema's own commit
        for day in range(300):  # 300 commits, each at least one WAL frame
            store.next_sequence("H92", f"d{day}")
        sizes[pages] = (tmp_path / f"w{pages}.db-wal").stat().st_size - created
        store.close()
    frame = 4096 + 24
    assert sizes[0] >= 300 * frame  # never checkpointed: every frame is still in the WAL
    assert sizes[20] <= 10 * frame  # checkpointed past 20 pages and rewritten from its start: hardly grew


@pytest.mark.parametrize("pages", [-1, 1.5, "4000", True])
def test_a_bad_wal_autocheckpoint_is_refused_before_the_file_is_made(tmp_path, pages):
    with pytest.raises(StoreError, match="wal_autocheckpoint"):
        SQLiteStore(str(tmp_path / "bad.db"), wal_autocheckpoint=pages)
    assert not (tmp_path / "bad.db").exists()


def test_open_store_urls(tmp_path):
    assert isinstance(open_store(), SQLiteStore)
    assert open_store(f"sqlite:///{tmp_path}/x.db").path == f"{tmp_path}/x.db"
    assert open_store(str(tmp_path / "y.db")).path == str(tmp_path / "y.db")


def test_in_memory_store_runs_the_engine(registry, clock):
    engine = Engine(open_store(":memory:"), registry=registry, clock=clock, outbox_rules=[portal_rule])
    from procflow.definition.reader import bundled_definitions

    for d in bundled_definitions():
        engine.register(d)
    a = registry.communes_of("92")[5].code
    staff_of(engine).actors(Actor("x", a, {"one_stop_officer"}))
    d = engine.file("1.001193", filed_at=a, actor=Actor("x", a, {"one_stop_officer"}), data=CHILD)
    engine.fire(d, "accept", Actor("x", a, {"one_stop_officer"}))
    rows = engine.store.outbox()
    assert [r["key"] for r in rows] == [f"portal.status:{d.id}:1", f"portal.status:{d.id}:2"]
    assert all(r["status"] == "pending" for r in rows)


def test_failing_outbox_rule_writes_nothing(engine, registry):
    a = registry.communes_of("92")[0].code
    desk = Actor("x", a, {"one_stop_officer"})
    staff_of(engine).actors(desk, Actor("y", a, {"civil_status_officer"}))
    d = engine.file("1.001193", filed_at=a, actor=desk, data=CHILD)

    def broken(dossier, event, definition):
        raise RuntimeError("adapter rule bug")

    engine.outbox_rules.append(broken)
    with pytest.raises(RuntimeError):
        engine.fire(d, "accept", desk)
    assert engine.get(d.id).state == "received" and len(engine.history(d.id)) == 1
    assert d.state == "received"


def test_duplicate_outbox_key_rolls_back_the_whole_transition(engine, registry):
    a = registry.communes_of("92")[0].code
    desk = Actor("x", a, {"one_stop_officer"})
    staff_of(engine).actors(desk, Actor("y", a, {"civil_status_officer"}))
    d = engine.file("1.001193", filed_at=a, actor=desk, data=CHILD)

    def same_key(dossier, event, definition):
        yield OutboxMessage("t", "always-the-same", dossier.id, {})

    engine.outbox_rules.append(same_key)
    engine.fire(d, "accept", desk)
    before = (engine.get(d.id), engine.history(d.id), engine.store.outbox())
    with pytest.raises(StoreError, match="outbox key 'always-the-same' already exists"):
        engine.fire(d, "approve", Actor("y", a, {"civil_status_officer"}), data={"documents_complete": True})
    assert (engine.get(d.id), engine.history(d.id), engine.store.outbox()) == before
    assert d.state == "processing"


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "s.db")
    store = SQLiteStore(path)
    store._execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    store.close()
    with pytest.raises(StoreError, match="newer than this procflow understands"):
        SQLiteStore(path)


def test_a_half_written_transition_inside_a_batch_rolls_the_batch_back(engine, registry):
    """A caller that catches the error inside a group commit must not get the snapshot without its outbox."""
    a = registry.communes_of("92")[0].code
    desk = Actor("x", a, {"one_stop_officer"})
    staff_of(engine).actors(desk, Actor("y", a, {"civil_status_officer"}))
    d = engine.file("1.001193", filed_at=a, actor=desk, data=CHILD)
    other = engine.file("1.001193", filed_at=a, actor=desk, data=CHILD)

    def same_key(dossier, event, definition):
        yield OutboxMessage("t", "always-the-same", dossier.id, {})

    engine.outbox_rules.append(same_key)
    before = (engine.store.get(d.id), engine.store.get(other.id), engine.store.outbox())
    with pytest.raises(StoreError, match="group commit was rolled back"), engine.batch():
        engine.fire(d, "accept", desk)  # writes the first 'always-the-same'
        with pytest.raises(StoreError, match="already exists"):
            engine.fire(other, "accept", desk)  # fails after its UPDATE and event insert; the caller goes on
    assert (engine.store.get(d.id), engine.store.get(other.id), engine.store.outbox()) == before
    assert len(engine.store.events(other.id)) == 1
    engine.outbox_rules.remove(same_key)
    with engine.batch():  # the store is usable again and a clean batch commits
        engine.fire(engine.store.get(other.id), "accept", desk)
    assert engine.store.get(other.id).state == "processing"


def test_a_refusal_inside_a_batch_does_not_poison_it(engine, registry):
    a, b = (c.code for c in registry.communes_of("92")[:2])
    desk = Actor("x", a, {"one_stop_officer"})
    staff_of(engine).actors(desk, Actor("y", b, {"civil_status_officer"}))
    d = engine.file("1.001193", filed_at=a, actor=desk, data=CHILD)
    stale = engine.store.get(d.id)
    with engine.batch():
        engine.fire(d, "accept", desk)
        with pytest.raises(ConcurrencyConflict):
            engine.fire(stale, "withdraw", desk)
        with pytest.raises(NotCustodian):
            engine.fire(d, "approve", Actor("y", b, {"civil_status_officer"}))
    assert engine.store.get(d.id).state == "processing"
