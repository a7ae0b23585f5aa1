"""Jurisdiction: divisions from vietnam-provinces, the shipped agencies table, resolution and routing."""

from __future__ import annotations

import csv
import importlib.resources
import io
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vietnam_provinces import Province, Ward

from procflow.agency import Agency, Level
from procflow.errors import JurisdictionError, UnknownAgency
from procflow.jurisdiction import Registry

CAN_THO = "92"
NINH_KIEU = "31135"  # Phường Ninh Kiều, Cần Thơ
CAI_KHE = "31120"  # Phường Cái Khế, Cần Thơ
HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội
REQUIRED_KINDS = {
    "police",
    "social_insurance",
    "tax",
    "land_registration_office",
    "land_registration_branch",
    "department_justice",
    "department_agriculture_environment",
    "department_finance",
}
REQUIRED_MINISTRIES = {
    "public_security",
    "justice",
    "agriculture_environment",
    "finance",
    "home_affairs",
    "health",
    "social_security",
}
# Ward codes straight from the package, not from the registry, so the property below cross-checks them.
WARD_CODES = sorted(f"{int(w.code):05d}" for w in Ward.iter_all())


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.default()


def _csv_rows() -> list[dict[str, str]]:
    text = (importlib.resources.files("procflow") / "data" / "agencies.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# -- divisions -----------------------------------------------------------------------------------------


def test_34_provinces(registry: Registry) -> None:
    provinces = registry.provinces()
    assert len(provinces) == 34
    assert {p.province_code for p in provinces} == {f"{int(p.code):02d}" for p in Province.iter_all()}
    assert all(p.level is Level.PROVINCE and p.kind == "province" for p in provinces)
    assert [p.province_code for p in provinces] == sorted(p.province_code or "" for p in provinces)


def test_3321_communes(registry: Registry) -> None:
    communes = [a for a in registry if a.kind == "commune"]
    assert len(communes) == 3321 == len(WARD_CODES)
    assert sum(len(registry.communes_of(p.province_code or "")) for p in registry.provinces()) == 3321
    assert all(c.level is Level.COMMUNE for c in communes)


def test_can_tho_has_103_communes_sorted(registry: Registry) -> None:
    communes = registry.communes_of("Cần Thơ")
    assert len(communes) == 103
    codes = [c.division_code for c in communes]
    assert codes == sorted(codes)
    assert {c.province_code for c in communes} == {CAN_THO}


@pytest.mark.parametrize(
    "query",
    [
        "92",
        "092",
        "Cần Thơ",
        "Can Tho",
        "can-tho",
        "CẦN THƠ",
        "can_tho",
        "Thành phố Cần Thơ",
        "TP. Cần Thơ",
        "Can Tho City",
        unicodedata.normalize("NFD", "Cần Thơ"),  # decomposed input, as some keyboards produce
        "999.00.00.H92",
    ],
)
def test_can_tho_lookup(registry: Registry, query: str) -> None:
    ct = registry.province(query)
    assert ct.province_code == CAN_THO
    assert ct.name == "Ủy ban nhân dân thành phố Cần Thơ"


def test_commune_by_code_and_agency_code(registry: Registry) -> None:
    nk = registry.commune(NINH_KIEU)
    assert nk.name == "Ủy ban nhân dân phường Ninh Kiều"
    assert (nk.province_code, nk.division_code, nk.kind) == (CAN_THO, NINH_KIEU, "commune")
    assert registry.commune(nk.code) is nk
    assert registry.commune("70") is registry.commune(HOAN_KIEM)
    assert registry.province_of(nk) is registry.province(CAN_THO)
    assert registry.province_of(NINH_KIEU) is registry.province(CAN_THO)


def test_unknown_commune_code_names_the_code_and_helps(registry: Registry) -> None:
    with pytest.raises(UnknownAgency) as info:
        registry.commune("31117")  # in the gap between An Giang (…31108) and Cần Thơ (31120…)
    err = info.value
    assert (err.code, err.kind) == ("31117", "commune")
    assert isinstance(err, JurisdictionError) and isinstance(err, LookupError)
    message = str(err)
    assert "'31117'" in message
    assert "2025-07-01" in message
    assert "31108" in message and "31120" in message and "Cần Thơ" in message


def test_unknown_commune_name_suggests_codes(registry: Registry) -> None:
    with pytest.raises(UnknownAgency, match=NINH_KIEU):
        registry.commune("Ninh Kieu")


def test_commune_rejects_a_non_commune_agency_code(registry: Registry) -> None:
    with pytest.raises(UnknownAgency, match="not a commune"):
        registry.commune("999.00.00.H92")


def test_merged_province_name_says_where_it_went(registry: Registry) -> None:
    with pytest.raises(UnknownAgency, match=r"merged into thành phố Cần Thơ \(92\)"):
        registry.province("Hậu Giang")


def test_unknown_agency_code(registry: Registry) -> None:
    with pytest.raises(UnknownAgency, match=re.escape("'999.00.00.H93'")):
        registry.agency("999.00.00.H93")


# -- codes ---------------------------------------------------------------------------------------------


def test_codes_are_pinned() -> None:
    """The derivation is a public promise: users store these codes, so they must never drift."""
    reg = Registry.default()
    assert reg.province(CAN_THO).code == "999.00.00.H92"
    assert reg.commune(NINH_KIEU).code == "311.35.99.H92"
    assert reg.commune(HOAN_KIEM).code == "000.70.99.H01"
    assert reg.resolve("police", NINH_KIEU).code == "999.92.00.G01"
    assert reg.resolve("department_justice", NINH_KIEU).code == "999.00.15.H92"
    assert reg.resolve("ministry:justice", NINH_KIEU).code == "000.00.00.G15"


@given(st.sampled_from(WARD_CODES))
def test_commune_code_round_trips(ward: str) -> None:
    reg = Registry.default()
    commune = reg.commune(ward)
    assert reg.agency(commune.code) == commune
    assert reg.commune(commune.code) is commune
    assert commune.division_code == ward
    assert commune.code == f"{ward[:3]}.{ward[3:]}.99.H{commune.province_code}"
    assert commune.synthetic


def test_all_codes_unique_and_well_formed(registry: Registry) -> None:
    codes = [a.code for a in registry]
    assert len(codes) == len(set(codes)) == len(registry)
    assert all(re.fullmatch(r"\d{3}\.\d{2}\.\d{2}\.[GH]\d{2}", c) for c in codes)


def test_rebuild_gives_identical_agencies(registry: Registry) -> None:
    rebuilt = Registry.build(list(reversed(_csv_rows())))
    assert {a.code: a for a in rebuilt} == {a.code: a for a in registry}


# -- the shipped agencies table ------------------------------------------------------------------------


def test_agencies_csv_shape() -> None:
    rows = _csv_rows()
    assert list(rows[0]) == ["code", "name", "name_en", "level", "kind", "province_code", "synthetic"]
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))
    provinces = {f"{int(p.code):02d}" for p in Province.iter_all()}
    by_province: dict[str, set[str]] = {p: set() for p in provinces}
    for r in rows:
        assert r["synthetic"] in ("true", "false")
        if r["level"] == "ministry":
            assert r["province_code"] == ""
        else:
            assert r["province_code"] in provinces
            by_province[r["province_code"]].add(r["kind"])
            pp = r["province_code"]  # synthetic codes are derived from the province code, never from order
            assert r["code"].startswith("999.")
            assert r["code"].endswith(f".H{pp}") or r["code"].split(".")[1] == pp
    missing = {p: REQUIRED_KINDS - kinds for p, kinds in by_province.items() if REQUIRED_KINDS - kinds}
    assert not missing
    shorts = {r["kind"].removeprefix("ministry:") for r in rows if r["level"] == "ministry"}
    assert REQUIRED_MINISTRIES <= shorts


