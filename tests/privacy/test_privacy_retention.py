"""Retention: closed dossiers past their procedure's period lose their personal data; statistics, the event
log and its hash chain stay; what was done is recorded."""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from privacy_support import BIRTH, CHILD, NATIONAL_ID, civil, desk
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.definition.reader import bundled_definitions, parse_definition
from procflow.engine.core import Engine
from procflow.errors import DefinitionError
from procflow.privacy.hashchain import verify
from procflow.privacy.retention import apply_retention, expires_at
from procflow.privacy.vault import Vault
from procflow.statistics import build_report
from procflow.testing.directory import staff_of

RETAINED = "T.RET5"


def retained_definition():
    birth = next(d for d in bundled_definitions() if d.code == BIRTH)
    source = birth.source.replace(f'code = "{BIRTH}"', f'code = "{RETAINED}"', 1).replace(
        f"version = {birth.version}\n", f"version = {birth.version}\nretention_years = 5\n", 1)
    return parse_definition(source, file="retained.toml")


@pytest.fixture
def rengine(pengine):
    pengine.register(retained_definition())
    return pengine


def closed(engine, code, a, data=CHILD):
    d = engine.file(code, filed_at=a, actor=desk(a), data=data)
    engine.fire(d, "accept", desk(a))
    engine.fire(d, "approve", civil(a), data={"documents_complete": True})
    engine.fire(d, "return_result", desk(a))
    return d


def test_retention_years_is_a_checked_definition_key():
    assert retained_definition().retention_years == 5
    assert next(d for d in bundled_definitions() if d.code == BIRTH).retention_years is None
    bad = retained_definition().source.replace("retention_years = 5", "retention_years = -1")
    with pytest.raises(DefinitionError, match="retention_years"):
        parse_definition(bad)
    assert expires_at(datetime(2024, 2, 29, 9), 5) == datetime(2029, 2, 28, 9)


def test_closed_dossiers_past_their_period_are_anonymised_and_the_rest_kept(rengine, communes):
    a = communes[0]
    old = closed(rengine, RETAINED, a)
    still_open = rengine.file(RETAINED, filed_at=a, actor=desk(a), data=CHILD)
    no_period = closed(rengine, BIRTH, a)
    defs = {d.key: d for d in rengine.definitions()}
    stats_before = build_report(rengine.store.iter_dossiers(), defs, rengine.calendar, rengine.registry,
                                rengine.clock.now()).to_dict()
    soon = rengine.clock.now() + timedelta(days=365 * 4)
    assert apply_retention(rengine, now=soon).anonymised == []  # within the period
    later = rengine.clock.now() + timedelta(days=365 * 5 + 2)
    dry = apply_retention(rengine, now=later, dry_run=True)
    assert [a.dossier_id for a in dry.anonymised] == [old.id] and rengine.get(old.id).data == {
        **CHILD, "documents_complete": True}
    report = apply_retention(rengine, now=later)
    assert [(x.dossier_id, x.retention_years, x.erased) for x in report.anonymised] == [(old.id, 5, 1)]
    assert (report.kept_open, report.no_period) == (1, 1)
    gone = rengine.get(old.id)
    assert all(gone.data[k] is None for k in CHILD) and gone.data["documents_complete"] is True
    assert gone.state == old.state and gone.status == 10 and rengine.replay(old.id) == gone
    assert rengine.get(still_open.id).data == CHILD and rengine.get(no_period.id).data["parent_national_id"] == \
        NATIONAL_ID
    assert rengine.vault.find_national_id(NATIONAL_ID) == sorted([still_open.id, no_period.id])
    stats_after = build_report(rengine.store.iter_dossiers(), defs, rengine.calendar, rengine.registry,
                               rengine.clock.now()).to_dict()
    assert stats_after == stats_before  # statistics are kept
    record = rengine.store.audit(dossier_id=old.id)[-1]
    assert (record.action, record.outcome, record.purpose) == ("retention:anonymise", "done", "retention")
    assert "erased 1 vault entry" in record.detail and "retention 5 year(s)" in record.detail
    assert apply_retention(rengine, now=later).anonymised == []  # idempotent
    assert verify(rengine.store).ok


