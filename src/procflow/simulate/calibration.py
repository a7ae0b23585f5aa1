"""How much a province files, per procedure, from published statistics (``simulate/data/calibration.toml``).

The simulator used to file a flat number of dossiers per commune per day with a fixed procedure mix, which
gave Cần Thơ five times the births it has. Here every volume is derived from a cited figure (population and
crude birth and death rates for civil status, a rate per person or a fixed number for the rest), so a run
files what the province files, and ``--rate`` scales all of it. The data file marks what could not be
confirmed; replace those numbers with the province's own statistics.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import attrs

from procflow.agency import Agency
from procflow.errors import ProcflowError

__all__ = [
    "Calibration",
    "Volume",
    "calibration_for",
    "commune_weights",
    "daily_rate",
    "load_calibration",
    "working_day_online_share",
]


@attrs.frozen
class Volume:
    """One procedure's (or bundle's) yearly volume in the province, with where the number comes from."""

    code: str
    annual: float
    what: str = ""
    source: str = ""
    unconfirmed: bool = True


@attrs.frozen
class Calibration:
    """A province's yearly demand: the volumes, the figures they come from, and the online share."""

    province_code: str
    name: str
    population: int
    volumes: tuple[Volume, ...]
    online_share: float
    figures: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)

    @property
    def births_per_year(self) -> float:
        return self.population * float(self.figures["crude_birth_rate"]["value"])

    @property
    def deaths_per_year(self) -> float:
        return self.population * float(self.figures["crude_death_rate"]["value"])

    def annual(self) -> dict[str, float]:
        return {v.code: v.annual for v in self.volumes}

    def to_dict(self) -> dict[str, Any]:
        return {"province_code": self.province_code, "name": self.name, "population": self.population,
                "births_per_year": round(self.births_per_year), "deaths_per_year": round(self.deaths_per_year),
                "online_share": self.online_share,
                "volumes": [attrs.asdict(v) for v in self.volumes],
                "figures": {k: dict(v) for k, v in self.figures.items()}}