def test_bad_rows_are_all_reported_with_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "agencies.csv"
    path.write_text(
        "code,name,name_en,level,kind,province_code,synthetic\n"
        "000.00.15.H92,Sở Tư pháp,,province,department_justice,92,false\n"
        "bad-code,X,,province,police,92,true\n"
        "000.93.00.G01,Công an,,province,police,93,true\n"
        "000.00.00.G15,Bộ Tư pháp,,ministry,ministry:justice,,maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(JurisdictionError) as info:
        Registry.from_csv(path)
    message = str(info.value)
    assert "3 bad agency row(s)" in message
    assert f"{path}:3:" in message and f"{path}:4:" in message and f"{path}:5:" in message


def test_user_table_replaces_synthetic_codes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "agencies.csv"
    path.write_text(
        "code,name,name_en,level,kind,province_code,synthetic,division_code\n"
        "000.00.00.H14,UBND thành phố Cần Thơ,,province,province,92,false,\n"  # H14: Sơn La's pp
        "000.01.00.H14,UBND phường Ninh Kiều,,commune,commune,92,false,31135\n",
        encoding="utf-8",
    )
    reg = Registry.from_csv(path)
    ct = reg.province("Cần Thơ")  # still found by the division's name
    assert (ct.code, ct.synthetic) == ("000.00.00.H14", False)
    assert reg.commune(NINH_KIEU).code == "000.01.00.H14"
    assert reg.agency("000.01.00.H14").division_code == NINH_KIEU
    assert len(reg.communes_of(CAN_THO)) == 103


# -- resolution ----------------------------------------------------------------------------------------


def test_kinds_cover_the_required_ones(registry: Registry) -> None:
    kinds = registry.kinds()
    assert REQUIRED_KINDS | {"commune", "province"} <= kinds
    assert {f"ministry:{m}" for m in REQUIRED_MINISTRIES} <= kinds


@pytest.mark.parametrize("kind", sorted(Registry.default().kinds()))
def test_resolve_each_kind(registry: Registry, kind: str) -> None:
    agency = registry.resolve(kind, NINH_KIEU)
    if kind == "commune":
        assert agency is registry.commune(NINH_KIEU)
    elif kind.startswith("ministry:"):
        assert agency.level is Level.MINISTRY and agency.province_code is None
    else:
        assert agency.kind == kind
        assert agency.level is Level.PROVINCE and agency.province_code == CAN_THO


def test_resolve_differs_by_province(registry: Registry) -> None:
    assert registry.resolve("police", HOAN_KIEM).province_code == "01"
    assert registry.resolve("police", HOAN_KIEM) != registry.resolve("police", NINH_KIEU)
    assert registry.resolve("ministry:public_security", HOAN_KIEM) is registry.resolve(
        "ministry:public_security", NINH_KIEU
    )


def test_resolve_unknown_kind_names_it_and_the_known_kinds(registry: Registry) -> None:
    with pytest.raises(JurisdictionError) as info:
        registry.resolve("polise", NINH_KIEU)
    assert not isinstance(info.value, UnknownAgency)
    assert "'polise'" in str(info.value) and "department_justice" in str(info.value)
    assert "did you mean police" in str(info.value)


def test_resolve_unknown_location(registry: Registry) -> None:
    with pytest.raises(UnknownAgency, match="'31117'"):
        registry.resolve("police", "31117")


def test_branch_falls_back_to_the_office() -> None:
    rows = [r for r in _csv_rows() if not (r["kind"] == "land_registration_branch" and r["province_code"] == "92")]
    reg = Registry.build(rows)
    assert reg.resolve("land_registration_branch", NINH_KIEU).kind == "land_registration_office"
    assert reg.resolve("land_registration_branch", HOAN_KIEM).kind == "land_registration_branch"


def test_missing_sector_agency_is_a_clear_error() -> None:
    reg = Registry.build([r for r in _csv_rows() if not (r["kind"] == "tax" and r["province_code"] == "92")])
    with pytest.raises(JurisdictionError, match="no agency of kind 'tax'"):
        reg.resolve("tax", NINH_KIEU)


# -- routing -------------------------------------------------------------------------------------------


def test_route_at_the_home_commune_is_not_location_independent(registry: Registry) -> None:
    routing = registry.route(filed_at=NINH_KIEU, location=NINH_KIEU, competent_kind="commune")
    assert routing.receiving is routing.competent is routing.location
    assert not routing.location_independent


def test_route_within_the_province(registry: Registry) -> None:
    routing = registry.route(filed_at=CAI_KHE, location=NINH_KIEU, competent_kind="commune")
    assert routing.location_independent
    assert routing.receiving.division_code == CAI_KHE
    assert routing.competent.division_code == NINH_KIEU == routing.location.division_code


def test_route_across_provinces(registry: Registry) -> None:
    routing = registry.route(filed_at=HOAN_KIEM, location=NINH_KIEU, competent_kind="land_registration_branch")
    assert routing.location_independent
    assert routing.receiving.province_code == "01"
    assert routing.competent.province_code == CAN_THO
    assert routing.competent.kind == "land_registration_branch"


def test_route_accepts_agency_codes_and_provincial_receivers(registry: Registry) -> None:
    nk = registry.commune(NINH_KIEU)
    routing = registry.route(filed_at=nk.code, location=nk.code, competent_kind="police")
    assert not routing.location_independent and routing.competent.kind == "police"
    centre = registry.province(CAN_THO).code  # a provincial service centre
    assert not registry.route(filed_at=centre, location=NINH_KIEU, competent_kind="tax").location_independent
    assert registry.route(filed_at=centre, location=HOAN_KIEM, competent_kind="tax").location_independent


def test_route_unknown_kind(registry: Registry) -> None:
    with pytest.raises(JurisdictionError, match="unknown agency kind"):
        registry.route(filed_at=NINH_KIEU, location=NINH_KIEU, competent_kind="nope")


# -- search and the rest -------------------------------------------------------------------------------


def test_find_ignores_diacritics(registry: Registry) -> None:
    assert [a.division_code for a in registry.find("ninh kieu")] == [NINH_KIEU]
    assert registry.find("bo tu phap")[0].code == "000.00.00.G15"
    assert registry.find("Ministry of Justice")[0].code == "000.00.00.G15"
    assert registry.find("   ") == []


def test_sector_agencies_and_ministries(registry: Registry) -> None:
    sector = registry.sector_agencies("Cần Thơ")
    assert REQUIRED_KINDS <= {a.kind for a in sector}
    assert all(a.province_code == CAN_THO and a.kind not in ("province", "commune") for a in sector)
    ministries = registry.ministries()
    assert all(m.level is Level.MINISTRY and m.kind == "ministry" for m in ministries)
    with pytest.raises(JurisdictionError, match="no province"):
        registry.province_of(ministries[0])


def test_agency_level_accepts_strings() -> None:
    a = Agency(
        code="000.00.00.H92",
        name="x",
        level="province",  # type: ignore[arg-type]
        kind="province",
        province_code="92",
        division_code="92",
        synthetic=True,
    )
    assert a.level is Level.PROVINCE