def test_retention_cli(rengine, communes, sqlite_store, monkeypatch):
    old = closed(rengine, RETAINED, communes[0])
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(rengine.vault.keys.path))
    runner = CliRunner()
    day = (old.updated_at + timedelta(days=365 * 5 + 2)).date().isoformat()
    dry = runner.invoke(app, ["retention", "apply", "--db", sqlite_store.path, "--now", day, "--dry-run"])
    assert dry.exit_code == 0 and "would anonymise 1" in dry.stdout
    done = runner.invoke(app, ["retention", "apply", "--db", sqlite_store.path, "--now", day, "--yes"])
    assert done.exit_code == 0 and "anonymised 1" in done.stdout and old.id in done.stdout
    audit = runner.invoke(app, ["audit", "access", "--db", sqlite_store.path, "--dossier", old.id, "--all"])
    assert "retention:anonymise" in audit.stdout


# -- liên thông bundles: the application's values for members not filed yet, held under the bundle's id ------
BUNDLE = "LT.KS-TT-BHYT"
YEARS = {BIRTH: 5, "BHYT.TE6": 5, "1.004222": 10}  # the residence record is kept longer
ADDRESS = "Số 12, đường 30/4, hẻm Retention"


def with_retention(definition, years):
    """The shipped definition as its next version with a retention period (members file under the latest)."""
    n = definition.version
    source = definition.source.replace(f"version = {n}\n", f"version = {n + 1}\nretention_years = {years}\n", 1)
    return parse_definition(source, file=f"{definition.code}-retained.toml")


@pytest.fixture
def bengine(pengine):
    for d in bundled_definitions():
        if d.code in YEARS:
            pengine.register(with_retention(d, YEARS[d.code]))
    return pengine


def closed_bundle(engine, a, *, persist=None):
    """A child-under-6 bundle taken to its returned result: every member closed (status 10)."""
    from procflow.bundle import BundleCoordinator
    from procflow.dossier import Actor

    bundles = BundleCoordinator(engine, persist=persist)
    staff_of(engine).actors(desk(a), civil(a))
    b = bundles.file(BUNDLE, filed_at=a, actor=desk(a), data={**CHILD, "residence_address": ADDRESS})
    birth = engine.get(b.members["birth"])
    bundles.fire(birth, "accept", desk(a))
    residence, insurance = bundles.fire(birth, "approve", civil(a), data={"documents_complete": True}).started
    ins = Actor(f"bhxh@{insurance.custodian}", insurance.custodian, {"insurance_officer"})
    staff_of(engine).actors(ins, Actor(f"ca@{residence.custodian}", residence.custodian, {"residence_officer"}))
    bundles.fire(insurance, "accept", ins)
    bundles.fire(insurance, "approve", ins, data={"documents_complete": True})
    police = Actor(f"ca@{residence.custodian}", residence.custodian, {"residence_officer"})
    bundles.fire(residence, "accept", police)
    bundles.fire(residence, "approve", police, data={"documents_complete": True})
    b = bundles.return_result(b.id, desk(a))
    assert b.status == 10 and {engine.get(i).status for i in b.members.values()} == {10}
    return b


def raw_bytes(store) -> bytes:
    store._execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(Path(p).read_bytes() for p in (store.path, store.path + "-wal") if os.path.exists(p))


