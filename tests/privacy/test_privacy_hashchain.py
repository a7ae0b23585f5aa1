"""The tamper-evident event log: ``procflow audit verify`` detects an edited, deleted, reordered or inserted
event and names the first broken link; retention and key rotation leave the chain intact."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from operator_support import operator_env
from privacy_support import BIRTH, CHILD, civil, desk
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor, DossierEvent
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.privacy.hashchain import GENESIS, chain_event, verify
from procflow.store.base import AuditEntry
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

runner = CliRunner()
VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def chained_db(tmp_path_factory) -> tuple[str, list[str]]:
    """Two birth dossiers of six events each (file, accept, supplement, resubmit, approve, return)."""
    path = str(tmp_path_factory.mktemp("chain") / "chain.db")
    store = SQLiteStore(path)
    reg = Registry.default()
    a = reg.communes_of("92")[0].code
    engine = Engine(store, registry=reg, clock=FakeClock(datetime(2026, 4, 20, 8, tzinfo=VN)))
    for defn in bundled_definitions():
        engine.register(defn)
    staff_of(engine).actors(desk(a), civil(a))
    ids = []
    for _ in range(2):
        d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
        engine.fire(d, "accept", desk(a))
        engine.fire(d, "request_supplement", civil(a), note="thiếu tờ khai")
        engine.fire(d, "resubmit", desk(a), data={"parent_phone": "0987654321"})
        engine.fire(d, "approve", civil(a), data={"documents_complete": True})
        engine.fire(d, "return_result", desk(a))
        ids.append(d.id)
    store.close()
    return path, ids


def tampered(chained_db, tmp_path, *sql: tuple[str, tuple]) -> str:
    src, _ = chained_db
    dst = str(tmp_path / "t.db")
    shutil.copy(src, dst)
    shutil.copy(src + ".keys", dst + ".keys")
    db = sqlite3.connect(dst, isolation_level=None)
    for stmt, params in sql:
        db.execute(stmt, params)
    db.close()
    return dst


def run_verify(db: str) -> tuple[int, str, dict]:
    text = runner.invoke(app, ["audit", "verify", "--db", db])
    js = runner.invoke(app, ["audit", "verify", "--db", db, "--json"])
    return text.exit_code, text.stdout, json.loads(js.stdout)


def test_an_untouched_log_verifies(chained_db):
    code, out, report = run_verify(chained_db[0])
    assert code == 0 and "ok: 2 dossier(s), 12 event(s)" in out
    assert report["ok"] and report["unchained"] == 0


def _event_row(db: str, did: str, seq: int) -> dict:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    row = dict(con.execute("SELECT * FROM events WHERE dossier_id=? AND seq=?", (did, seq)).fetchone())
    con.close()
    row.pop("id", None)  # the log's arrival order (rowid): a forged row gets its own
    return row


def _forge(row: dict, seq: int, prev_hash: str, **change: object) -> dict:
    """An event an attacker writes with a hash that is correct for its content (SHA-256 needs no key)."""
    row = {**row, **change, "seq": seq}
    e = DossierEvent(dossier_id=row["dossier_id"], seq=seq, at=datetime.fromisoformat(row["at"]), kind=row["kind"],
                     trigger=row["trigger"], from_state=row["from_state"], to_state=row["to_state"],
                     status=row["status"], actor=row["actor"], agency=row["agency"], custodian=row["custodian"],
                     definition_version=row["definition_version"],
                     effects=json.loads(row["effects"]) if row["effects"] else None, note=row["note"])
    row["hash"] = chain_event(e, prev_hash)
    row["prev_hash"] = prev_hash
    return row


def _insert(row: dict) -> tuple[str, tuple]:
    cols = ", ".join(row)
    return f"INSERT INTO events ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())


CASES = {
    "hashes removed": (lambda did, db: [("UPDATE events SET hash=NULL, prev_hash=NULL, actor='x' WHERE dossier_id=?",
                                         (did,))], 1, "unchained"),
    "edited": (lambda did, db: [("UPDATE events SET actor='someone-else' WHERE dossier_id=? AND seq=3", (did,))],
               3, "edited"),
    "edited and re-hashed": (
        lambda did, db: [("DELETE FROM events WHERE dossier_id=? AND seq=3", (did,)),
                         _insert(_forge(_event_row(db, did, 3), 3, _event_row(db, did, 2)["hash"],
                                        note="đã đủ giấy tờ"))],
        4, "deleted"),
    "deleted in the middle": (lambda did, db: [("DELETE FROM events WHERE dossier_id=? AND seq=2", (did,))],
                              3, "deleted"),
    "deleted at the end": (lambda did, db: [("DELETE FROM events WHERE dossier_id=? AND seq=6", (did,))],
                           6, "deleted"),
    "reordered": (lambda did, db: [("UPDATE events SET seq=-1 WHERE dossier_id=? AND seq=2", (did,)),
                                   ("UPDATE events SET seq=2 WHERE dossier_id=? AND seq=3", (did,)),
                                   ("UPDATE events SET seq=3 WHERE dossier_id=? AND seq=-1", (did,))],
                  2, "reordered"),
    "inserted in the middle": (
        lambda did, db: [("UPDATE events SET seq=seq+100 WHERE dossier_id=? AND seq>=3", (did,)),
                         ("UPDATE events SET seq=seq-99 WHERE dossier_id=? AND seq>=100", (did,)),
                         _insert(_forge(_event_row(db, did, 2), 3, _event_row(db, did, 2)["hash"],
                                        kind="fired", trigger="approve"))],
        4, "inserted"),
    "appended at the end": (
        lambda did, db: [_insert(_forge(_event_row(db, did, 6), 7, _event_row(db, did, 6)["hash"],
                                        note="sửa sau"))],
        7, "inserted"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_tampering_is_detected_and_the_first_broken_link_named(chained_db, tmp_path, case):
    make, seq, problem = CASES[case]
    victim, bystander = chained_db[1]
    db = tampered(chained_db, tmp_path, *make(victim, chained_db[0]))
    code, out, report = run_verify(db)
    assert code == 1, out
    assert "TAMPERED: 1 of 2 dossier(s)" in out and f"dossier {victim}, event {seq}: {problem}" in out
    assert [(b["dossier_id"], b["seq"], b["problem"]) for b in report["breaks"]] == [(victim, seq, problem)]
    assert bystander not in out  # the other dossier's chain is intact


def test_an_edited_snapshot_no_longer_equals_its_replay(chained_db, tmp_path):
    victim = chained_db[1][0]
    db = tampered(chained_db, tmp_path, ("UPDATE dossiers SET custodian='000.00.01.H22' WHERE id=?", (victim,)))
    code, out, _ = run_verify(db)
    assert code == 1 and f"dossier {victim}, snapshot: snapshot" in out and "custodian" in out


def test_retention_and_key_rotation_never_touch_a_hashed_byte(chained_db, tmp_path):
    db = tampered(chained_db, tmp_path)
    before = sqlite3.connect(db).execute("SELECT group_concat(hex(hash)) FROM events").fetchone()
    assert runner.invoke(app, ["keys", "rotate", "--db", db, "--batch", "1", "--yes"],
                         env=operator_env(db, roles={STORE_ADMIN_ROLE})).exit_code == 0  # the store's admin
    store = SQLiteStore(db)
    engine = Engine(store)
    with store.transaction():  # as retention does it: the erasure is recorded in the audit chain
        erased = engine.vault.erase(chained_db[1][0], at=datetime(2040, 1, 1, tzinfo=VN))
        store.record_audit(AuditEntry(at=datetime(2040, 1, 1, tzinfo=VN), actor="retention", agency="",
                                      dossier_id=chained_db[1][0], action="retention:anonymise", outcome="done"))
    assert erased == 2 and engine.get(chained_db[1][0]).data["parent_national_id"] is None
    assert engine.replay(chained_db[1][0]) == engine.get(chained_db[1][0])  # replay still equals the snapshot
    store.close()
    con = sqlite3.connect(db)
    assert con.execute("SELECT group_concat(hex(hash)) FROM events").fetchone() == before
    con.close()
    assert run_verify(db)[0] == 0


def test_chaining_can_be_switched_off_and_verify_says_so(sqlite_store, registry, clock, keyring):
    from procflow.privacy.vault import Vault

    engine = Engine(sqlite_store, registry=registry, clock=clock, vault=Vault(sqlite_store, keyring),
                    hash_chain=False)
    for defn in bundled_definitions():
        engine.register(defn)
    a = registry.communes_of("92")[0].code
    staff_of(engine).actors(desk(a), civil(a))
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(d, "accept", desk(a))
    report = verify(sqlite_store, allow_unchained=True)
    assert report.ok and report.unchained == 2 and all(e.hash is None for e in sqlite_store.events(d.id))
    strict = verify(sqlite_store)  # by default a missing hash is a break: removing hashes hides nothing
    assert [(b.seq, b.problem) for b in strict.breaks] == [(1, "unchained")]
    chained = Engine(sqlite_store, registry=registry, clock=clock,
                     vault=Vault(sqlite_store, keyring))
    chained.fire(d.id, "approve", civil(a), data={"documents_complete": True})
    events = sqlite_store.events(d.id)
    assert events[-1].prev_hash == GENESIS and events[-1].hash is not None
    assert verify(sqlite_store, allow_unchained=True).ok


def test_a_v4_store_upgrades_to_the_append_ordered_log_with_every_event_value_and_link_intact(tmp_path,
                                                                                            monkeypatch):
    """Version 5 rebuilds the SQLite event log and vault as append-ordered tables: an older store keeps every
    event (hashes included), every sealed value, and goes on chaining where it left off."""
    from procflow.privacy.hashchain import verify as verify_chain
    from procflow.store import migrations

    path = str(tmp_path / "v4.db")
    monkeypatch.setitem(migrations._STEPS, "sqlite", migrations.SQLITE[:4])
    reg = Registry.default()
    a = reg.communes_of("92")[0].code
    clock = FakeClock(datetime(2026, 4, 20, 8, tzinfo=VN))

    def engine_on(store: SQLiteStore) -> Engine:
        engine = Engine(store, registry=reg, clock=clock)
        for defn in bundled_definitions():
            engine.register(defn)
        if store.schema_version >= 5:
            staff_of(engine).actors(desk(a), civil(a))
        return engine

    store = SQLiteStore(path)
    assert store.schema_version == 4
    engine = engine_on(store)
    # a v4 store predates the officials directory, so no official can act on it (the engine is strict):
    # its history is written by procflow's own machinery, which is never looked up
    old = Actor.system(a, "v4-writer")
    d = engine.file(BIRTH, filed_at=a, actor=old, data=CHILD)
    engine.fire(d, "accept", old)
    engine.fire(d, "request_supplement", old)
    engine.fire(d, "resubmit", old, data={"parent_phone": "0987654321"})
    before = (store.events(d.id), engine.history(d.id), store.get(d.id))
    store.close()
    con = sqlite3.connect(path)
    assert "WITHOUT ROWID" in con.execute("SELECT sql FROM sqlite_master WHERE name='events'").fetchone()[0]
    con.close()

    monkeypatch.setitem(migrations._STEPS, "sqlite", migrations.SQLITE)
    store = SQLiteStore(path)  # opening an older store upgrades it
    assert store.schema_version == migrations.latest("sqlite") >= 5
    engine = engine_on(store)
    assert (store.events(d.id), engine.history(d.id), store.get(d.id)) == before
    assert [e.hash for e in store.events(d.id)] == [e.hash for e in before[0]] and before[0][-1].hash
    assert engine.get(d.id).data["parent_phone"] == "0987654321"
    engine.fire(engine.get(d.id), "approve", civil(a), data={"documents_complete": True})
    assert verify_chain(store).ok and len(store.events(d.id)) == 5
    sqls = dict(store._execute("SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('events', 'vault')"))
    assert "WITHOUT ROWID" not in sqls["events"] and "WITHOUT ROWID" not in sqls["vault"]
    assert "UNIQUE INDEX events_dossier_seq" in sqls["events_dossier_seq"]
    store.close()
