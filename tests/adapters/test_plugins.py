"""The plugin manager: discovery through entry points, refusals that name the plugin, guards, topics and
procedures contributed by plugins, prefill."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from adapter_support import CHILD, Recorder, desk, make_engine, officer

from procflow.definition.reader import parse_definition
from procflow.errors import GuardRejected, PluginError
from procflow.hookspecs import hookimpl
from procflow.plugins import build_engine, describe_plugins, make_plugin_manager, prefill
from procflow.testing.directory import staff_of


def install_fake_distribution(site: Path, module: str, source: str, *, dist: str = "acme-adapter",
                              entry: str = "acme") -> None:
    """What ``pip install`` leaves behind, minus pip: a module and a dist-info with an entry point."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[procflow]\n{entry} = {module}\n", encoding="utf-8")


def test_an_installed_distribution_is_found_without_code_changes(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path / "site", "acme_found", """
        from procflow.hookspecs import hookimpl

        @hookimpl
        def procflow_register_guards():
            return {"acme_ok": lambda dossier, data: True}
    """)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    infos = {p.name: p for p in describe_plugins(make_plugin_manager())}
    assert infos["acme"].source == "acme-adapter 1.2" and infos["acme"].hooks == ("procflow_register_guards",)
    assert infos["procflow.defaults"].source == "built-in"
    assert "acme" not in {p.name for p in describe_plugins(make_plugin_manager(block=["acme"]))}
    assert "acme" not in {p.name for p in describe_plugins(make_plugin_manager(load_entrypoints=False))}


