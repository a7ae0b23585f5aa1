"""Done means: a full ``procflow simulate`` with synthetic citizens leaves no national ID or phone number in
clear in anything a person sees (stdout, log files, JSON/HTML reports, CLI output) nor in the raw bytes of
the database files, WAL included. Plus the logging redaction filter, the last line of defence."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from procflow.engine.core import Engine
from procflow.privacy.logging_setup import configure_logging, reset_logging
from procflow.privacy.masking import mask_json, mask_text
from procflow.simulate import Scenario, run_simulation
from procflow.store.sqlite import SQLiteStore

PROCFLOW = str(Path(sys.executable).with_name("procflow"))
ID_OR_PHONE = re.compile(rb"(?<!\d)(?:092\d{9}|09\d{8})(?!\d)")  # the simulator's synthetic shapes


def personal_values(db: str) -> set[bytes]:
    """Every national ID and phone number the simulated citizens gave (read back through the vault)."""
    store = SQLiteStore(db)
    try:
        engine = Engine(store)
        kinds = {d.key: {f.name for f in d.fields if f.personal in ("national_id", "phone")}
                 for d in engine.definitions()}
        out = set()
        for did in store.dossier_ids():
            d = engine.get(did)
            for name in kinds[(d.procedure, d.definition_version)]:
                if d.data.get(name):
                    out.add(str(d.data[name]).encode())
        return out
    finally:
        store.close()


def db_bytes(db: str) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(db + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def hits(blob: bytes, values: set[bytes], *, shapes: bool = True) -> list[bytes]:
    """The given values found in ``blob``, plus (for text people read) anything shaped like them."""
    return sorted(v for v in values if v in blob) + (ID_OR_PHONE.findall(blob) if shapes else [])


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run([PROCFLOW, *args], capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def test_a_full_simulation_leaves_no_national_id_or_phone_in_clear_anywhere(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCFLOW_")}
    log = tmp_path / "procflow.log"
    env.update(PROCFLOW_LOG_FILE=str(log), PROCFLOW_LOG_LEVEL="DEBUG", COLUMNS="200")
    text_db, json_db = str(tmp_path / "text.db"), str(tmp_path / "json.db")
    outputs: dict[str, bytes] = {}
    html = tmp_path / "report.html"
    args = ["simulate", "--days", "2", "--rate", "0.7", "--db", text_db]
    sim = subprocess.run([PROCFLOW, *args, "--html", str(html)], capture_output=True, env=env, timeout=300)
    if sim.returncode == 2 and not html.exists():  # this procflow has no ``--html PATH`` (yet): plain run
        sim = run(*args, env=env)
    assert sim.returncode == 0, sim.stderr.decode(errors="replace")
    outputs["simulate stdout"], outputs["simulate stderr"] = sim.stdout, sim.stderr
    sim = run("simulate", "--days", "2", "--rate", "0.7", "--db", json_db, "--json", env=env)
    outputs["JSON report"] = sim.stdout
    report = json.loads(sim.stdout)
    assert report["simulation"]["filed"] > 100
    if "--html" in run("simulate", "--help", env=env).stdout.decode():
        assert html.exists()  # the HTML report is searched too
    if html.exists():
        outputs["HTML report"] = html.read_bytes()
    values = personal_values(text_db) | personal_values(json_db)
    assert len(values) > 200  # the simulation did give personal data
    # what people look at afterwards: a dossier's timeline, the audit, the chain check
    store = SQLiteStore(text_db)
    some = store._execute("SELECT id, agencies FROM dossiers ORDER BY id LIMIT 3")
    store.close()
    from procflow.testing.directory import enrol_operator

    for n, (did, agencies) in enumerate(some):
        operator = enrol_operator(text_db, tmp_path / f"operator-{n}.toml", f"reader-{n}",
                                  json.loads(agencies)["receiving"])
        p = run("inspect", did, "--db", text_db, "--purpose", "leak test", env={**env, **operator})
        outputs[f"inspect {did}"] = p.stdout + p.stderr
        assert b"******" in p.stdout  # the national ID is shown, masked
    outputs["audit access"] = run("audit", "access", "--db", text_db, "--dossier", some[0][0],
                                  env={**env, **operator}).stdout  # the last reader's credential
    outputs["audit verify"] = run("audit", "verify", "--db", text_db, env=env).stdout
    outputs["keys status"] = run("keys", "status", "--db", text_db, env=env).stdout
    outputs["log file"] = log.read_bytes()
    assert b'"filed ' in outputs["log file"] and b"******" in outputs["log file"]  # logged, and masked
    for db in (text_db, json_db):
        outputs[f"database files of {Path(db).name}"] = db_bytes(db)
    # database files hold hex hashes, whose digit runs can look like a phone number: exact values only there
    leaks = {name: found[:3] for name, blob in outputs.items()
             if (found := hits(blob, values, shapes=not name.startswith("database")))}
    assert leaks == {}


def test_a_simulation_synced_to_a_portal_keeps_its_outbox_free_of_personal_values(tmp_path):
    """With a portal subscribed, every status sync (applicant name included) goes through the outbox: the
    rows hold vault references, the worker opens them for the portal, and the database files hold none of
    the citizens' national IDs, phone numbers or names in clear."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCFLOW_")}
    db = str(tmp_path / "portal.db")
    sim = run("simulate", "--days", "1", "--rate", "0.7", "--db", db, "--local-portal", "--fail-rate", "0.2",
              "--json", env=env)
    report = json.loads(sim.stdout)
    store = SQLiteStore(db)
    try:
        payloads = [r[0] for r in store._execute("SELECT payload FROM outbox WHERE topic='portal.status'")]
        engine = Engine(store)
        names = {d.key: {f.name for f in d.fields if f.personal is not None} for d in engine.definitions()}
        values = set()
        for did in store.dossier_ids():
            d = engine.get(did)
            values |= {str(d.data[n]).encode() for n in names[(d.procedure, d.definition_version)]
                       if isinstance(d.data.get(n), str) and len(d.data[n]) >= 6}
    finally:
        store.close()
    assert len(payloads) > 100 and sum('"$vault"' in p for p in payloads) > 100  # synced, with references
    assert len(values) > 100 and report["simulation"]["filed"] > 50
    assert hits(db_bytes(db), values, shapes=False) == []
    assert hits(sim.stdout + sim.stderr, values) == []


