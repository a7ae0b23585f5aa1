"""The anchored log's store contract (``AnchorRecords``) on SQLite and PostgreSQL: the access audit's own
chain, anchored heads, the checkpoint chain, and one checkpoint leader among many PostgreSQL workers."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.privacy.anchor import take_checkpoint, verify_anchor
from procflow.privacy.hashchain import GENESIS, audit_link, is_keyed
from procflow.privacy.keys import StaticKeyProvider
from procflow.privacy.vault import Vault
from procflow.store.base import AuditEntry, CheckpointRow

VN = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 4, 20, 8, 30, 15, 123456, tzinfo=VN)
BIRTH = "1.001193"
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789"}


def _keys() -> StaticKeyProvider:
    keys = StaticKeyProvider.generate()
    keys.new_signing_key("chain")
    keys.new_signing_key("checkpoint")
    return keys


def _engine(store, keys) -> Engine:
    engine = Engine(store, registry=Registry.default(), clock=FakeClock(T0), vault=Vault(store, keys))
    for d in bundled_definitions():
        engine.register(d)
    return engine


def _intact(rows) -> bool:
    prev = GENESIS
    for r in rows:
        e = r.entry
        if r.prev_hash != prev or audit_link(prev, e.at, e.actor, e.agency, e.dossier_id, e.action, e.outcome,
                                             e.detail, e.purpose) != r.hash:
            return False
        prev = r.hash
    return True


def test_the_access_audit_is_chained_and_reads_back_verifiable(store_factory):
    store = store_factory()
    for i in range(3):
        store.record_audit(AuditEntry(T0, f"a{i}", "X", "D", "read", "allowed", "chi tiết", "inspect"))
    rows = store.audit_chain()
    assert [r.entry.actor for r in rows] == ["a0", "a1", "a2"] and rows[0].prev_hash == GENESIS
    assert _intact(rows)  # the instant reads back to the same microsecond, whatever the session's zone


def test_concurrent_auditors_never_fork_the_audit_chain(store_factory):
    stores = [store_factory(), store_factory()]

    def write(s, tag: str) -> None:
        for i in range(15):
            s.record_audit(AuditEntry(T0, f"{tag}{i}", "X", None, "read", "allowed"))

    threads = [threading.Thread(target=write, args=(s, t)) for s, t in zip(stores, "pq", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = stores[0].audit_chain()
    assert len(rows) == 30 and _intact(rows)


def test_checkpoints_anchor_every_head_and_catch_a_truncated_log(store_factory):
    store = store_factory()
    keys = _keys()
    engine = _engine(store, keys)
    a = engine.registry.communes_of("92")[0].code
    desk = Actor(f"desk@{a}", a, {"one_stop_officer"})
    ids = []
    for _ in range(2):
        d = engine.file(BIRTH, filed_at=a, actor=desk, data=CHILD)
        engine.fire(d, "accept", desk)
        ids.append(d.id)
    assert all(is_keyed(e.hash) for did in ids for e in store.events(did))
    row = take_checkpoint(store, keys)
    assert row is not None and row.seq == 1 and take_checkpoint(store, keys) is None  # nothing changed
    assert [(d, s) for d, s, _ in store.anchor_heads()] == [(ids[0], 2), (ids[1], 2)]
    assert verify_anchor(store, keys, engine.vault).ok
    assert not store.add_checkpoint(CheckpointRow(1, "x", "checkpoint", "{}", b"0", None, None))  # seq taken
    store._execute("DELETE FROM events WHERE dossier_id=%s AND seq=2" if "Postgres" in type(store).__name__
                   else "DELETE FROM events WHERE dossier_id=? AND seq=2", (ids[1],))
    found = verify_anchor(store, keys, engine.vault).findings
    assert [(f.dossier_id, f.kind) for f in found] == [(ids[1], "truncated")]


def test_one_checkpoint_leader_among_postgres_workers(store_factory):
    a, b = store_factory(), store_factory()
    postgres = "Postgres" in type(a).__name__
    with a.checkpoint_leader() as first:
        with b.checkpoint_leader() as second:
            assert first and second is (not postgres)  # SQLite: its write lock serialises checkpointers
    with b.checkpoint_leader() as again:
        assert again  # the lock went with the leader's scope


def test_a_postgres_follower_takes_no_checkpoint_while_the_leader_holds_the_lock(pg_empty):
    from procflow.store.postgres import PostgresStore

    url, schema = pg_empty
    leader, follower = PostgresStore(url, schema=schema, pool_size=1), PostgresStore(url, schema=schema, pool_size=1)
    keys = _keys()
    leader.record_audit(AuditEntry(T0, "a", "X", None, "read", "allowed"))
    with leader.checkpoint_leader() as held:
        assert held and take_checkpoint(follower, keys) is None and follower.checkpoints() == []
    assert take_checkpoint(follower, keys) is not None and len(leader.checkpoints()) == 1
    leader.close()
    follower.close()


def test_a_checkpointer_takes_its_last_checkpoint_when_stopped(store_factory):
    from procflow.privacy.anchor import Checkpointer

    store = store_factory()
    keys = _keys()
    store.record_audit(AuditEntry(T0, "a", "X", None, "read", "allowed"))
    cp = Checkpointer(store_factory(), keys, interval=3600)  # far longer than the test: only the stop fires it
    thread = threading.Thread(target=cp.run)
    thread.start()
    cp.stop()
    thread.join()
    assert cp.taken == 1 and [c.kind for c in store.checkpoints()] == ["checkpoint"]
    unkeyed = Checkpointer(store, StaticKeyProvider.generate(), interval=3600)
    assert unkeyed.take() is None and "keys init --checkpoint" in (unkeyed.unavailable or "")


def test_two_writers_checkpointing_at_once_keep_one_unforked_checkpoint_chain(store_factory):
    """Two long-running writers, each with its own ``checkpointing`` thread on one database, while a third
    thread writes: one leader at a time (PostgreSQL's advisory lock, SQLite's write lock), so the chain has
    each seq once, every checkpoint links to the one before, and the last one covers the last write."""
    import hashlib
    import json

    from procflow.privacy.checkpoint import checkpointing

    keys = _keys()
    writer = store_factory()
    writer.record_audit(AuditEntry(T0, "w", "X", None, "read", "allowed"))
    with checkpointing(store_factory, keys, interval=0.005) as one, \
            checkpointing(store_factory, keys, interval=0.005) as two:
        for i in range(20000):  # until both have taken rounds while it writes (bounded, not timed)
            writer.record_audit(AuditEntry(T0, f"w{i}", "X", None, "read", "allowed"))
            if one.taken + two.taken >= 4:
                break
    chain = writer.checkpoints()
    assert [c.seq for c in chain] == list(range(1, len(chain) + 1)) and len(chain) >= 2
    prev = GENESIS.hex()
    for c in chain:
        body = json.loads(c.body)
        assert body["prev"] == prev and hashlib.sha256(c.body.encode()).digest() == c.digest
        prev = c.digest.hex()
    count, head = writer.audit_head()
    assert json.loads(chain[-1].body)["audit"] == [count, head.hex()]  # the shutdown checkpoint covers the end
    assert one.taken + two.taken == len(chain)


def test_a_stopping_writer_waits_for_the_leaders_checkpoint_and_takes_its_own(pg_empty):
    """At shutdown a writer's last checkpoint must cover its own last writes: while another process holds the
    PostgreSQL leader lock it waits (``wait``), and takes its checkpoint once the lock is free."""
    from procflow.store.postgres import PostgresStore

    url, schema = pg_empty
    holder, writer = PostgresStore(url, schema=schema, pool_size=1), PostgresStore(url, schema=schema, pool_size=2)
    keys = _keys()
    writer.record_audit(AuditEntry(T0, "last write", "X", None, "read", "allowed"))
    taken: list[object] = []
    with holder.checkpoint_leader() as held:
        assert held
        thread = threading.Thread(target=lambda: taken.append(take_checkpoint(writer, keys, wait=60)))
        thread.start()
        thread.join(timeout=0.3)
        assert thread.is_alive() and writer.checkpoints() == []  # it cannot lead while the lock is held: it waits
    thread.join()
    assert taken and taken[0] is not None and len(writer.checkpoints()) == 1
    assert take_checkpoint(writer, keys, wait=0) is None  # nothing changed since: nothing to wait for
    holder.close()
    writer.close()
