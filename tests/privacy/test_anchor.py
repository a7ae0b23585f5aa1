"""The anchored, keyed log (issue 19 item 3): each tampering an attacker with write access to the database can
do is caught by ``procflow audit verify``, naming the dossier and the kind — up to the latest signed
checkpoint, or against an exported copy of the checkpoints. The whole matrix runs on SQLite and on PostgreSQL
(skipped, saying why, when no server answers at 127.0.0.1:5432)."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from anchor_backends import BACKENDS, Backend, backend_for, pg_schemas
from operator_support import operator_env
from privacy_support import BIRTH, CHILD, civil, desk
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import replay
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.privacy.hashchain import (
    GENESIS,
    chain_event,
    chain_key,
    effects_text,
    event_content,
    event_hash,
    is_keyed,
)
from procflow.privacy.vault import Vault
from procflow.store.base import AuditEntry
from procflow.testing.directory import staff_of

__all__ = ["pg_schemas"]  # the fixture, imported for pytest

runner = CliRunner()
VN = ZoneInfo("Asia/Ho_Chi_Minh")


_AS_OPERATOR = {("keys", "init"), ("keys", "rotate"), ("checkpoints", "take")}


def cli(b: Backend, *args: str) -> tuple[int, str]:
    """Run a command on ``b``; those that write act as the machine's operator, enrolled in the store."""
    env = dict(b.env)
    if args[0] == "worker" or tuple(args[:2]) in _AS_OPERATOR or tuple(args[1:3]) in _AS_OPERATOR:
        env.update(operator_env(b.db, Path(b.keys).parent, roles={STORE_ADMIN_ROLE}))  # keys: the store's admin
    r = runner.invoke(app, list(args), env=env)
    return r.exit_code, r.stdout + (r.stderr if r.stderr_bytes is not None else "")


def engine_on(b: Backend) -> Engine:
    store = b.open()
    engine = Engine(store, registry=Registry.default(), clock=FakeClock(datetime(2026, 4, 20, 8, tzinfo=VN)),
                    vault=Vault(store, b.provider()))
    for defn in bundled_definitions():
        engine.register(defn)
    return engine


def lifecycle(engine: Engine, a: str, *, last: bool = True) -> str:
    staff_of(engine).actors(desk(a), civil(a))  # the officials who act (the engine is strict)
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(d, "accept", desk(a))
    engine.fire(d, "request_supplement", civil(a), note="thiếu tờ khai")
    engine.fire(d, "resubmit", desk(a), data={"parent_phone": "0987654321"})
    engine.fire(d, "approve", civil(a), data={"documents_complete": True})
    if last:
        engine.fire(d, "return_result", desk(a))
    return d.id


@pytest.fixture(scope="module", params=BACKENDS)
def anchored(request, tmp_path_factory, pg_schemas) -> dict:
    """Three dossiers written with a chain key, a checkpoint taken and exported; the first dossier's snapshot
    as it stood before its last event (kept in a table of its own, ``saved_dossier``, to roll back to)."""
    root = tmp_path_factory.mktemp("anchor")
    b = backend_for(request.param, root, pg_schemas)
    b.create()
    code, out = cli(b, "keys", "init", "--db", b.db, "--checkpoint")
    assert code == 0 and "chain key c-" in out and "checkpoint key p-" in out, out
    engine = engine_on(b)
    a = engine.registry.communes_of("92")[0].code
    ids = [lifecycle(engine, a, last=False) for _ in range(3)]
    b.sql(("CREATE TABLE saved_dossier AS SELECT * FROM dossiers WHERE id=?", (ids[0],)))
    for did in ids:
        engine.fire(engine.get(did), "return_result", desk(a))
    for i in range(3):
        engine.store.record_audit(AuditEntry(at=datetime(2026, 4, 21, 9, i, tzinfo=VN), actor=f"reader{i}@{a}",
                                             agency=a, dossier_id=ids[i], action="read", outcome="allowed",
                                             purpose="inspect"))
    engine.store.close()
    code, out = cli(b, "audit", "checkpoints", "take", "--db", b.db)
    assert code == 0 and "checkpoint 2: 3 dossier(s), 18 event(s) anchored" in out, out
    export = str(root / "elsewhere.anchor.json")
    code, out = cli(b, "audit", "checkpoints", "export", "--db", b.db, "--to", export)
    assert code == 0 and "exported 2 checkpoint(s)" in out, out
    return {"backend": b, "ids": ids, "export": export, "agency": a}