@cache
def load_calibration() -> dict[str, Any]:
    """The shipped calibration data (parsed once)."""
    text = resources.files("procflow.simulate").joinpath("data/calibration.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _volume(row: Mapping[str, Any], figures: Mapping[str, Mapping[str, Any]], population: int) -> Volume:
    per = row.get("per", "fixed")
    births = population * float(figures["crude_birth_rate"]["value"])
    bundle_share = float(figures["bundle_share_of_births"]["value"])
    if per == "births":
        share = bundle_share if row.get("share") == "bundle" else 1.0 - bundle_share
        annual = births * share
    elif per == "deaths":
        deaths = population * float(figures["crude_death_rate"]["value"])
        share = float(figures.get("bundle_share_of_deaths", {}).get("value", 0.0))
        annual = deaths * (share if row.get("share") == "bundle" else 1.0 - share)
    elif per == "capita":
        annual = population * float(row["value"])
    elif per == "fixed":
        annual = float(row["value"])
    else:
        raise ProcflowError(f"calibration.toml: volume {row.get('code')!r} has unknown per = {per!r}")
    return Volume(code=str(row["code"]), annual=annual, what=str(row.get("what", "")),
                  source=str(row.get("source", "")), unconfirmed=bool(row.get("unconfirmed", True)))


def calibration_for(province: Agency) -> Calibration | None:
    """The calibration of ``province`` (a province agency), or None when procflow ships none for it."""
    data = load_calibration()
    row = data.get("provinces", {}).get(province.province_code or "")
    if row is None:
        return None
    figures = {k: v for k, v in row.items() if isinstance(v, dict)}
    population = int(figures["population"]["value"])
    volumes = tuple(_volume(v, figures, population) for v in row.get("volumes", ()))
    return Calibration(province_code=province.province_code or "", name=str(row.get("name", province.name)),
                       population=population, volumes=volumes,
                       online_share=float(figures["online_share"]["value"]), figures=figures)


def daily_rate(annual: float, *, online_share: float, working_days: int | None = None) -> float:
    """Dossiers per WORKING day that add up to ``annual`` a year, given that days off also receive the online
    share of a working day's filings (the runner files ``rate x online_share`` on a day off)."""
    w = working_days if working_days is not None else int(load_calibration()["working_days_per_year"])
    return annual / (w + (365 - w) * online_share)


def working_day_online_share(share: float, *, working_days: int | None = None) -> float:
    """The share of a working day's filings made online so that, with days off receiving only online
    filings (``share`` x a working day's rate), the year's online share is ``share``."""
    w = working_days if working_days is not None else int(load_calibration()["working_days_per_year"])
    off = (365 - w) * share
    return max(0.0, min(1.0, (share * (w + off) - off) / w))


def _unit_kind(commune: Agency) -> str:
    name = commune.name.lower()
    if "đặc khu" in name:
        return "special_zone"
    if "phường" in name:
        return "ward"
    return "commune"


def commune_weights(communes: Sequence[Agency], rng: random.Random) -> list[float]:
    """Each commune's share of the province's filings (summing to 1): a ward/commune/special-zone factor
    (the population proxy) times a bounded log-normal spread drawn from ``rng``."""
    cfg = load_calibration()["commune_load"]
    lo, hi, sigma = float(cfg["min_factor"]), float(cfg["max_factor"]), float(cfg["spread_sigma"])
    raw = []
    for c in communes:
        spread = math.exp(rng.gauss(0, sigma) - sigma * sigma / 2)  # mean 1
        raw.append(float(cfg[_unit_kind(c)]) * spread)
    factors = raw
    for _ in range(50):  # clip to the bounds around the mean, renormalise, until the bounds hold
        mean = sum(factors) / len(factors)
        factors = [min(hi, max(lo, f / mean)) for f in factors]
        mean = sum(factors) / len(factors)
        if all(lo - 1e-9 <= f / mean <= hi + 1e-9 for f in factors):
            break
    total = sum(factors)
    return [f / total for f in factors]


DEFAULT_PER_COMMUNE_DAY = 12.0  # uncalibrated provinces: tens of dossiers per commune per working day (DESIGN)


def scenario_volumes(scenario: Any, province: Agency, communes: int) -> tuple[dict[str, float], bool]:
    """Yearly volume per procedure/bundle code for a run, and whether it came from the calibration data.

    ``scenario.volumes`` (e.g. a catalogue's annual-volume column) wins; then, unless the scenario gives
    ``dossiers_per_commune_day``, the province's calibration; otherwise that flat per-commune rate (12 by
    default) shared out by ``procedure_mix``. Before ``scenario.rate`` is applied.
    """
    if scenario.volumes is not None:
        return {str(k): float(v) for k, v in scenario.volumes.items() if float(v) > 0}, False
    if scenario.dossiers_per_commune_day is None:
        cal = calibration_for(province)
        if cal is not None:
            return {c: v for c, v in cal.annual().items() if v > 0}, True
    per_day = DEFAULT_PER_COMMUNE_DAY if scenario.dossiers_per_commune_day is None \
        else float(scenario.dossiers_per_commune_day)
    w = int(load_calibration()["working_days_per_year"])
    total = per_day * communes * (w + (365 - w) * scenario.online_share)
    mix = scenario.procedure_mix
    weight = sum(mix.values()) or 1.0
    return {c: total * share / weight for c, share in mix.items()}, False


BIRTH_CODES = ("1.001193", "LT.KS-TT-BHYT")  # standalone birth registrations and child-under-6 bundles


def calibration_summary(result: Any, report: Any) -> dict[str, Any]:
    """What a run filed from (yearly volumes x rate) beside what it filed, births in particular, with the
    province's calibration figures and sources; codes the installation has not registered are listed.

    Births filed = birth-registration dossiers (``1.001193``), which include the birth member of every
    child-under-6 bundle; per month = births filed / simulated days x 365 / 12."""
    sc = result.scenario
    cal = calibration_for(result.province)
    expected_births = sum(result.volumes.get(c, 0.0) for c in BIRTH_CODES) * sc.rate
    out: dict[str, Any] = {
        "rate": sc.rate,
        "source": "calibrated" if sc.volumes is None and sc.dossiers_per_commune_day is None and cal is not None
        else "scenario",
        "volumes_per_year": {c: round(v * sc.rate, 1) for c, v in sorted(result.volumes.items())},
        "not_simulated": sorted(result.skipped),
        "births_per_month_expected": round(expected_births / 12, 1),
    }
    births = report.by_procedure.get("1.001193")
    if births is not None:
        out["births_filed"] = births.received
        out["births_per_month_simulated"] = round(births.received / sc.days * 365 / 12, 1)
    if cal is not None:
        out["province"] = cal.to_dict()
    return out