def test_the_wal_of_a_running_store_holds_no_personal_value_either(tmp_path):
    db = str(tmp_path / "live.db")
    scenario = Scenario(province="Cần Thơ", days=2, seed=3, start=date(2026, 4, 20), dossiers_per_commune_day=2)
    _, _, engine = run_simulation(scenario, db)
    try:
        assert Path(db + "-wal").exists() and Path(db + "-wal").stat().st_size > 0
        blob = db_bytes(db)  # read while the store is open: committed pages still in the WAL
        values = set()
        for did in engine.store.dossier_ids():
            for value in engine.get(did).data.values():
                if isinstance(value, str) and re.fullmatch(r"09\d{8}|092\d{9}", value):
                    values.add(value.encode())
        assert len(values) > 100 and hits(blob, values, shapes=False) == []
    finally:
        engine.store.close()


def test_the_redaction_filter_masks_what_nobody_declared():
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream)
    assert logging.getLogRecordFactory() is not logging.LogRecord
    try:
        log = logging.getLogger("procflow.adapters.careless")
        log.info("sent SMS to %s for citizen %s", "0912345678", "092123456789", extra={"payload": {
            "phone": "+84912345678", "note": "CCCD 079212345667"}, "raw": "gọi 0912 345 678"})
        try:
            raise ValueError("bad national id 092123456789")
        except ValueError:
            log.exception("delivery failed for 0987654321")
        logging.getLogger("thirdparty").warning("phone 0912345678")  # not ours: still redacted
        logging.getLogger("procflow").debug("%s %s", "bad format")  # a broken format string is still printed
    finally:
        handler.flush()
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["msg"] == "sent SMS to 091*****78 for citizen 0921******89"
    assert lines[0]["payload"] == {"phone": "+8491*****78", "note": "CCCD 0792******67"}
    assert lines[0]["raw"] == "gọi 091* *** *78"
    assert "092123456789" not in text and "0987654321" not in text and "0912345678" not in text
    assert "0921******89" in lines[1]["exc"] and lines[2]["logger"] == "thirdparty"
    assert "bad format" in lines[3]["msg"]


def test_masking_api():
    assert mask_text("CCCD 092123456789, ĐT 0912345678") == "CCCD 0921******89, ĐT 091*****78"
    assert mask_text("hồ sơ 311.20.99.H92-260420-0001 lúc 2026-04-20T08:00:00+07:00, mã 000.00.01.H22") == \
        "hồ sơ 311.20.99.H92-260420-0001 lúc 2026-04-20T08:00:00+07:00, mã 000.00.01.H22"
    assert mask_json({"a": ["0912345678", 5], "id": "092123456789"}, {"id": "national_id"}) == {
        "a": ["091*****78", 5], "id": "0921******89"}


def test_cli_error_messages_are_masked(tmp_path):
    from typer.testing import CliRunner

    from procflow.cli.app import app
    from procflow.testing.directory import enrol_operator

    db = tmp_path / "x.db"
    SQLiteStore(str(db)).close()
    env = enrol_operator(str(db), tmp_path / "operator.toml", "desk", "311.20.99.H92")
    result = CliRunner().invoke(app, ["inspect", "x", "--db", str(db), "--actor", "0912345678"], env=env)
    assert result.exit_code == 1 and "091*****78" in result.output and "0912345678" not in result.output


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    reset_logging()