@pytest.fixture(params=BACKENDS)
def fresh(request, tmp_path, pg_schemas) -> Backend:
    """An empty store of each kind, without keys."""
    b = backend_for(request.param, tmp_path, pg_schemas)
    b.create()
    return b


def copy(anchored: dict, tmp_path, *sql: tuple[str, tuple]) -> Backend:
    dst = anchored["backend"].copy(tmp_path / "copy")
    dst.sql(*sql)
    return dst


def findings(b: Backend, *extra: str) -> tuple[int, list[tuple[str, str]], dict]:
    r = runner.invoke(app, ["audit", "verify", "--db", b.db, "--json", *extra], env=b.env)
    assert r.stdout.strip(), (r.output, r.exception)
    report = json.loads(r.stdout)
    kinds = [(f["dossier_id"], f["kind"]) for f in report["anchor"]["findings"]]
    kinds += [(b["dossier_id"], b["problem"]) for b in report["breaks"]]
    return r.exit_code, kinds, report


def test_an_untouched_anchored_log_verifies_and_every_link_is_keyed(anchored):
    code, kinds, report = findings(anchored["backend"])
    assert code == 0 and kinds == [] and report["anchor"]["anchored"]
    assert report["keyed"] == report["events"] == 18 and report["anchor"]["not_anchored_events"] == 0
    assert report["anchor"]["vault_entries"] == 6  # two sealed entries per dossier, each opened
    b = anchored["backend"]
    code, out = cli(b, "audit", "verify", "--db", b.db)
    assert code == 0 and "checkpoint 2" in out and "covers 3 dossier(s)" in out


def test_deleting_the_last_event_and_rolling_the_snapshot_back_is_caught(anchored, tmp_path):
    victim = anchored["ids"][0]
    cols = ", ".join(c for c in anchored["backend"].columns("saved_dossier") if c != "id")
    db = copy(anchored, tmp_path, ("DELETE FROM events WHERE dossier_id=? AND seq=6", (victim,)),
              (f"UPDATE dossiers SET ({cols}) = (SELECT {cols} FROM saved_dossier) WHERE id=?", (victim,)))
    store = db.open()
    assert replay(store.events(victim)) == store.get(victim)  # self-consistent: the plain chain cannot tell
    store.close()
    code, kinds, _ = findings(db)
    assert code == 1 and kinds == [(victim, "truncated")]


def test_deleting_a_whole_dossier_is_caught(anchored, tmp_path):
    victim = anchored["ids"][1]
    db = copy(anchored, tmp_path, *[(f"DELETE FROM {t} WHERE dossier_id=?", (victim,))
                                    for t in ("events", "vault", "vault_index")],
              ("DELETE FROM dossiers WHERE id=?", (victim,)))
    code, kinds, _ = findings(db)
    assert code == 1 and (victim, "deleted") in kinds


def test_hiding_a_deleted_dossier_from_the_anchored_heads_is_caught_and_named_by_the_exported_copy(anchored,
                                                                                                   tmp_path):
    victim = anchored["ids"][1]
    db = copy(anchored, tmp_path, *[(f"DELETE FROM {t} WHERE dossier_id=?", (victim,))
                                    for t in ("events", "vault", "vault_index", "anchor_heads")],
              ("DELETE FROM dossiers WHERE id=?", (victim,)))
    code, kinds, _ = findings(db)
    assert code == 1 and kinds == [("*anchor-heads*", "anchor-heads-altered")]
    code, kinds, _ = findings(db, "--anchor", anchored["export"])
    assert code == 1 and (victim, "deleted") in kinds


@pytest.mark.parametrize("how", ["swap", "erase", "delete"])
def test_swapped_erased_or_deleted_vault_values_are_caught(anchored, tmp_path, how):
    a, b = anchored["ids"][0], anchored["ids"][2]
    sql = {"swap": ("UPDATE vault SET value=(SELECT value FROM vault WHERE dossier_id=? AND seq=1) "
                    "WHERE dossier_id=? AND seq=1", (b, a)),
           "erase": ("UPDATE vault SET value=NULL, key_id='erased' WHERE dossier_id=? AND seq=1", (a,)),
           "delete": ("DELETE FROM vault WHERE dossier_id=? AND seq=1", (a,))}[how]
    db = copy(anchored, tmp_path, sql)
    code, kinds, _ = findings(db)
    kind = {"swap": "vault-altered", "erase": "vault-erased", "delete": "vault-missing"}[how]
    assert code == 1 and kinds == [(a, kind)]


