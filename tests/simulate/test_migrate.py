"""Re-homing in-flight dossiers: merged units and new definition versions, one recorded event each."""

from __future__ import annotations

import pytest
import typer
from operator_support import use_operator
from typer.testing import CliRunner

from procflow.cli.simulate_extras import register
from procflow.definition.reader import parse_definition
from procflow.dossier import Actor, EventKind, replay
from procflow.errors import MigrationRefused, NotCustodian
from procflow.migrate import migrate_definition, migrate_units, read_unit_map
from procflow.privacy.hashchain import verify
from procflow.testing.directory import staff_of

OLD, NEW, OTHER = "311.35.99.H92", "311.20.99.H92", "312.32.99.H92"  # Ninh Kiều merges into Cái Khế
CHILD = {"child_name": "Phạm Văn Long", "child_birth_date": "2026-04-12", "parent_national_id": "092111222333"}
LAND = {"applicant_name": "Lê Văn Tám", "applicant_national_id": "092444555666", "parcel": "thửa 12, tờ 3"}


def desk(code):
    return Actor(f"desk@{code}", code, {"one_stop_officer"})


def officer(code):
    return Actor(f"officer@{code}", code, {"civil_status_officer"})


@pytest.fixture
def dossiers(procflow_engine):
    e = procflow_engine
    staff_of(e).actors(*(who(code) for code in (OLD, NEW, OTHER) for who in (desk, officer)))
    d1 = e.file("1.001193", filed_at=OLD, actor=desk(OLD), data=CHILD)
    e.fire(d1, "accept", desk(OLD))  # in flight, held by the old ward
    d2 = e.file("1.001193", filed_at=OLD, actor=desk(OLD), data=CHILD)
    for t, who in (("accept", desk), ("approve", officer), ("return_result", desk)):
        e.fire(d2, t, who(OLD), data={"documents_complete": True} if t == "approve" else None)
    d3 = e.file("1.012751", version=1, filed_at=OLD, actor=desk(OLD), data=LAND)  # received at the old ward's desk
    d4 = e.file("1.001193", filed_at=OTHER, actor=desk(OTHER), data=CHILD)
    return d1, d2, d3, d4


def test_units_move_in_flight_dossiers_with_a_recorded_event(procflow_engine, dossiers):
    d1, d2, d3, d4 = dossiers
    report = migrate_units(procflow_engine, {OLD: NEW})
    assert sorted(report.moved) == sorted([d1.id, d3.id]) and not report.refused
    moved = procflow_engine.get(d1.id)
    assert moved.custodian == NEW and moved.agencies["receiving"] == moved.agencies["location"] == NEW
    assert moved.state == d1.state and moved.revision == d1.revision + 1
    last = procflow_engine.history(d1.id)[-1]
    assert last.kind == EventKind.MIGRATED and last.effects["custodian_from"] == OLD
    assert procflow_engine.get(d3.id).agencies["receiving"] == NEW  # the land office still decides
    assert procflow_engine.get(d2.id).revision == d2.revision  # finished: history stays as it was
    assert procflow_engine.get(d4.id).revision == d4.revision
    store = procflow_engine.store
    for d in (d1, d3):
        assert replay(store.events(d.id)) == store.get(d.id)
        assert procflow_engine.replay(d.id) == procflow_engine.get(d.id)
    assert verify(store).ok  # the hash chain runs through the migration event
    with pytest.raises(NotCustodian):
        procflow_engine.fire(moved, "approve", officer(OLD), data={"documents_complete": True})
    procflow_engine.fire(moved, "approve", officer(NEW), data={"documents_complete": True})


def test_units_refuse_unknown_or_wrong_level_agencies_and_move_nothing(procflow_engine, dossiers):
    d1, _, d3, _ = dossiers
    with pytest.raises(MigrationRefused) as exc:
        migrate_units(procflow_engine, {OLD: "999.00.00.H92"})  # a province-level agency for a ward's roles
    assert {r.dossier_id for r in exc.value.refused} == {d1.id, d3.id}
    assert "province-level agency cannot take over from a commune-level one" in str(exc.value)
    assert procflow_engine.get(d1.id).custodian == OLD  # nothing moved
    with pytest.raises(MigrationRefused, match="no such agency"):
        migrate_units(procflow_engine, {OLD: "123.45.99.H92"})
    dry = migrate_units(procflow_engine, {OLD: NEW}, dry_run=True)
    assert len(dry.moved) == 2 and procflow_engine.get(d1.id).custodian == OLD


def _v2(engine):
    v1 = engine.definition("1.001193", 2).source
    text = v1.replace("version = 2", "version = 3", 1).replace("supplement_requested", "awaiting_citizen")
    engine.register(parse_definition(text, file="birth-v2.toml"))


def test_definition_migration_refuses_states_without_counterpart_then_maps_them(procflow_engine, dossiers):
    d1, d2, _, _ = dossiers
    e = procflow_engine
    e.fire(d1, "request_supplement", officer(OLD))  # in 'supplement_requested', which v2 calls otherwise
    d5 = e.file("1.001193", filed_at=OTHER, actor=desk(OTHER), data=CHILD)
    e.fire(d5, "accept", desk(OTHER))
    _v2(e)
    with pytest.raises(MigrationRefused, match="has no counterpart in v3"):
        migrate_definition(e, "1.001193", 3)
    with pytest.raises(MigrationRefused, match="SLA clock is running in 'processing' but stopped"):
        migrate_definition(e, "1.001193", 3, state_map={"supplement_requested": "awaiting_citizen",
                                                        "processing": "processed"})
    report = migrate_definition(e, "1.001193", 3, state_map={"supplement_requested": "awaiting_citizen"})
    assert d1.id in report.moved and d5.id in report.moved and d2.id not in report.moved
    moved = e.get(d1.id)
    assert (moved.definition_version, moved.state, moved.status) == (3, "awaiting_citizen", 5)
    assert e.replay(d1.id) == moved and verify(e.store).ok
    e.fire(moved, "resubmit", desk(OLD))  # v2's transitions now apply
    assert e.get(d1.id).state == "processing" and e.get(d2.id).definition_version == 2


def test_cli_migrate_units_and_definition(procflow_engine, dossiers, tmp_path, monkeypatch):
    d1 = dossiers[0]
    use_operator(monkeypatch, procflow_engine.store, tmp_path)  # a move acts as the machine's operator
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    db = procflow_engine.store.path
    mapping = tmp_path / "merge.csv"
    mapping.write_text(f"old,new\n# Ninh Kiều into Cái Khế\n{OLD},{NEW[:3]}{NEW[4:6]}\n")  # new as a ward code
    assert read_unit_map(mapping, procflow_engine) == {OLD: NEW}
    result = runner.invoke(app, ["migrate", "units", str(mapping), "--db", db, "--yes"])
    assert result.exit_code == 0, result.output
    assert "moved 2 in-flight dossier(s)" in result.output
    assert procflow_engine.get(d1.id).custodian == NEW
    v2 = tmp_path / "birth-v2.toml"
    v2.write_text(procflow_engine.definition("1.001193", 2).source.replace("version = 2", "version = 3", 1))
    result = runner.invoke(app, ["migrate", "definition", "1.001193", "--to", "3", "--db", db, "--file", str(v2),
                                 "--yes"])
    assert result.exit_code == 0, result.output
    assert procflow_engine.get(d1.id).definition_version == 3
    result = runner.invoke(app, ["migrate", "definition", "1.001193", "--to", "7", "--db", db, "--yes"])
    assert result.exit_code == 1 and "not registered" in result.output
