"""`procflow catalogue import`: the shipped sample becomes valid versioned definitions; re-imports version
by content; overrides win; a plugin ships a catalogue; bad catalogues are refused whole with row/column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from operator_support import use_operator
from typer.testing import CliRunner

from procflow import hookimpl
from procflow.catalogue import (
    CatalogueError,
    CataloguePlugin,
    catalogue_procedures,
    import_catalogue,
    profile_for,
    read_catalogue,
    sample_catalogue,
)
from procflow.cli.app import app
from procflow.definition.reader import bundled_definitions, load_definition
from procflow.plugins import build_engine, make_plugin_manager
from procflow.store.sqlite import SQLiteStore

runner = CliRunner()
SAMPLE = sample_catalogue()


def _rows(path: Path = SAMPLE) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or ()), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def test_the_sample_has_forty_real_procedures_each_with_a_source():
    records = read_catalogue(SAMPLE)
    assert len(records) >= 40
    assert {r.level for r in records} == {"commune", "province"}
    for r in records:
        assert r.source and r.legal_basis, f"row {r.row} ({r.code}) cites no source"
        assert set(r.unconfirmed) <= {"code", "time_limit_days", "fee", "annual_volume", "level", "competent_kind"}
    by_code = {r.code: r for r in records}
    assert by_code["1.004222"].time_limit_days == 7  # Law on Residence 2020 art. 22(3), standalone
    assert by_code["1.001193"].time_limit_days == 0  # same day


def test_import_of_the_sample_writes_definitions_that_pass_validate(tmp_path):
    out = tmp_path / "defs"
    result = runner.invoke(app, ["catalogue", "import", str(SAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.toml"))
    assert len(files) >= 40
    checked = runner.invoke(app, ["validate", *map(str, files)])
    assert checked.exit_code == 0, checked.output
    assert checked.output.count("✓") == len(files)
    generated = load_definition(out / "1.010038.v1.toml")  # splitting a household: 5 working days, police
    assert (generated.sla_days, generated.competent_kind, generated.sector) == (5, "police", "Đăng ký, quản lý cư trú")
    assert [s.name for s in generated.states][:4] == ["received", "assigned", "processing", "approval"]
    bundled = {d.code: d for d in bundled_definitions()}
    birth = bundled["1.001193"]
    assert load_definition(out / f"1.001193.v{birth.version}.toml").source == birth.source  # bundled overrides


def test_a_changed_record_becomes_the_next_version_and_nothing_else_moves(tmp_path):
    out = tmp_path / "defs"
    first = import_catalogue(SAMPLE, out=out)
    assert first.count("new") == len(first.planned)
    again = import_catalogue(SAMPLE, out=out)
    assert again.count("unchanged") == len(again.planned)
    header, rows = _rows()
    for r in rows:
        if r["code"] == "1.010038":
            r["time_limit_days"] = "4"
    changed = _write(tmp_path / "changed.csv", header, rows)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    plan = import_catalogue(changed, out=out)
    assert [(p.code, p.definition.version, p.status) for p in plan.planned if p.status != "unchanged"] == \
        [("1.010038", 2, "changed")]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before  # v1 kept as it was
    assert load_definition(out / "1.010038.v2.toml").sla_days == 4
    assert import_catalogue(changed, out=out).count("unchanged") == len(plan.planned)


def _operated_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with its operator: definitions are written into a store by the machine's operator."""
    store = SQLiteStore(str(path))
    try:
        use_operator(monkeypatch, store)
    finally:
        store.close()
    return str(path)


