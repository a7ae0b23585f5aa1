"""Every bundled procedure and bundle against the table of sources kept in the repository
(``src/procflow/procedures/sources.csv``): code, version, time limits and what is unconfirmed; the docs page
lists the same table; every state maps to the right national-portal status."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from procflow.bundle import bundled_bundle_definitions
from procflow.definition.model import ClockMode
from procflow.definition.reader import bundled_definitions, parse_definition
from procflow.errors import DefinitionError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src" / "procflow" / "procedures" / "sources.csv"
DOCS = ROOT / "docs" / "procedures" / "bundled.md"


def _rows() -> list[dict[str, str]]:
    with SOURCES.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def render_table(rows: list[dict[str, str]]) -> str:
    """The docs page's table, built from the CSV (the test below keeps the page equal to it)."""
    out = ["| kind | code | version | procedure | limit (working days) | with verification | unconfirmed | "
           "time limit from | checked against |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["kind"], f"`{r['code']}`", r["version"], r["name_en"], r["working_days"],
                 r["verification_working_days"] or "—", ", ".join(r["unconfirmed"].split(";")) or "—",
                 r["time_limit_basis"], r["catalogue_source"]]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def _verification_days(d) -> str:
    days = [s.sla_days for s in d.states if s.clock is ClockMode.EXCLUDED and s.name in ("verifying", "verification")]
    return str(days[0]) if days else ""


# A version shipped by an earlier release is frozen byte for byte (stores registered it by its content hash;
# see tests/test_definition_upgrade.py): its sources live only in the table.
RELEASED = {p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "data" / "release-2026-11").glob("*.toml")}


def test_every_bundled_procedure_matches_its_row_in_the_sources_table():
    rows = {(r["kind"], r["code"], r["version"]): r for r in _rows()}
    seen = set()
    for d in bundled_definitions():
        key = ("procedure", d.code, str(d.version))
        assert key in rows, f"{d.file}: no row for {d.code} v{d.version} in {SOURCES.name}"
        r = rows[key]
        assert (r["working_days"], r["verification_working_days"]) == (str(d.sla_days), _verification_days(d)), d.file
        if d.source in RELEASED:
            assert r["catalogue_source"] and r["time_limit_basis"], d.file
            seen.add(key)
            continue
        assert r["unconfirmed"] == ";".join(d.unconfirmed), d.file
        assert d.catalogue_source and r["catalogue_source"] == d.catalogue_source, d.file
        assert d.legal_basis and r["time_limit_basis"], d.file
        seen.add(key)
    for b in bundled_bundle_definitions():
        key = ("bundle", b.code, str(b.version))
        assert key in rows, f"{b.file}: no row for bundle {b.code} in {SOURCES.name}"
        r = rows[key]
        assert (r["working_days"], r["verification_working_days"]) == (
            str(b.sla_days), str(b.verification_working_days or "")), b.file
        assert r["unconfirmed"] == ";".join(b.unconfirmed) and r["catalogue_source"] == b.catalogue_source, b.file
        seen.add(key)
    assert seen == set(rows), f"rows without a definition: {sorted(set(rows) - seen)}"


def test_the_checked_codes_and_limits():
    defs = {(d.code, d.version): d for d in bundled_definitions()}
    assert ("1.004194", 1) not in defs  # temporary residence, not permanent
    assert defs[("1.004222", 1)].sla_days == 7  # Luật Cư trú 2020, Điều 22 khoản 3
    assert ("2.000575", 1) not in defs  # re-issue of the household-business certificate, not registration
    assert "catalogue_code" in defs[("2.000720", 1)].unconfirmed
    assert {d.code for d in bundled_definitions()} >= {"1.000894", "1.000656", "2.000815", "2.000635", "1.004873"}
    bundles = {b.code: b for b in bundled_bundle_definitions()}
    child = bundles["LT.KS-TT-BHYT"]
    assert (child.sla_days, child.verification_working_days, child.member_limits["residence"]) == (3, 5, 2)
    death = bundles["1.011537"]
    assert [m.procedure for m in death.members] == ["1.000656", "CA.XOA-TT", "BHXH.MAI-TANG"]
    assert "time_limit" in death.unconfirmed