def test_an_erasure_recorded_by_retention_verifies(anchored, tmp_path):
    victim = anchored["ids"][0]
    db = copy(anchored, tmp_path)
    store = db.open()
    engine = Engine(store, vault=Vault(store, db.provider()))
    at = datetime(2040, 1, 1, tzinfo=VN)
    with store.transaction():
        engine.vault.erase(victim, at=at)
        store.record_audit(AuditEntry(at=at, actor="retention", agency="", dossier_id=victim,
                                      action="retention:anonymise", outcome="done", purpose="retention"))
    store.close()
    code, kinds, _ = findings(db)
    assert code == 0 and kinds == []


@pytest.mark.parametrize("how", ["drop", "middle", "tail"])
def test_deleting_the_access_audit_or_its_rows_is_caught(anchored, tmp_path, how):
    sql = {"drop": ("DROP TABLE audit", ()),
           "middle": ("DELETE FROM audit WHERE id=(SELECT min(id) + 2 FROM audit)", ()),
           "tail": ("DELETE FROM audit WHERE id=(SELECT max(id) FROM audit)", ())}[how]
    db = copy(anchored, tmp_path, sql)
    code, kinds, _ = findings(db)
    kind = {"drop": "audit-deleted", "middle": "audit-deleted", "tail": "audit-truncated"}[how]
    assert code == 1 and kind in [k for _, k in kinds]


def _rechain(db: Backend, victim: str, key: tuple[bytes, bytes] | None) -> None:
    """Edit an anchored event's note and recompute the dossier's whole chain, as someone with write access
    but without the chain key can (unkeyed, or with a key of their own)."""
    store = db.open()
    events = store.events(victim)
    store.close()
    prev = GENESIS
    edits = []
    for e in events:
        if e.seq == 3:
            object.__setattr__(e, "note", "đủ hồ sơ")
        h = chain_event(e, prev, key)
        edits.append(("UPDATE events SET note=?, prev_hash=?, hash=? WHERE dossier_id=? AND seq=?",
                      (e.note, prev, h, victim, e.seq)))
        prev = h
    db.sql(*edits)


def test_a_log_rechained_without_the_key_is_caught(anchored, tmp_path):
    victim = anchored["ids"][2]
    db = copy(anchored, tmp_path)
    _rechain(db, victim, None)
    code, kinds, _ = findings(db)
    assert code == 1 and (victim, "rechained") in kinds
    db2 = anchored["backend"].copy(tmp_path / "forged")
    _rechain(db2, victim, chain_key("c-00000000000000ff", b"k" * 32))  # a key of the attacker's own
    code, kinds, _ = findings(db2)
    assert code == 1 and (victim, "rechained") in kinds and (victim, "unknown-key") in kinds


def test_events_after_the_checkpoint_are_reported_not_yet_anchored_and_must_be_keyed(anchored, tmp_path):
    db = copy(anchored, tmp_path)
    engine = engine_on(db)
    new = lifecycle(engine, anchored["agency"], last=False)
    engine.store.close()
    code, kinds, report = findings(db)
    assert code == 0 and report["anchor"]["not_anchored_events"] == 5 and kinds == []
    _rechain(db, new, None)  # after the checkpoint: only the key protects it
    code, kinds, _ = findings(db)
    assert code == 1 and (new, "unkeyed") in kinds


def test_a_rolled_back_checkpoint_chain_is_caught_against_the_exported_copy(anchored, tmp_path):
    db = copy(anchored, tmp_path, ("DELETE FROM checkpoints WHERE seq=(SELECT max(seq) FROM checkpoints)", ()))
    code, kinds, _ = findings(db, "--anchor", anchored["export"])
    assert code == 1 and ("*checkpoints*", "checkpoint-rolled-back") in kinds