def test_a_plugin_that_fails_to_import_is_named(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path / "site", "acme_broken", "import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(PluginError) as exc:
        make_plugin_manager()
    msg = str(exc.value)
    assert "plugin 'acme' (acme-adapter 1.2, entry point 'acme_broken') failed to import" in msg
    assert "ModuleNotFoundError" in msg and "no_such_module_anywhere" in msg
    sys.modules.pop("acme_broken", None)


def test_a_wrong_signature_names_the_plugin_and_both_signatures():
    class Vendor:
        @hookimpl
        def procflow_deliver_status_sync(self, message, timeout, retries):
            return "ok"

    with pytest.raises(PluginError) as exc:
        make_plugin_manager(load_entrypoints=False, plugins=[Vendor()])
    msg = str(exc.value)
    assert "procflow_deliver_status_sync(message, timeout, retries) takes 'retries'" in msg
    assert "the hook is procflow_deliver_status_sync(message, timeout)" in msg
    assert ".Vendor'" in msg


def test_a_misspelt_hook_gets_a_suggestion():
    class Vendor:
        @hookimpl
        def procflow_deliver_status(self, message):
            return "ok"

    with pytest.raises(PluginError, match="no hook named 'procflow_deliver_status'; did you mean "
                                          "procflow_deliver_status_sync"):
        make_plugin_manager(load_entrypoints=False, plugins=[Vendor()])


def test_fewer_arguments_than_the_hook_offers_is_fine():
    class Vendor:
        @hookimpl
        def procflow_deliver_status_sync(self, message):
            return "ok"

    pm = make_plugin_manager(load_entrypoints=False, plugins=[Vendor()])
    assert pm.hook.procflow_deliver_status_sync(message=None, timeout=1.0) == "ok"


def test_plugin_guards_reach_definitions_and_conflicts_name_both_plugins(sqlite_store, registry, clock, commune,
                                                                         bundled):
    class Parents:
        @hookimpl
        def procflow_register_guards(self):
            return {"parent_id_present": lambda d, data: bool(data.get("parent_national_id"))}

    source = bundled["1.001193"].source.replace('guards = ["documents_complete"]',
                                                'guards = ["documents_complete", "parent_id_present"]')
    n = bundled["1.001193"].version
    source = source.replace(f"version = {n}", f"version = {n + 1}", 1)
    pm = make_plugin_manager(load_entrypoints=False, plugins=[Parents()])
    engine = build_engine(sqlite_store, pm=pm, registry=registry, clock=clock)
    engine.register(parse_definition(source))
    staff_of(engine).actors(desk(commune), officer(commune))
    d = engine.file("1.001193", filed_at=commune, actor=desk(commune), data={**CHILD, "parent_national_id": "x"})
    assert engine.guards["parent_id_present"](d, {}) is False  # the plugin's callable, not a stand-in
    engine.fire(d, "accept", desk(commune))
    with pytest.raises(GuardRejected, match="parent_id_present"):
        engine.fire(d, "approve", officer(commune),
                    data={"documents_complete": True, "parent_national_id": ""})

    class Rival:
        @hookimpl
        def procflow_register_guards(self):
            return {"parent_id_present": lambda d, data: True}

    with pytest.raises(PluginError, match="'parent_id_present' is offered by both"):
        build_engine(sqlite_store, pm=make_plugin_manager(load_entrypoints=False, plugins=[Parents(), Rival()]))


def test_without_a_subscriber_no_outbox_rows_are_written(sqlite_store, registry, clock, commune):
    engine, _ = make_engine(sqlite_store, registry, clock, Recorder(subscribe=False))
    engine.file("1.001193", filed_at=commune, actor=desk(commune), data=CHILD)
    assert sqlite_store.outbox() == []


def test_a_catalogue_plugin_contributes_procedures(sqlite_store, registry, clock, bundled):
    catalogue = bundled["2.000720"].source.replace('code = "2.000720"', 'code = "9.999001"')

    class Catalogue:
        @hookimpl
        def procflow_register_procedures(self):
            return [parse_definition(catalogue, file="catalogue:9.999001")]

    engine = build_engine(sqlite_store, pm=make_plugin_manager(load_entrypoints=False, plugins=[Catalogue()]),
                          registry=registry, clock=clock)
    assert engine.definition("9.999001").version == 1 and engine.definition("1.001193")  # bundled too

    class Sloppy:
        @hookimpl
        def procflow_register_procedures(self):
            return [catalogue]

    with pytest.raises(PluginError, match="must return ProcedureDefinition objects, got str"):
        build_engine(sqlite_store, pm=make_plugin_manager(load_entrypoints=False, plugins=[Sloppy()]))


def test_prefill_fills_only_the_same_persons_fields(bundled):
    asked: list[tuple[str, str]] = []

    class Registry:
        @hookimpl
        def procflow_resolve_citizen(self, national_id, purpose):
            asked.append((national_id, purpose))
            return {"full_name": "Nguyễn Thị Lan", "phone": "0912345678"} if national_id == "092123456789" else None

    pm = make_plugin_manager(load_entrypoints=False, plugins=[Registry()])
    birth = bundled["1.001193"]
    assert prefill(pm, birth, "092123456789") == {"parent_national_id": "092123456789", "parent_phone": "0912345678",
                                                  "parent_name": "Nguyễn Thị Lan"}
    assert prefill(pm, birth, "001099000000") == {}
    assert asked == [("092123456789", "1.001193"), ("001099000000", "1.001193")]
    with pytest.raises(PluginError, match="no national-ID field named 'spouse_national_id'"):
        prefill(pm, birth, "092123456789", id_field="spouse_national_id")


def test_a_plugin_lays_its_province_days_off_over_the_national_schedule(tmp_path):
    from datetime import date

    from procflow.store.sqlite import SQLiteStore

    local = tmp_path / "local-days.toml"
    local.write_text('[[day]]\ndate = 2026-03-11\nkind = "off"\nreason = "Ngày lễ địa phương"\n'
                     'document = "QĐ 12/UBND"\n', encoding="utf-8")

    class Province:
        @hookimpl
        def procflow_register_calendar_files(self):
            return [local]

    engine = build_engine(SQLiteStore(str(tmp_path / "p.db")),
                          pm=make_plugin_manager(load_entrypoints=False, plugins=[Province()]))
    assert not engine.calendar.is_working_day(date(2026, 3, 11))
    assert engine.calendar.decided(date(2026, 3, 11)).document == "QĐ 12/UBND"
    assert not engine.calendar.is_working_day(date(2026, 1, 2))  # the national schedule is still there
    plain = build_engine(SQLiteStore(":memory:"), pm=make_plugin_manager(load_entrypoints=False))
    assert plain.calendar.is_working_day(date(2026, 3, 11))