def test_the_land_flow_is_versioned_by_decree():
    land = {d.version: d for d in bundled_definitions() if d.code == "1.012751"}
    v1, v2 = land[1], land[2]
    assert v1.source in RELEASED  # the pre-Decree 151 flow as the previous release shipped it, frozen
    assert v2.effective_from == date(2025, 7, 1)
    assert v2.effective_until == date(2027, 3, 1)  # Decree 151/2025/ND-CP applies until 1 March 2027
    assert v2.is_effective(date(2026, 4, 20)) and not v2.is_effective(date(2025, 6, 30))
    assert not v2.is_effective(date(2027, 3, 1))
    # under Decree 151/2025 the commune sends the financial-obligation information to tax and issues the
    # certificate; the land registration office updates the cadastre
    by_trigger = {t.trigger: t for t in v2.transitions}
    assert v2.step(by_trigger["send_to_tax"].source[0]).holder == "location"
    assert v2.step(by_trigger["issue_certificate"].source[0]).holder == "location"
    assert v2.step(by_trigger["update_cadastre"].source[0]).holder == "competent"
    assert v2.competent_kind == "land_registration_office"


def test_the_docs_list_the_same_table():
    assert render_table(_rows()) in DOCS.read_text(encoding="utf-8")


# what each kind of state is on the national portal (TrangThaiHoSo)
STATUS_OF = {"submitted_online": 1, "online_supplement_requested": 5,
             "received": 2, "not_received": 3, "supplement_requested": 5, "awaiting_payment": 6, "withdrawn": 7,
             "stopped": 8, "refused": 8, "processed": 9, "returned": 10}


@pytest.mark.parametrize("definition", bundled_definitions(), ids=lambda d: f"{d.code}v{d.version}")
def test_every_state_maps_to_the_right_portal_status(definition):
    for s in definition.states:
        expected = STATUS_OF.get(s.name, 4)  # every other state is the agencies working on it
        assert s.portal_status == expected, f"{definition.file}: state {s.name!r} is {s.portal_status}"
        if expected in (5, 6) and s.name != definition.online_initial and s.name != "online_supplement_requested":
            assert s.clock is ClockMode.CITIZEN  # before receipt no limit runs yet: excluded, not paused
        if expected in (3, 7, 8, 10):
            assert s.final


def _validate(*files: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("procflow")
    return subprocess.run([str(exe), "validate", *map(str, files)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "400"})


def test_all_bundled_definitions_and_bundles_pass_procflow_validate():
    folder = ROOT / "src" / "procflow" / "procedures"
    files = sorted(folder.glob("*.toml"))
    bundles = sorted((folder / "bundles").glob("*.toml"))
    result = _validate(*files, *bundles)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("✓") == len(files) + len(bundles) == len(bundled_definitions()) + 2
    assert "bundle 1.011537 v1" in result.stdout and "bundle LT.KS-TT-BHYT v1" in result.stdout


def test_validate_names_a_bad_bundle_key_and_an_unknown_member_procedure(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('code = "B"\nversion = 1\nname_vi = "b"\n[sla]\nworking_days = 3\n[sla.members]\na = -2\n'
                   '[[members]]\nname = "a"\nprocedure = "1.001193"\n', encoding="utf-8")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('code = "U"\nversion = 1\nname_vi = "u"\n[sla]\nworking_days = 3\n'
                       '[[members]]\nname = "a"\nprocedure = "9.999999"\n', encoding="utf-8")
    result = _validate(bad, unknown)
    assert result.returncode == 1
    assert "sla.members.a: a member's limit inside the bundle is 0..365 working days, got -2" in result.stderr
    assert "members[0].procedure: procedure '9.999999' is not registered" in result.stderr
    assert "Traceback" not in result.stderr


BASE = next(d for d in bundled_definitions() if d.code == "1.001193").source


@pytest.mark.parametrize(("new", "message"), [
    ('unconfirmed = ["code"]', "unconfirmed[0]: unknown item 'code'"),
    ('unconfirmed = ["catalogue_code", "catalogue_code"]', "unconfirmed[1]: 'catalogue_code' is listed twice"),
    ('unconfirmed = []\neffective_from = "2025-07-01"', "effective_from: expected a date such as 2025-07-01"),
    ('unconfirmed = []\neffective_from = 2025-07-01\neffective_until = 2025-01-01',
     "effective_until: 2025-01-01 is not after effective_from 2025-07-01"),
    ('unconfirmed = []\ncatalogue_source = " "', "catalogue_source: must not be empty"),
])
def test_new_definition_keys_are_validated_with_file_and_key_path(new, message):
    lines = [line for line in BASE.splitlines()
             if not (line.startswith("catalogue_source") and "catalogue_source" in new)]
    text = "\n".join(lines).replace('unconfirmed = ["catalogue_code"]', new, 1) + "\n"
    with pytest.raises(DefinitionError) as exc:
        parse_definition(text, file="birth.toml")
    assert message in str(exc.value) and "birth.toml" in str(exc.value)
