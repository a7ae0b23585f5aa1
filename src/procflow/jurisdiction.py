"""Who is competent where, after the two-level local government reform of 2025-07-01.

Provinces (34) and communes/wards (3,321) are read from the ``vietnam-provinces`` package when a
:class:`Registry` is built, never copied here, so a data update there reaches procflow without a release.
Sector agencies (police, social insurance, tax, land registration, departments) and ministries are not
administrative divisions; they come from the shipped ``data/agencies.csv``, which users copy and edit
(:meth:`Registry.from_csv`) to put in their real agency codes.

Agency codes follow the mã định danh shape of Decision 20/2020/QĐ-TTg (``000.00.00.H29``: level-4 to
level-1 segments, provinces carry an H segment, ministries a G segment). The ministry G codes in the CSV are
the published ones (``synthetic=false``; Agriculture and Environment keeps the G10 of the ministry it grew
from). Every other code is made up by procflow (``synthetic=true``), derived only from GSO division codes
(the same on every run and release), and kept out of the ranges real tables use (level-4 ``999``, or
level-2 ``99`` for communes), so real codes a user types in do not collide with the synthetic ones left:

====================================  ===========================  =================================
province People's Committee           ``999.00.00.H{pp}``          pp = province code (``92``)
province department (Sở)              ``999.00.{mm}.H{pp}``        mm = its ministry's G number
land registration office / branch     ``999.01.10.H{pp}`` / ``999.11.10.H{pp}``
central-sector unit in a province     ``999.{pp}.{uu}.G{mm}``      police ``00.G01``, tax ``18.G12``
commune People's Committee            ``{www}.{ww}.99.H{pp}``      wwwww = ward code (``311.35``)
====================================  ===========================  =================================

CSV rows of kind ``province`` (keyed by ``province_code``) or ``commune`` (optional ``division_code``
column) replace the derived People's Committee rows, which is how real codes are brought in.
Ministries are rows of kind ``ministry:<short>``; the agency's ``kind`` is then ``"ministry"`` and
``resolve("ministry:<short>", ...)`` finds it.
"""

from __future__ import annotations

import bisect
import csv
import difflib
import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from procflow.agency import (
    Agency,
    Level,
    Routing,
    _commune_agency,
    _default_rows,
    _fold,
    _load_divisions,
    _parse_row,
    _province_agency,
)
from procflow.errors import JurisdictionError, UnknownAgency

__all__ = [
    "Registry",
]

_REFORM_DATE = "2025-07-01"
_LEVEL_ORDER = {"ministry": 0, "province": 1, "commune": 2}
_PROVINCE_ALIASES = {"hanoi": "01", "hcm": "79", "tphcm": "79", "tp hcm": "79"}
# Resolution 202/2025/QH15: the 29 pre-reform provinces merged into one of the 34, by folded name.
_MERGED_INTO = {
    "ha giang": "08", "yen bai": "15", "bac kan": "19", "vinh phuc": "25", "hoa binh": "25",
    "bac giang": "24", "thai binh": "33", "hai duong": "31", "ha nam": "37", "nam dinh": "37",
    "quang binh": "44", "quang nam": "48", "kon tum": "51", "binh dinh": "52", "ninh thuan": "56",
    "dak nong": "68", "binh thuan": "68", "phu yen": "66", "binh duong": "79", "ba ria vung tau": "79",
    "binh phuoc": "75", "long an": "80", "soc trang": "92", "hau giang": "92", "ben tre": "86",
    "tra vinh": "86", "tien giang": "82", "bac lieu": "96", "kien giang": "91",
}  # fmt: skip


def _place(a: Agency) -> str:
    """The division an agency is named after, for messages ("phường Ninh Kiều")."""
    return a.name.removeprefix("Ủy ban nhân dân ")


