"""Liên thông bundles are kept by the store on both backends: they survive a restart, retention erases
their staged personal values once every member has expired, and ``procflow migrate units`` moves them."""

from __future__ import annotations

from datetime import timedelta

from operator_support import use_operator
from typer.testing import CliRunner

from procflow.bundle import BundleCoordinator
from procflow.cli.app import app
from procflow.definition.reader import bundled_definitions, parse_definition
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.privacy.keys import FileKeyProvider
from procflow.privacy.retention import apply_retention
from procflow.privacy.vault import Vault
from procflow.testing.directory import staff_of

BUNDLE = "LT.KS-TT-BHYT"
BIRTH = "1.001193"
YEARS = {BIRTH: 5, "BHYT.TE6": 5, "1.004222": 10}
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789",
         "residence_address": "Số 7, hẻm Liên Thông"}
OLD, NEW = "311.35.99.H92", "311.20.99.H92"  # Ninh Kiều merges into Cái Khế


def desk(code: str) -> Actor:
    return Actor(f"desk@{code}", code, {"one_stop_officer"})


def civil(code: str) -> Actor:
    return Actor(f"hotich@{code}", code, {"civil_status_officer"})


def with_retention(definition, years):
    v = definition.version
    source = definition.source.replace(f"version = {v}\n", f"version = {v + 1}\nretention_years = {years}\n", 1)
    return parse_definition(source, file=f"{definition.code}-retained.toml")


def engine_on(store, registry, clock, keys_path) -> Engine:
    engine = Engine(store, registry=registry, clock=clock, vault=Vault(store, FileKeyProvider(keys_path)))
    for d in bundled_definitions():
        engine.register(d)
        if d.code in YEARS:
            engine.register(with_retention(d, YEARS[d.code]))
    return engine


def run_bundle_to_the_end(bundles: BundleCoordinator, engine: Engine):
    staff_of(engine).actors(desk(OLD), civil(OLD))
    b = bundles.file(BUNDLE, filed_at=OLD, actor=desk(OLD), data=CHILD)
    birth = engine.get(b.members["birth"])
    bundles.fire(birth, "accept", desk(OLD))
    residence, insurance = bundles.fire(birth, "approve", civil(OLD), data={"documents_complete": True}).started
    for member, role in ((insurance, "insurance_officer"), (residence, "residence_officer")):
        who = Actor(f"{role}@{member.custodian}", member.custodian, {role})
        staff_of(engine).actors(who)
        bundles.fire(member, "accept", who)
        bundles.fire(member, "approve", who, data={"documents_complete": True})
    return bundles.return_result(b.id, desk(OLD))


def test_bundles_survive_a_restart_and_retention_erases_their_values(store_factory, registry, clock, tmp_path):
    keys = tmp_path / "keys.json"
    engine = engine_on(store_factory(), registry, clock, keys)
    bundles = BundleCoordinator(engine)
    assert bundles.persistent
    done = run_bundle_to_the_end(bundles, engine)
    events = bundles.events(done.id)
    engine.store.close()

    engine = engine_on(store_factory(), registry, clock, keys)  # a restarted process: nothing in memory
    again = BundleCoordinator(engine, definitions=())
    assert again.get(done.id) == done and again.events(done.id) == events
    assert [b.id for b in again.iter_bundles()] == [done.id]
    assert again.bundle_of(done.members["residence"]) is not None
    assert engine.vault.live_entries(done.id) == 1

    later = clock.now() + timedelta(days=365 * 11)  # every member past its period
    report = apply_retention(engine, now=later)
    assert [(a.bundle_id, a.erased) for a in report.bundles_anonymised] == [(done.id, 1)]
    assert report.bundles_unresolved == [] and engine.vault.live_entries(done.id) == 0
    assert engine.vault.resolve(done.extra) == {"residence_address": None}


def test_migrate_units_moves_open_bundles(store_factory, registry, clock, tmp_path, monkeypatch):
    keys = tmp_path / "keys.json"
    store = store_factory()
    engine = engine_on(store, registry, clock, keys)
    staff_of(engine).actors(desk(OLD), civil(OLD))
    b = BundleCoordinator(engine).file(BUNDLE, filed_at=OLD, actor=desk(OLD), data=CHILD)
    if hasattr(store, "path"):
        db = store.path
    else:
        db = f"{store.url}?options=-csearch_path%3D{store.schema}"
    use_operator(monkeypatch, store, tmp_path)  # a move acts as the machine's operator
    store.close()
    (tmp_path / "merge.csv").write_text(f"old,new\n{OLD},{NEW}\n")
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(keys))
    result = CliRunner().invoke(app, ["migrate", "units", str(tmp_path / "merge.csv"), "--db", db, "--yes"])
    assert result.exit_code == 0, result.output
    reopened = engine_on(store_factory(), registry, clock, keys)
    moved = BundleCoordinator(reopened, definitions=()).get(b.id)
    assert (moved.receiving, moved.revision) == (NEW, b.revision + 1)
    assert BundleCoordinator(reopened, definitions=()).events(b.id)[-1].kind == "migrated"