def test_the_export_is_written_0600(anchored):
    assert stat.S_IMODE(os.stat(anchored["export"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(anchored["backend"].keys).st_mode) == 0o600


def test_a_store_without_a_checkpoint_key_verifies_with_an_unanchored_warning(fresh):
    engine = engine_on(fresh)
    lifecycle(engine, engine.registry.communes_of("92")[0].code)
    engine.store.close()
    code, out = cli(fresh, "audit", "verify", "--db", fresh.db)
    assert code == 0 and "unanchored" in out and "keys init --checkpoint" in out
    code, out = cli(fresh, "audit", "checkpoints", "take", "--db", fresh.db)
    assert code == 1 and "no checkpoint key" in out
    assert "checkpoint" not in json.loads(Path(fresh.keys).read_text())  # asking for a checkpoint made no key


def test_an_old_unkeyed_store_keeps_verifying_and_is_keyed_from_the_upgrade_point(fresh):
    path = fresh
    engine = engine_on(path)
    a = engine.registry.communes_of("92")[0].code
    old = lifecycle(engine, a, last=False)
    assert not any(is_keyed(e.hash) for e in engine.store.events(old))
    engine.store.close()
    code, out = cli(fresh, "keys", "init", "--db", fresh.db, "--checkpoint")
    assert code == 0, out
    engine = engine_on(path)
    engine.fire(engine.get(old), "return_result", desk(a))
    new = lifecycle(engine, a)
    events = engine.store.events(old)
    assert [is_keyed(e.hash) for e in events] == [False] * 5 + [True]
    assert all(is_keyed(e.hash) for e in engine.store.events(new))
    engine.store.close()
    code, kinds, report = findings(path)
    assert code == 0 and kinds == [] and report["keyed"] == 7
    assert report["anchor"]["not_anchored_events"] == 7  # written after the upgrade checkpoint
    # a downgrade: the keyed tail replaced by an unkeyed link is a break of the plain chain check too
    _rechain(path, old, None)
    code, kinds, _ = findings(path)
    assert code == 1 and (old, "rechained") in kinds


def test_chain_and_checkpoint_keys_rotate_and_the_past_still_verifies(anchored, tmp_path):
    db = copy(anchored, tmp_path)
    ring = json.loads(Path(db.keys).read_text())
    code, out = cli(db, "keys", "rotate", "--db", db.db, "--chain", "--checkpoint")
    assert code == 0 and "rotated: chain key c-" in out and "checkpoint 3 taken" in out, out
    after = json.loads(Path(db.keys).read_text())
    assert after["chain"]["active"] != ring["chain"]["active"]
    assert set(ring["chain"]["keys"]) < set(after["chain"]["keys"])  # the old key stays, to verify the past
    engine = engine_on(db)
    new = lifecycle(engine, anchored["agency"])
    assert {e.hash[1:9].hex() for e in engine.store.events(new)} == {after["chain"]["active"][2:]}
    actions = [r.entry.action for r in engine.store.audit_chain()]
    engine.store.close()
    assert "keys:chain-rotate" in actions and "keys:checkpoint-rotate" in actions
    code, kinds, _ = findings(db)
    assert code == 0 and kinds == []


def test_keys_init_refuses_to_replace_keys(anchored, tmp_path):
    db = copy(anchored, tmp_path)
    before = Path(db.keys).read_text()
    code, out = cli(db, "keys", "init", "--db", db.db, "--checkpoint")
    assert code == 1 and "exist already" in out and Path(db.keys).read_text() == before


def test_a_worker_checkpoints_at_shutdown(anchored, tmp_path):
    db = copy(anchored, tmp_path)
    engine = engine_on(db)
    lifecycle(engine, anchored["agency"])
    engine.store.close()
    code, out = cli(db, "worker", "--db", db.db, "--once", "--no-timers")
    assert code == 0, out
    store = db.open()
    assert [c.seq for c in store.checkpoints()] == [1, 2, 3]
    store.close()
    code, kinds, report = findings(db)
    assert code == 0 and kinds == [] and report["anchor"]["not_anchored_events"] == 0
    assert report["anchor"]["anchored_dossiers"] == 4


def test_a_keyed_link_is_standard_hmac_sha256_over_the_plain_links_input(anchored):
    """The precomputed-pad HMAC equals the library's, so any HMAC-SHA256 implementation can check a link."""
    import hmac

    store = anchored["backend"].open()
    e = store.events(anchored["ids"][0])[2]
    store.close()
    key = b"\x07" * 32
    keyed = event_hash(e, e.prev_hash, chain_key("c-0123456789abcdef", key))
    plain_input = event_content(e.dossier_id, e.seq, e.at, e.kind, e.trigger, e.from_state, e.to_state, e.status,
                                e.actor, e.agency, e.custodian, e.definition_version, effects_text(e.effects), e.note)
    assert keyed == bytes([1]) + bytes.fromhex("0123456789abcdef") + hmac.digest(key, e.prev_hash + plain_input,
                                                                                   "sha256")