class Registry:
    """Every agency procflow knows, with the lookups the engine, simulator and CLI need.

    Immutable once built: share one instance between threads (``Registry.default()`` is cached).
    """

    def __init__(
        self,
        agencies: Iterable[Agency],
        *,
        ministry_shorts: Mapping[str, str] | None = None,
        province_names: Mapping[str, str] | None = None,
        data_version: str = "",
    ) -> None:
        self.data_version = data_version
        self._all: tuple[Agency, ...] = tuple(agencies)
        self._by_code: dict[str, Agency] = {}
        duplicates: set[str] = set()
        for a in self._all:
            if self._by_code.setdefault(a.code, a) is not a:
                duplicates.add(a.code)
        if duplicates:
            raise JurisdictionError(f"duplicate agency codes: {', '.join(sorted(duplicates))}")
        self._provinces = {a.province_code: a for a in self._all if a.kind == "province" and a.province_code}
        self._communes = {a.division_code: a for a in self._all if a.kind == "commune" and a.division_code}
        self._communes_of: dict[str, list[Agency]] = defaultdict(list)
        self._sector_of: dict[str, list[Agency]] = defaultdict(list)
        self._at: dict[tuple[str, str], list[Agency]] = defaultdict(list)
        for a in sorted(self._all, key=lambda a: (a.division_code or "", a.code)):
            if a.kind == "commune":
                self._communes_of[a.province_code or ""].append(a)
            elif a.level is not Level.MINISTRY and a.kind != "province":
                self._sector_of[a.province_code or ""].append(a)
                self._at[(a.division_code or a.province_code or "", a.kind)].append(a)
        self._ministries = {short: self._by_code[code] for short, code in (ministry_shorts or {}).items()}
        sector = {kind for _, kind in self._at}
        if "land_registration_office" in sector:
            sector.add("land_registration_branch")  # resolvable through the office fallback
        self._kinds = frozenset({"commune", "province", *sector, *(f"ministry:{s}" for s in self._ministries)})
        self._ward_ints = sorted(int(dc) for dc in self._communes)
        self._province_keys: dict[str, str] = dict(_PROVINCE_ALIASES)
        names = [(pc, a.name) for pc, a in self._provinces.items()] + list((province_names or {}).items())
        for pc, name in names:
            folded = re.sub(r"^(uy ban nhan dan )?(tinh|thanh pho) ", "", _fold(name))
            keys = [_fold(name), _fold(self._provinces[pc].name_en)]
            keys += [t.format(folded) for t in ("{}", "tinh {}", "thanh pho {}", "tp {}", "{} province", "{} city")]
            for key in keys:
                self._province_keys.setdefault(key, pc)
        self._haystack = [(f"{_fold(a.name)} | {_fold(a.name_en)}", a) for a in self._all]

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def default(cls) -> Registry:
        """The registry from the installed ``vietnam-provinces`` data and the shipped agencies table."""
        return _default_registry()

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> Registry:
        """Build from a user's agencies table (a copy of ``procflow/data/agencies.csv`` with real codes)."""
        with open(path, encoding="utf-8", newline="") as f:
            return cls.build(csv.DictReader(f), source=os.fspath(path))

    @classmethod
    def build(cls, rows: Iterable[Mapping[str, str]], *, source: str = "<rows>") -> Registry:
        """Divisions from ``vietnam-provinces`` plus these agency rows; every bad row is reported at once."""
        divisions, version = _load_divisions()
        provinces: dict[str, Agency] = {}
        communes: dict[str, Agency] = {}
        names: dict[str, str] = {}  # division names stay searchable when a user renames the agency
        for p in divisions:
            pa = _province_agency(p)
            provinces[pa.division_code or ""] = pa
            names[pa.division_code or ""] = p["name"]
            for w in p["wards"]:
                ca = _commune_agency(w, pa.province_code or "")
                communes[ca.division_code or ""] = ca
        others: list[Agency] = []
        shorts: dict[str, str] = {}
        problems: list[str] = []
        for line, row in enumerate(rows, start=2):
            try:
                agency, short = _parse_row(row, provinces, communes)
            except ValueError as exc:
                problems.append(f"{source}:{line}: {exc}")
                continue
            if agency.kind == "province":
                provinces[agency.province_code or ""] = agency
            elif agency.kind == "commune":
                communes[agency.division_code or ""] = agency
            else:
                others.append(agency)
            if short in shorts:
                problems.append(f"{source}:{line}: ministry short name {short!r} used twice")
            elif short:
                shorts[short] = agency.code
        if problems:
            raise JurisdictionError(f"{len(problems)} bad agency row(s):\n  " + "\n  ".join(problems))
        central = [a for a in others if a.level is Level.MINISTRY]
        local = [a for a in others if a.level is not Level.MINISTRY]
        agencies = [*central, *provinces.values(), *local, *communes.values()]
        return cls(agencies, ministry_shorts=shorts, province_names=names, data_version=version)

    # -- lookups -------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Agency]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def kinds(self) -> frozenset[str]:
        """Every kind :meth:`resolve` accepts (sector kinds, ``ministry:<short>``, commune, province)."""
        return self._kinds

    def agency(self, code: str) -> Agency:
        found = self._by_code.get(str(code).strip().upper())
        if found is not None:
            return found
        key = str(code).strip()
        if key.isdigit():
            hint = "that looks like a division code: use commune() or province()"
        else:
            hint = "agency codes look like 000.00.00.H29; synthetic ones 999.00.00.H92 or 311.35.99.H92"
        raise UnknownAgency(key, kind="agency", hint=hint)

    def commune(self, code: str) -> Agency:
        """By ward division code (``"31135"``, leading zeros optional) or by the commune's agency code."""
        key = str(code).strip()
        if key.isdigit() and len(key) <= 5:
            found = self._communes.get(f"{int(key):05d}")
        else:
            found = self._by_code.get(key.upper())
        if found is not None and found.kind == "commune":
            return found
        raise UnknownAgency(key, kind="commune", hint=self._commune_hint(key))

    def province(self, code_or_name: str) -> Agency:
        """By province code (``"92"``), the People's Committee's agency code, or name in any spelling."""
        key = str(code_or_name).strip()
        pc = f"{int(key):02d}" if key.isdigit() and len(key) <= 3 else self._province_keys.get(_fold(key))
        if pc is None and key.upper() in self._by_code and self._by_code[key.upper()].kind == "province":
            pc = self._by_code[key.upper()].province_code
        if pc is not None and pc in self._provinces:
            return self._provinces[pc]
        raise UnknownAgency(key, kind="province", hint=self._province_hint(key))

    def provinces(self) -> list[Agency]:
        return [self._provinces[pc] for pc in sorted(self._provinces)]

    def communes_of(self, province: str) -> list[Agency]:
        """All communes, wards and special zones of a province, sorted by division code."""
        return list(self._communes_of[self.province(province).province_code or ""])

    def sector_agencies(self, province: str) -> list[Agency]:
        """The province's agencies other than People's Committees, sorted by division code, then code."""
        return list(self._sector_of[self.province(province).province_code or ""])

    def ministries(self) -> list[Agency]:
        return sorted((a for a in self._all if a.level is Level.MINISTRY), key=lambda a: a.code)

    def find(self, name: str) -> list[Agency]:
        """Agencies whose Vietnamese or English name contains ``name``, ignoring diacritics and case."""
        needle = _fold(name)
        if not needle:
            return []
        hits = [a for hay, a in self._haystack if needle in hay]
        return sorted(hits, key=lambda a: (_LEVEL_ORDER[a.level], a.division_code or "", a.code))

    def province_of(self, agency: Agency | str) -> Agency:
        """The province an agency (or agency / commune / province code) belongs to."""
        if isinstance(agency, str):
            key = agency.strip()
            if key.upper() in self._by_code:
                agency = self._by_code[key.upper()]
            elif key.isdigit() and len(key) > 3:
                agency = self.commune(key)
            else:
                agency = self.province(key)
        if agency.province_code is None or agency.province_code not in self._provinces:
            raise JurisdictionError(f"{agency} is a central agency ({agency.level}); it has no province")
        return self._provinces[agency.province_code]

    # -- competence ----------------------------------------------------------------------------------

    def resolve(self, kind: str, location: str) -> Agency:
        """The agency of ``kind`` competent for the commune ``location`` (a ward or commune agency code)."""
        self._check_kind(kind)
        return self._resolve_at(kind, self.commune(location))

    def _check_kind(self, kind: str) -> None:
        if kind not in self._kinds:
            close = difflib.get_close_matches(kind, self._kinds, n=3)
            maybe = f" (did you mean {', '.join(close)}?)" if close else ""
            raise JurisdictionError(
                f"unknown agency kind {kind!r}{maybe}; known kinds: {', '.join(sorted(self._kinds))}"
            )

    def _resolve_at(self, kind: str, place: Agency) -> Agency:
        if kind == "commune":
            return place
        if kind == "province":
            return self._provinces[place.province_code or ""]
        if kind.startswith("ministry:"):
            return self._ministries[kind.removeprefix("ministry:")]
        # a commune-level unit of that kind wins over the province's (user tables may add them)
        found = self._at.get((place.division_code or "", kind)) or self._at.get((place.province_code or "", kind))
        if found:
            return found[0]  # several (e.g. land branches): the lowest code, until tables say who serves where
        if kind == "land_registration_branch":
            return self._resolve_at("land_registration_office", place)
        province = self._provinces[place.province_code or ""]
        raise JurisdictionError(f"no agency of kind {kind!r} in {province}; add one to the agencies table")

    def route(self, *, filed_at: str, location: str, competent_kind: str) -> Routing:
        """Route a dossier filed at ``filed_at`` about a subject in commune ``location``.

        Location-independent filing (phi địa giới hành chính) lets a citizen file at any commune, even in
        another province: the competent agency is still the one for ``location``, and the receiving
        commune stays the point of contact (đầu mối) that returns the result. A province-level receiving
        agency (a provincial service centre) counts as location-independent only for another province.
        """
        self._check_kind(competent_kind)
        place = self.commune(location)
        key = str(filed_at).strip()
        receiving = self.commune(key) if key.isdigit() else self.agency(key)
        competent = self._resolve_at(competent_kind, place)
        if receiving.level is Level.COMMUNE:
            independent = receiving.division_code != place.division_code
        else:
            independent = receiving.province_code not in (None, place.province_code)
        return Routing(receiving=receiving, competent=competent, location=place, location_independent=independent)

    # -- hints ---------------------------------------------------------------------------------------

    def _commune_hint(self, key: str) -> str:
        if key.isdigit():
            if len(key) > 5:
                return "ward codes have at most 5 digits, e.g. '31135'"
            n = int(key)
            i = bisect.bisect_left(self._ward_ints, n)
            near = [self._communes[f"{c:05d}"] for c in self._ward_ints[max(i - 1, 0) : i + 1]]
            where = ", ".join(self._where(a) for a in near)
            hint = (
                f"not a ward code since the two-level reform of {_REFORM_DATE} "
                f"(vietnam-provinces data {self.data_version}); nearest existing codes: {where}"
            )
            if len({a.province_code for a in near}) == 1 and len(near) == 2:
                hint += f"; codes around it belong to {_place(self._provinces[near[0].province_code or ''])}"
            if len(key) <= 2 and f"{n:02d}" in self._provinces:
                hint += f"; '{key}' is the province code of {_place(self._provinces[f'{n:02d}'])}: use province()"
            return hint
        other = self._by_code.get(key.upper())
        if other is not None:
            return f"that code is {other}, a {other.kind} agency, not a commune"
        needle = _fold(key)
        named = [a for a in self._communes.values() if needle and needle in _fold(a.name)][:5]
        if named:
            return "commune() takes codes; communes with that name: " + ", ".join(map(self._where, named))
        return "expected a 5-digit ward code such as '31135' or a commune agency code such as '311.35.99.H92'"

    def _where(self, a: Agency) -> str:
        return f"{a.division_code} ({_place(a)}, {_place(self._provinces[a.province_code or ''])})"

    def _province_hint(self, key: str) -> str:
        other = self._by_code.get(key.upper())
        if other is not None:
            return f"that code is {other}; use province_of() for the province of any agency"
        if key.isdigit():
            return f"the {len(self._provinces)} provinces since {_REFORM_DATE} have codes " + ", ".join(
                sorted(self._provinces)
            )
        folded = re.sub(r"^(tinh|thanh pho|tp) ", "", _fold(key))
        if folded in _MERGED_INTO and _MERGED_INTO[folded] in self._provinces:
            into = self._provinces[_MERGED_INTO[folded]]
            return f"merged into {_place(into)} ({into.province_code}) on {_REFORM_DATE}"
        close = difflib.get_close_matches(folded, self._province_keys, n=1, cutoff=0.75)
        if close:
            return f"did you mean {_place(self._provinces[self._province_keys[close[0]]])}?"
        return (
            f"{len(self._provinces)} provinces remain after the merger of {_REFORM_DATE}; a pre-reform "
            "province name is not one of them: look up one of its communes with find()"
        )


@functools.cache
def _default_registry() -> Registry:
    return Registry.build(_default_rows(), source="procflow/data/agencies.csv")
