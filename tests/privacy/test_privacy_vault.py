"""The vault: personal values encrypted in their own table, references in snapshots and events, an HMAC
index, key providers, and key rotation that survives being interrupted halfway."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
from operator_support import operator_env
from privacy_support import BIRTH, CHILD, NATIONAL_ID, PHONE, civil, desk

from procflow.definition.reader import bundled_definitions
from procflow.dossier import replay
from procflow.engine.core import Engine
from procflow.errors import KeysUnavailable, VaultError
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.privacy.env_keys import EnvKeyProvider, default_key_provider
from procflow.privacy.keys import FileKeyProvider, StaticKeyProvider, key_id_for
from procflow.privacy.sealed import MARKER
from procflow.privacy.vault import Vault
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of


def raw_bytes(path: str) -> bytes:
    out = b""
    for p in (path, path + "-wal"):
        if os.path.exists(p):
            with open(p, "rb") as fh:
                out += fh.read()
    return out


def test_personal_fields_live_encrypted_in_the_vault_and_the_engine_sees_real_values(pengine, communes,
                                                                                       sqlite_store):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    assert d.data == CHILD  # the caller's record holds real values
    pengine.fire(d, "accept", desk(communes[0]))
    pengine.fire(d, "request_supplement", civil(communes[0]))
    pengine.fire(d, "resubmit", desk(communes[0]), data={"parent_phone": "0987654321"})  # a personal value changes
    assert d.data["parent_phone"] == "0987654321"
    stored = sqlite_store.get(d.id)  # the store holds references only
    assert all(v == {MARKER: f"{d.id}/{seq}/{k}"} for k, v, seq in
               [(k, stored.data[k], 4 if k == "parent_phone" else 1) for k in CHILD])
    assert pengine.get(d.id) == d and pengine.replay(d.id) == d
    assert replay(sqlite_store.events(d.id)) == stored  # the raw log reproduces the raw snapshot too
    history = pengine.history(d.id)
    assert history[0].effects["data"]["parent_phone"] == PHONE and history[-1].effects["data"]["parent_phone"] == \
        "0987654321"
    rows = sqlite_store._execute("SELECT seq, key_id, length(value) FROM vault WHERE dossier_id=? ORDER BY seq",
                                (d.id,))
    active = pengine.vault.keys.active_key_id()
    assert [(s, k) for s, k, _ in rows] == [(1, active), (4, active)] and active.startswith("k-")
    sqlite_store._execute("PRAGMA wal_checkpoint(PASSIVE)")
    blob = raw_bytes(sqlite_store.path)
    for value in (NATIONAL_ID, PHONE, "0987654321", "Nguyễn Văn An"):
        assert value.encode() not in blob


def test_a_ciphertext_moved_to_another_dossier_does_not_decrypt(pengine, communes, sqlite_store):
    a = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    b = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data={**CHILD, "parent_phone": None})
    sqlite_store._execute("UPDATE vault SET value=(SELECT value FROM vault WHERE dossier_id=?) WHERE dossier_id=?",
                         (a.id, b.id))
    with pytest.raises(VaultError, match="does not decrypt"):
        pengine.get(b.id)


def test_values_copied_from_a_stored_record_are_reopened_and_sealed_anew(pengine, communes, sqlite_store):
    a = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    copied = {k: v for k, v in sqlite_store.get(a.id).data.items()}  # references, as a raw reader sees them
    b = pengine.file(BIRTH, filed_at=communes[1], actor=desk(communes[1]), data=copied)
    assert b.data == CHILD and sqlite_store.get(b.id).data["parent_national_id"][MARKER].startswith(b.id + "/")
    # a record read straight from the store (references, no cached vault bookkeeping) can be fired on
    raw = sqlite_store.get(b.id)
    pengine.fire(raw, "accept", desk(communes[1]))
    pengine.fire(raw, "approve", civil(communes[1]), data={"documents_complete": True})
    assert pengine.get(b.id).data == {**CHILD, "documents_complete": True}


def test_plaintext_vault_is_an_explicit_opt_out_and_rotation_encrypts_it(sqlite_store, registry, clock, keyring,
                                                                          communes):
    plain = Engine(sqlite_store, registry=registry, clock=clock, vault=Vault(sqlite_store, keyring, encrypt=False),
                   hash_chain=False)
    for defn in bundled_definitions():
        plain.register(defn)
    staff_of(plain).actors(desk(communes[0]))
    d = plain.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    assert sqlite_store._execute("SELECT key_id FROM vault") == [("plain",)]
    assert plain.history(d.id)[0].hash is None
    safe = Vault(sqlite_store, keyring)
    report = safe.rotate(batch_size=10)
    assert report.rotated == 1 and safe.key_usage() == {report.active: 1}
    assert Engine(sqlite_store, registry=registry, clock=clock, vault=safe).get(d.id).data == CHILD


def test_key_providers(tmp_path, monkeypatch):
    ring = FileKeyProvider(tmp_path / "ring.json")
    with pytest.raises(KeysUnavailable, match="no keyring"):  # reading never creates a keyring
        ring.key_ids()
    assert not (tmp_path / "ring.json").exists()
    k1 = ring.active_key_id()  # the write path does
    assert k1 == key_id_for(ring.key(k1)) and len(ring.key(k1)) == 32 and len(ring.index_key()) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "ring.json").st_mode) == 0o600
    k2 = ring.new_active_key()
    assert k2 != k1 and FileKeyProvider(tmp_path / "ring.json").active_key_id() == k2
    with pytest.raises(KeysUnavailable, match="no keyring"):
        FileKeyProvider(tmp_path / "absent.json", create=False).active_key_id()
    k = base64.b64encode(b"\x01" * 32).decode()
    env = EnvKeyProvider({"PROCFLOW_VAULT_KEYS": f"prov-2026:{k},old:{k}", "PROCFLOW_VAULT_INDEX_KEY": k})
    assert env.active_key_id() == "prov-2026" and env.key_ids() == ["old", "prov-2026"]
    with pytest.raises(KeysUnavailable, match="PROCFLOW_VAULT_KEYS"):
        env.new_active_key()
    monkeypatch.delenv("PROCFLOW_VAULT_KEYS", raising=False)
    monkeypatch.delenv("PROCFLOW_KEYS_FILE", raising=False)
    assert isinstance(default_key_provider(":memory:"), StaticKeyProvider)
    assert default_key_provider(str(tmp_path / "x.db")).path == tmp_path / "x.db.keys"  # type: ignore[union-attr]
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(tmp_path / "elsewhere.json"))
    assert default_key_provider(str(tmp_path / "x.db")).path == tmp_path / "elsewhere.json"  # type: ignore[union-attr]


def _fill(engine: Engine, communes: list[str], n: int) -> list[str]:
    ids = []
    staff_of(engine).actors(desk(communes[0]))
    with engine.batch():
        for i in range(n):
            d = engine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]),
                            data={**CHILD, "parent_national_id": f"0921{i:08d}", "parent_phone": f"09{i:08d}"})
            ids.append(d.id)
    return ids


def _all_readable(engine: Engine, ids: list[str]) -> None:
    for i, did in enumerate(ids):
        data = engine.get(did).data
        assert data["parent_national_id"] == f"0921{i:08d}" and data["parent_phone"] == f"09{i:08d}"


def test_key_rotation_interrupted_halfway_resumes_and_every_field_stays_readable(pengine, communes, keyring,
                                                                                   sqlite_store):
    ids = _fill(pengine, communes, 60)

    class Crash(Exception):
        pass

    def crash_after_three(batches: int, rows: int) -> None:
        if batches == 3:
            raise Crash

    k1 = pengine.vault.keys.active_key_id()
    with pytest.raises(Crash):
        pengine.vault.rotate(batch_size=10, on_batch=crash_after_three)
    k2 = pengine.vault.keys.active_key_id()
    assert pengine.vault.key_usage() == {k1: 30, k2: 30}  # three batches committed, the rest untouched
    _all_readable(pengine, ids)  # mid-rotation: both keys are in the keyring, every value opens
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)  # new writes: new key
    assert sqlite_store._execute("SELECT key_id FROM vault WHERE dossier_id=?", (d.id,)) == [(k2,)]
    fresh = Vault(sqlite_store, FileKeyProvider(keyring.path))  # "after the crash": a new process
    report = fresh.rotate(batch_size=10, retire=True, retire_grace=1.1)
    assert not report.started and report.active == k2 and report.rotated == 30 and report.remaining == 0
    assert report.retired == [k1] and fresh.key_usage() == {k2: 61}
    _all_readable(Engine(sqlite_store, registry=pengine.registry, clock=pengine.clock, vault=fresh), ids)
    assert fresh.find_national_id(f"0921{7:08d}") == [ids[7]]  # the index key did not change


def test_key_rotation_killed_with_sigkill_resumes_from_the_cli(tmp_path, registry, clock, communes, monkeypatch):
    monkeypatch.delenv("PROCFLOW_KEYS_FILE", raising=False)
    monkeypatch.delenv("PROCFLOW_VAULT_KEYS", raising=False)
    db = str(tmp_path / "kill.db")
    store = SQLiteStore(db)
    engine = Engine(store, registry=registry, clock=clock)
    for defn in bundled_definitions():
        engine.register(defn)
    ids = _fill(engine, communes, 40)
    store.close()
    child = textwrap.dedent(f"""
        import os, signal
        from procflow.store.sqlite import SQLiteStore
        from procflow.privacy.vault import Vault
        store = SQLiteStore({db!r})
        def die(batches, rows):
            if batches == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        Vault(store).rotate(batch_size=8, on_batch=die)
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = SQLiteStore(db)
    ring = json.loads((tmp_path / "kill.db.keys").read_text())
    k2 = ring["active"]
    (k1,) = set(ring["keys"]) - {k2}
    assert Vault(store).key_usage() == {k1: 24, k2: 16}
    store.close()
    from typer.testing import CliRunner

    from procflow.cli.app import app

    result = CliRunner().invoke(app, ["keys", "rotate", "--db", db, "--batch", "8", "--yes"],
                                env=operator_env(db, roles={STORE_ADMIN_ROLE}))  # the store's administrator
    assert result.exit_code == 0, result.output
    assert f"resumed rotation to key {k2}: re-encrypted 24 value(s) in 3 batch(es); 0 remain" in result.stdout
    status = CliRunner().invoke(app, ["keys", "status", "--db", db])
    assert f"{k2}: 40 value(s) (active)" in status.stdout
    store = SQLiteStore(db)
    _all_readable(Engine(store, registry=registry), ids)
    assert json.loads((tmp_path / "kill.db.keys").read_text())["active"] == k2
    store.close()