def test_bundle_values_are_erased_once_every_member_has_expired(bengine, communes):
    b = closed_bundle(bengine, communes[0])
    assert b.id.startswith("LT-") and bengine.vault.live_entries(b.id) == 1
    assert bengine.vault.resolve(b.extra) == {"residence_address": ADDRESS}
    (blob,) = bengine.store._execute("SELECT value FROM vault WHERE dossier_id=?", (b.id,))[0]
    assert bytes(blob) in raw_bytes(bengine.store)
    start = bengine.clock.now()

    report = apply_retention(bengine, now=start + timedelta(days=365 * 4))  # nobody past the period
    assert (report.anonymised, report.bundles_anonymised, report.bundles_kept) == ([], [], 1)

    six = start + timedelta(days=365 * 6)  # birth and insurance past their 5 years, residence (10) not
    report = apply_retention(bengine, now=six)
    assert {a.dossier_id for a in report.anonymised} == {b.members["birth"], b.members["health_insurance"]}
    assert (report.bundles_anonymised, report.bundles_kept) == ([], 1)
    assert bengine.vault.live_entries(b.id) == 1 and bengine.vault.resolve(b.extra) == {"residence_address": ADDRESS}

    eleven = start + timedelta(days=365 * 11)
    bengine.store._execute("UPDATE bundles SET status=4 WHERE id=?", (b.id,))  # as if not synced since they closed
    assert apply_retention(bengine, now=eleven, dry_run=True).bundles_kept == 1  # a member could still start
    bengine.store._execute("UPDATE bundles SET status=10 WHERE id=?", (b.id,))
    dry = apply_retention(bengine, now=eleven, dry_run=True)
    assert [(x.bundle_id, x.erased) for x in dry.bundles_anonymised] == [(b.id, 0)]
    assert bengine.vault.live_entries(b.id) == 1

    bengine.store._execute("PRAGMA secure_delete=OFF")  # as in most SQLite builds (this one may default to ON)
    report = apply_retention(bengine, now=eleven)
    assert [a.dossier_id for a in report.anonymised] == [b.members["residence"]]
    (done,) = report.bundles_anonymised
    assert (done.bundle_id, sorted(done.members), done.erased) == (b.id, sorted(b.members.values()), 1)
    assert done.expired_at == max(expires_at(bengine.get(i).sla.stopped_at, YEARS[bengine.get(i).procedure])
                                  for i in b.members.values())
    assert report.to_dict()["bundles_anonymised"][0]["bundle_id"] == b.id
    assert bengine.vault.live_entries(b.id) == 0 and bengine.vault.resolve(b.extra) == {"residence_address": None}
    record = bengine.store.audit(dossier_id=b.id)[-1]
    assert (record.action, record.outcome, record.purpose) == ("retention:anonymise", "done", "retention")
    assert "erased 1 vault entry of liên thông bundle" in record.detail
    assert bengine.store._execute("PRAGMA secure_delete") == [(0,)]  # the store's setting is restored
    data = raw_bytes(bengine.store)
    blob = bytes(blob)
    assert not any(blob[i:i + 16] in data for i in range(len(blob) - 15))  # not even a piece of the ciphertext
    assert apply_retention(bengine, now=eleven).bundles_anonymised == []  # idempotent
    assert verify(bengine.store).ok


PG_URL = os.environ.get("PROCFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_store():
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip()}")
    from procflow.store.postgres import PostgresStore

    schema = f"procflow_retention_{secrets.token_hex(4)}"
    store = PostgresStore(PG_URL, schema=schema, pool_size=1)
    yield store
    store.close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unrecorded(request, registry, clock, keyring):
    """An engine whose store has no bundle tables: bundles live in the coordinator's memory only."""
    store = request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")
    engine = Engine(store, registry=registry, clock=clock, vault=Vault(store, keyring))
    for d in bundled_definitions():
        engine.register(d)
        if d.code in YEARS:
            engine.register(with_retention(d, YEARS[d.code]))
    return engine


def test_bundle_values_are_kept_and_reported_when_the_store_does_not_record_members(unrecorded, communes):
    b = closed_bundle(unrecorded, communes[0], persist=False)
    start = unrecorded.clock.now()
    report = apply_retention(unrecorded, now=start + timedelta(days=365 * 4))
    assert (report.bundles_kept, report.bundles_unresolved) == (1, [])  # the first member is still in its period
    report = apply_retention(unrecorded, now=start + timedelta(days=365 * 11))
    assert len(report.anonymised) == 3  # every member dossier, but not the bundle: its members are unknown here
    assert (report.bundles_anonymised, report.bundles_kept, report.bundles_unresolved) == ([], 0, [b.id])
    assert report.to_dict()["bundles_unresolved"] == [b.id]
    assert unrecorded.vault.live_entries(b.id) == 1
    assert unrecorded.vault.resolve(b.extra) == {"residence_address": ADDRESS}
    assert unrecorded.vault.live_owners("LT-") == [b.id] and unrecorded.vault.live_owners("LT_") == []


def test_retention_cli_reports_bundles(bengine, communes, sqlite_store, monkeypatch):
    b = closed_bundle(bengine, communes[0])
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(bengine.vault.keys.path))
    runner = CliRunner()
    day = (bengine.clock.now() + timedelta(days=365 * 11)).date().isoformat()
    dry = runner.invoke(app, ["retention", "apply", "--db", sqlite_store.path, "--now", day, "--dry-run"])
    assert dry.exit_code == 0 and "bundles holding personal data: would anonymise 1" in dry.stdout
    assert bengine.vault.live_entries(b.id) == 1
    done = runner.invoke(app, ["retention", "apply", "--db", sqlite_store.path, "--now", day, "--json", "--yes"])
    assert done.exit_code == 0 and json.loads(done.stdout)["bundles_anonymised"][0]["bundle_id"] == b.id
    assert bengine.vault.live_entries(b.id) == 0