def test_import_into_a_store_registers_versions(tmp_path, monkeypatch):
    db = _operated_store(tmp_path / "store.db", monkeypatch)
    result = runner.invoke(app, ["catalogue", "import", str(SAMPLE), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new"] >= 40
    header, rows = _rows()
    for r in rows:
        if r["code"] == "2.000884":
            r["name"] += " (sửa đổi)"
    changed = _write(tmp_path / "changed.csv", header, rows)
    again = json.loads(runner.invoke(app, ["catalogue", "import", str(changed), "--db", db, "--json"]).stdout)
    assert again["changed"] == 1
    store = SQLiteStore(db)
    try:
        versions = sorted(v for c, v, _ in store.definition_sources() if c == "2.000884")
    finally:
        store.close()
    assert versions == [1, 2]


def test_a_hand_written_override_replaces_the_generated_definition(tmp_path):
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    generated = import_catalogue(SAMPLE, out=tmp_path / "gen").planned
    base = next(p.definition for p in generated if p.code == "1.004873")
    custom = base.source.replace("working_days = 3", "working_days = 2").replace(
        "# Generated by", "# Hand-written, derived from a file generated by")
    (overrides / "marital.toml").write_text(custom, encoding="utf-8")
    plan = import_catalogue(SAMPLE, out=tmp_path / "out", overrides=overrides)
    chosen = next(p for p in plan.planned if p.code == "1.004873")
    assert chosen.override.endswith("marital.toml") and chosen.definition.sla_days == 2
    (overrides / "broken.toml").write_text('code = "9.999999"\nversion = 1\n', encoding="utf-8")
    target = tmp_path / "never"
    result = runner.invoke(app, ["catalogue", "import", str(SAMPLE), "--out", str(target),
                                 "--overrides", str(overrides)])
    assert result.exit_code == 1 and "override refused" in result.output and "Traceback" not in result.output
    assert not target.exists()


class ProvinceCatalogue:
    """What a province's own plugin looks like: its hook calls the helper on the catalogue it ships."""

    __name__ = "province_catalogue"

    @hookimpl
    def procflow_register_procedures(self):
        return catalogue_procedures(SAMPLE)


@pytest.mark.parametrize("plugin", [ProvinceCatalogue(), CataloguePlugin(SAMPLE)], ids=["helper", "ready-made"])
def test_a_plugin_ships_the_catalogue_through_the_hook(tmp_path, plugin):
    pm = make_plugin_manager(load_entrypoints=False, plugins=[plugin])
    store = SQLiteStore(str(tmp_path / "p.db"))
    try:
        engine = build_engine(store, pm=pm)
        codes = {d.code for d in engine.definitions()}
        assert len(codes) >= 40 and "1.010038" in codes
        assert engine.definition("3.000333").competent_kind == "department_justice"
    finally:
        store.close()


def test_generated_procedures_get_the_generic_profile_and_others_one_from_their_transitions(tmp_path):
    plan = import_catalogue(SAMPLE, out=tmp_path / "d")
    same_day = next(p.definition for p in plan.planned if p.code == "2.000884")  # generated, not bundled
    slow = next(p.definition for p in plan.planned if p.code == "3.000333")
    a, b = profile_for(same_day), profile_for(slow)
    assert set(a) == {"received", "assigned", "processing", "approval", "supplement_requested", "processed"}
    assert a["processing"][0].delay == "work" and b["processing"][0].delay == "wait"  # 10 days: a verification wait
    assert b["processing"][0].minutes > a["processing"][0].minutes
    land = next(d for d in bundled_definitions() if d.code == "1.012751")
    triggers = {c.trigger for choices in profile_for(land).values() for c in choices}
    assert {t.trigger for t in land.transitions if t.trigger != "abandon"} >= triggers


# -- malformed catalogues: refused whole, each problem with its row and column ---------------------------------
def _bad(field: str, value: str, row: int = 3):
    def edit(rows: list[dict[str, str]]) -> None:
        rows[row - 2][field] = value
    return edit


CORPUS = [
    ("code-format", _bad("code", "1.00119"), "row 3, column code", "not a national catalogue code"),
    ("code-duplicate", _bad("code", "1.001193", row=5), "row 5, column code", "listed twice (also row 2)"),
    ("code-empty", _bad("code", ""), "row 3, column code", "required"),
    ("level", _bad("level", "cấp huyện"), "row 3, column level", "unknown level"),
    ("kind", _bad("competent_kind", "police_station"), "row 3, column competent_kind", "unknown agency kind"),
    ("limit-text", _bad("time_limit_days", "ba ngày"), "row 3, column time_limit_days", "whole working days"),
    ("limit-negative", _bad("time_limit_days", "-2"), "row 3, column time_limit_days", "whole working days"),
    ("limit-huge", _bad("time_limit_days", "9999"), "row 3, column time_limit_days", "whole working days"),
    ("volume", _bad("annual_volume", "many"), "row 3, column annual_volume", "whole number"),
    ("name", _bad("name", "  "), "row 3, column name", "required"),
    ("legal-basis", _bad("legal_basis", ""), "row 3, column legal_basis", "required"),
    ("unconfirmed", _bad("unconfirmed", "code|colour"), "row 3, column unconfirmed", "'colour'"),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_a_malformed_catalogue_is_refused_whole_with_row_and_column(tmp_path, case, monkeypatch):
    _, edit, where, what = case
    header, rows = _rows()
    edit(rows)
    bad = _write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(CatalogueError) as info:
        read_catalogue(bad)
    assert any(p.path == where and what in p.message for p in info.value.problems), info.value.problems
    out, db = tmp_path / "out", Path(_operated_store(tmp_path / "s.db", monkeypatch))
    for target in (["--out", str(out)], ["--db", str(db)]):
        result = runner.invoke(app, ["catalogue", "import", str(bad), *target])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and where in lines[0] and "nothing imported" in lines[0], result.output
    assert not out.exists()  # nothing half-imported
    if db.exists():
        store = SQLiteStore(str(db))
        try:
            assert store.definition_sources() == []
        finally:
            store.close()


def test_every_bad_row_is_reported_at_once_and_file_shapes_are_checked(tmp_path):
    header, rows = _rows()
    rows[0]["level"] = "x"
    rows[10]["time_limit_days"] = "?"
    rows[20]["competent_kind"] = "nobody"
    with pytest.raises(CatalogueError) as info:
        read_catalogue(_write(tmp_path / "three.csv", header, rows))
    assert [p.path for p in info.value.problems] == ["row 2, column level", "row 12, column time_limit_days",
                                                      "row 22, column competent_kind"]
    shapes = {
        "unknown-column.csv": ("code,name,colour\n1.001193,x,red\n", "column colour"),
        "missing-column.csv": ("code,name\n1.001193,x\n", "column level"),
        "extra-values.csv": (",".join(header) + "\n" + ",".join(["1.001193"] + ["x"] * len(header)) + "\n",
                             "row 2, column (extra)"),
        "not-a-list.json": ('{"code": "1.001193"}', "(file)"),
        "broken.json": ("[{", "line 1"),
        "record.json": ('[{"code": "1.001193", "name": "x", "level": "commune", "sector": "s", '
                        '"competent_kind": "commune", "time_limit_days": true, "result": "r", '
                        '"legal_basis": ["a"]}, 7]', "row 1, column time_limit_days"),
        "catalogue.xlsx": ("", "(file)"),
    }
    for name, (text, where) in shapes.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(CatalogueError) as info:
            read_catalogue(path)
        assert any(p.path.startswith(where) for p in info.value.problems), (name, info.value.problems)


def test_json_catalogues_import_like_csv(tmp_path):
    _, rows = _rows()
    bundled = {d.code for d in bundled_definitions()}
    rows = [r for r in rows if r["code"] not in bundled][:5]  # generated definitions only
    rows[2]["sector_code"] = "HT"  # mã lĩnh vực, when the export gives it
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"procedures": rows}, ensure_ascii=False), encoding="utf-8")
    plan = import_catalogue(path, out=tmp_path / "out")
    assert [p.code for p in plan.planned] == [r["code"] for r in rows]
    assert plan.planned[2].definition.sector_code == "HT" and plan.planned[3].definition.sector_code == ""


def test_cli_input_errors_are_one_line(tmp_path):
    for args, text in ((["catalogue", "import", str(tmp_path / "none.csv"), "--out", str(tmp_path)], "no such file"),
                       (["catalogue", "import", str(SAMPLE)], "exactly one of --out DIR or --db STORE")):
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and text in result.output and len(result.output.strip().splitlines()) == 1
