"""Keys can never fork: unique ids, a store copied without its keyring is refused by every command with nothing
written (and no keyring made), keys status says what is needed and present, retiring never loses a value."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safety_support import BIRTH, CHILD, desk, fingerprint
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.engine.core import Engine
from procflow.errors import KeysUnavailable
from procflow.privacy.keys import FileKeyProvider, StaticKeyProvider, key_id_for
from procflow.privacy.vault import Vault
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

runner = CliRunner()


def test_two_keyrings_never_share_an_id(tmp_path):
    a, b = FileKeyProvider(tmp_path / "a.keys"), FileKeyProvider(tmp_path / "b.keys")
    assert a.active_key_id() != b.active_key_id()
    assert a.new_active_key() not in set(b.key_ids())
    assert StaticKeyProvider.generate().active_key_id() != StaticKeyProvider.generate().active_key_id()
    assert not any(k == "k1" for k in a.key_ids() + b.key_ids())


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_key_ids_are_fingerprints(k1, k2):
    assert key_id_for(k1) == key_id_for(k1) and (k1 == k2) == (key_id_for(k1) == key_id_for(k2))


@pytest.fixture
def copied(app_store, tmp_path):
    """The agency's database copied (a restored backup, a copy for analysis) without its keyring."""
    path, ids = app_store
    copy = tmp_path / "copy" / "agency.db"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    assert not Path(f"{copy}.keys").exists()
    return copy, ids


