"""Agencies as records: level, code, names; built from the administrative divisions and the agencies CSV.

Kept apart from the registry's lookups (procflow.jurisdiction) so that code holding an agency — dossiers,
forms, the exchange — does not load the whole map of 3,321 communes to name one.
"""

from __future__ import annotations

import csv
import enum
import importlib.resources
import io
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import attrs

from procflow.errors import UsageError

__all__ = [
    "Agency",
    "Level",
    "Routing",
]


_REQUIRED_COLUMNS = ("code", "name", "level", "kind", "province_code", "synthetic")


_COMMUNE_EN = {"phường": "Ward", "xã": "Commune", "đặc khu": "Special Zone"}


_ENGLISH = {"Hà Nội": "Hanoi"}


class Level(enum.StrEnum):
    MINISTRY = "ministry"
    PROVINCE = "province"
    COMMUNE = "commune"


@attrs.frozen
class Agency:
    """One body that can receive or decide a dossier; the unit of custody in the engine."""

    code: str
    name: str
    level: Level = attrs.field(converter=Level)
    kind: str
    province_code: str | None
    division_code: str | None
    synthetic: bool
    name_en: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


@attrs.frozen
class Routing:
    """Where a dossier came in and who decides it; they differ for location-independent filing."""

    receiving: Agency
    competent: Agency
    location: Agency
    location_independent: bool


def _ascii(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _fold(text: str) -> str:
    """Diacritics-, case- and punctuation-insensitive form, so "Cần Thơ", "can-tho" and "CAN THO" meet."""
    return " ".join(re.findall(r"[0-9a-z]+", _ascii(text).casefold()))


def _province_agency(p: Mapping[str, Any]) -> Agency:
    pp = f"{p['code']:02d}"
    if p["division_type"] == "tỉnh":
        name, name_en = f"tỉnh {p['name']}", f"{_ascii(p['name'])} Province"
    else:  # thành phố trung ương: the package spells the name "Thành phố Cần Thơ"
        bare = p["name"].removeprefix("Thành phố ")
        name, name_en = f"thành phố {bare}", f"{_ENGLISH.get(bare, _ascii(bare))} City"
    return Agency(
        code=f"999.00.00.H{pp}",
        name=f"Ủy ban nhân dân {name}",
        name_en=f"{name_en} People's Committee",
        level=Level.PROVINCE,
        kind="province",
        province_code=pp,
        division_code=pp,
        synthetic=True,
    )


def _commune_agency(w: Mapping[str, Any], pp: str) -> Agency:
    dc = f"{w['code']:05d}"
    dtype: str = w["division_type"]
    bare = w["name"][len(dtype) + 1 :] if _fold(w["name"]).startswith(_fold(dtype)) else w["name"]
    return Agency(
        code=f"{dc[:3]}.{dc[3:]}.99.H{pp}",
        name=f"Ủy ban nhân dân {dtype} {bare}",
        name_en=f"{_ascii(bare)} {_COMMUNE_EN.get(dtype, 'Commune')} People's Committee",
        level=Level.COMMUNE,
        kind="commune",
        province_code=pp,
        division_code=dc,
        synthetic=True,
    )


def _load_divisions() -> tuple[list[dict[str, Any]], str]:
    """The nested province → wards JSON the package ships (faster than importing its lookup module)."""
    import vietnam_provinces as vp  # deferred: importing it costs ~40 ms, not every procflow user needs it

    data = json.loads(vp.NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    return data, str(getattr(vp, "__data_version__", vp.__version__))


def _default_rows() -> list[dict[str, str]]:
    text = (importlib.resources.files("procflow") / "data" / "agencies.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _parse_row(
    row: Mapping[str, str], provinces: Mapping[str, Agency], communes: Mapping[str, Agency]
) -> tuple[Agency, str | None]:
    """One CSV row → an agency (and a ministry's short name); ValueError says what is wrong."""
    missing = [c for c in _REQUIRED_COLUMNS if row.get(c) is None]
    if missing:
        raise UsageError(f"missing column(s) {', '.join(missing)}")
    code, kind = row["code"].strip().upper(), row["kind"].strip()
    if not re.fullmatch(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}", code):
        raise UsageError(f"code {row['code']!r} is not shaped like 000.00.00.H92")
    try:
        level = Level(row["level"].strip())
    except ValueError:
        raise UsageError(f"level {row['level']!r} is not one of {', '.join(Level)}") from None
    synthetic = row["synthetic"].strip().lower()
    if synthetic not in ("true", "false"):
        raise UsageError(f"synthetic must be true or false, not {row['synthetic']!r}")
    pc = row["province_code"].strip() or None
    if pc is not None:
        pc = f"{int(pc):02d}" if pc.isdigit() else pc
        if pc not in provinces:
            raise UsageError(f"province_code {pc!r} is not one of the {len(provinces)} provinces")
    short = None
    if kind.startswith("ministry:"):
        short, kind = kind.removeprefix("ministry:"), "ministry"
        if level is not Level.MINISTRY or pc is not None or not short:
            raise UsageError("a ministry:<short> row needs level ministry and no province_code")
    elif level is Level.MINISTRY:
        raise UsageError(f"level ministry needs kind ministry:<short>, not {kind!r}")
    elif pc is None:
        raise UsageError(f"a {level} agency needs a province_code")
    elif not re.fullmatch(r"[a-z][a-z0-9_]*", kind):
        raise UsageError(f"kind {kind!r} must be a lower_snake_case name")
    if kind in ("province", "commune") and level != kind:
        raise UsageError(f"kind {kind} needs level {kind}")
    dc = (row.get("division_code") or "").strip() or None
    if level is Level.COMMUNE:
        if dc is None or not dc.isdigit() or f"{int(dc):05d}" not in communes:
            raise UsageError(f"a commune-level row needs the division_code of an existing ward, not {dc!r}")
        dc = f"{int(dc):05d}"
        if communes[dc].province_code != pc:
            raise UsageError(f"ward {dc} is not in province {pc}")
    elif level is Level.PROVINCE:
        dc = pc
    agency = Agency(
        code=code,
        name=row["name"].strip(),
        name_en=(row.get("name_en") or "").strip(),
        level=level,
        kind=kind,
        province_code=pc,
        division_code=dc,
        synthetic=synthetic == "true",
    )
    return agency, short