COMMANDS = [
    ["inspect", "{id}", "--db", "{db}", "--actor", "desk@{agency}"],
    ["audit", "verify", "--db", "{db}"],
    ["audit", "access", "--db", "{db}", "--dossier", "{id}"],
    ["keys", "status", "--db", "{db}"],
    ["keys", "rotate", "--db", "{db}", "--yes"],
    ["keys", "rotate", "--db", "{db}", "--dry-run"],
    ["retention", "apply", "--db", "{db}", "--now", "2099-01-01", "--yes"],
    ["timers", "--db", "{db}", "--run", "--at", "2026-06-01T09:00:00+07:00"],
    ["outbox", "--db", "{db}"],
    ["worker", "--db", "{db}", "--once"],
    ["reconcile", "--db", "{db}"],
    ["migrate", "definition", BIRTH, "--to", "1", "--db", "{db}", "--yes"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_a_store_copied_without_its_keyring_is_refused_with_nothing_written(copied, registry, argv):
    copy, ids = copied
    agency = registry.communes_of("92")[0].code
    before = fingerprint(copy)
    args = [a.format(db=copy, id=ids[0], agency=agency) for a in argv]
    result = runner.invoke(app, args)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    text = " ".join(result.output.split())
    if argv[:2] == ["keys", "status"]:  # the diagnostic command: says what is missing, exits 1
        assert "copy/agency.db.keys, which does not exist" in text and "present: none missing: k-" in text, text
        assert fingerprint(copy) == before and not Path(f"{copy}.keys").exists()
        return
    assert "sealed with key(s)" in text and "copy/agency.db.keys, which does not exist" in text, text
    assert "procflow restore" in text and len(result.output.strip().splitlines()) == 1  # one line
    assert fingerprint(copy) == before  # nothing written: no row, no keyring
    assert not Path(f"{copy}.keys").exists()


def test_the_api_raises_keys_unavailable_naming_where_it_looked(copied, registry):
    copy, ids = copied
    store = SQLiteStore(str(copy))
    try:
        engine = Engine(store, registry=registry)
        with pytest.raises(KeysUnavailable, match=r"copy/agency\.db\.keys, which does not exist"):
            engine.get(ids[0])
        a = registry.communes_of("92")[0].code
        with pytest.raises(KeysUnavailable):  # a write is refused too: no new keyring for this store
            engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    finally:
        store.close()
    assert not Path(f"{copy}.keys").exists()


def test_keys_status_says_what_is_needed_and_present(app_store, copied):
    path, _ = app_store
    ring = json.loads(Path(f"{path}.keys").read_text())
    ok = runner.invoke(app, ["keys", "status", "--db", str(path)])
    assert ok.exit_code == 0 and f"needed by the store: {ring['active']}" in ok.output
    assert f"present: {ring['active']} · active {ring['active']}" in ok.output
    copy, _ = copied
    bad = runner.invoke(app, ["keys", "status", "--db", str(copy)])
    assert bad.exit_code == 1 and f"missing: {ring['active']}" in bad.output and "present: none" in bad.output


def test_a_new_store_gets_its_keyring_on_first_write_only(tmp_path, registry):
    path = tmp_path / "new.db"
    store = SQLiteStore(str(path))
    engine = Engine(store, registry=registry)
    from procflow.definition.reader import bundled_definitions

    for d in bundled_definitions():
        engine.register(d)
    assert engine.vault.find_national_id("092123456789") == []  # a search on an empty store makes no keyring
    assert runner.invoke(app, ["keys", "status", "--db", str(path)]).exit_code == 0
    assert not Path(f"{path}.keys").exists()
    a = registry.communes_of("92")[0].code
    staff_of(engine).actors(desk(a))  # enrolling an official seals nothing: still no keyring
    assert not Path(f"{path}.keys").exists()
    engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    assert Path(f"{path}.keys").exists()  # documented place: beside the store
    store.close()


def test_retiring_waits_for_other_processes_and_loses_no_value(app_store, registry):
    """A process that still has the old active key cached (it looks at the keyring at most once a second) seals
    a value during the rotation; the rotation waits out its refresh, re-seals that value, and only then
    retires the old key — the value opens afterwards."""
    path, ids = app_store
    other = SQLiteStore(str(path))
    other_engine = Engine(other, registry=registry, vault=Vault(other, FileKeyProvider(f"{path}.keys")))
    a = registry.communes_of("92")[0].code
    other_engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)  # caches the old active key
    old = other_engine.vault.keys.active_key_id()
    rotating = SQLiteStore(str(path))
    vault = Vault(rotating, FileKeyProvider(f"{path}.keys"))
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", vault.rotate(retire=True, retire_grace=1.5)))
    t.start()
    time.sleep(0.3)  # the new key is active in the file; `other` has not looked again yet
    late = other_engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    assert other._execute("SELECT key_id FROM vault WHERE dossier_id=?", (late.id,)) == [(old,)]
    t.join(30)
    report = result["r"]
    assert report.retired == [old] and report.remaining == 0
    fresh_store = SQLiteStore(str(path))
    fresh = Engine(fresh_store, registry=registry, vault=Vault(fresh_store, FileKeyProvider(f"{path}.keys")))
    for did in [*ids, late.id]:
        assert fresh.get(did).data["parent_phone"] == CHILD["parent_phone"]
    assert old not in FileKeyProvider(f"{path}.keys").key_ids()
    for s in (other, rotating, fresh_store):
        s.close()


def test_retire_grace_must_exceed_the_keyring_refresh(app_store):
    path, _ = app_store
    store = SQLiteStore(str(path))
    from procflow.errors import VaultError

    with pytest.raises(VaultError, match="longer than the keyring refresh"):
        Vault(store, FileKeyProvider(f"{path}.keys")).rotate(retire=True, retire_grace=0.5)
    store.close()


def test_rotate_asks_for_yes_and_dry_run_changes_nothing(app_store):
    path, _ = app_store
    before = fingerprint(path)
    no = runner.invoke(app, ["keys", "rotate", "--db", str(path)])
    assert no.exit_code == 1 and "pass --yes" in no.output and fingerprint(path) == before
    dry = runner.invoke(app, ["keys", "rotate", "--db", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "would re-encrypt 3 value(s)" in dry.output and fingerprint(path) == before
    for argv in (["retention", "apply", "--db", str(path), "--now", "2099-01-01"],):
        r = runner.invoke(app, argv)
        assert r.exit_code == 1 and "pass --yes" in r.output and fingerprint(path) == before


def test_backup_and_restore_carry_the_store_and_its_keyring(app_store, tmp_path, registry):
    path, ids = app_store
    bak = tmp_path / "bak"
    r = runner.invoke(app, ["backup", "--db", str(path), "--to", str(bak)])
    assert r.exit_code == 0 and "with its keyring" in " ".join(r.output.split()), r.output  # rich wraps long paths
    target = tmp_path / "restored" / "agency.db"
    r = runner.invoke(app, ["restore", "--from", str(bak), "--db", str(target)])
    assert r.exit_code == 0, r.output
    store = SQLiteStore(str(target))
    assert Engine(store, registry=registry).get(ids[0]).data["parent_national_id"] == CHILD["parent_national_id"]
    store.close()
    again = runner.invoke(app, ["restore", "--from", str(bak), "--db", str(target)])
    assert again.exit_code == 1 and "refusing to replace" in " ".join(again.output.split())
    assert runner.invoke(app, ["restore", "--from", str(bak), "--db", str(target), "--overwrite"]).exit_code == 0
    assert runner.invoke(app, ["backup", "--db", str(path), "--to", str(bak)]).exit_code == 1  # not empty
    pg = runner.invoke(app, ["backup", "--db", "postgresql://127.0.0.1/test", "--to", str(tmp_path / "pg")])
    assert pg.exit_code == 1 and "pg_dump" in pg.output
