"""Figures a province reports on: received, completed, on time, overdue, backlog — from the store itself.

Computed from dossier snapshots (whose SLA clock the engine keeps) so the same numbers come out of a
simulation, a production store, or a store rebuilt by replaying events.
"""

from __future__ import annotations

import statistics as pystats
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from procflow.calendar import WorkingCalendar
from procflow.definition.model import ProcedureDefinition
from procflow.definition.statuses import PORTAL_STATUS
from procflow.dossier import Dossier
from procflow.jurisdiction import Registry

__all__ = [
    "BacklogRow",
    "CommuneRow",
    "Figures",
    "Report",
    "backlog_series",
    "build_report",
    "bundle_summary",
    "compare_runs",
    "rank_communes",
]

COMPLETED = frozenset({9, 10})
PAUSED = frozenset({5, 6, 8})


@attrs.define
class Figures:
    received: int = 0
    completed: int = 0
    on_time: int = 0
    completed_late: int = 0
    overdue_open: int = 0
    open: int = 0
    paused: int = 0
    closed_other: int = 0  # refused, withdrawn, stopped
    _durations: list[int] = attrs.field(factory=list, repr=False)

    @property
    def on_time_rate(self) -> float | None:
        return None if not self.completed else self.on_time / self.completed

    @property
    def median_working_days(self) -> float | None:
        return None if not self._durations else float(pystats.median(self._durations))

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received, "completed": self.completed, "on_time": self.on_time,
            "completed_late": self.completed_late, "overdue_open": self.overdue_open, "open": self.open,
            "paused": self.paused, "closed_other": self.closed_other,
            "on_time_rate": None if self.on_time_rate is None else round(self.on_time_rate, 4),
            "median_working_days": self.median_working_days,
        }


@attrs.frozen
class BacklogRow:
    agency: str
    name: str
    open: int
    overdue: int


@attrs.frozen
class CommuneRow:
    """One commune's figures for the province's ranking (xếp hạng xã).

    Counted over the dossiers the commune received: its one-stop desk answers to the citizen for them,
    whoever decides. ``li_share`` is the share it received location-independently (phi địa giới).
    """

    agency: str
    name: str
    received: int
    location_independent: int
    completed: int
    on_time: int
    overdue_open: int
    rank: int = 0
    score: float = 0.0

    @property
    def li_share(self) -> float:
        return self.location_independent / self.received if self.received else 0.0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.completed if self.completed else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.on_time_rate
        return {"rank": self.rank, "agency": self.agency, "name": self.name, "received": self.received,
                "location_independent": self.location_independent, "li_share": round(self.li_share, 4),
                "completed": self.completed, "on_time": self.on_time,
                "on_time_rate": None if rate is None else round(rate, 4), "overdue_open": self.overdue_open,
                "score": round(self.score, 4)}


def _percentiles(values: list[float]) -> list[float]:
    """Each value's mid-rank percentile in 0..1 (ties share their rank), so two scales can be averaged."""
    order = sorted(values)
    n = len(values)
    if n < 2:
        return [1.0] * n
    first: dict[float, int] = {}
    last: dict[float, int] = {}
    for i, v in enumerate(order):
        first.setdefault(v, i)
        last[v] = i
    return [((first[v] + last[v]) / 2) / (n - 1) for v in values]


def rank_communes(rows: list[CommuneRow]) -> list[CommuneRow]:
    """Rank by the average of two percentiles: on-time rate and location-independent share.

    Percentiles rather than raw rates, because on-time rates sit near 100 % and shares near a few %: a
    plain average would rank on the on-time rate alone. A commune that completed nothing has no on-time
    rate and counts as the lowest on that scale.
    """
    if not rows:
        return []
    on_time = _percentiles([r.on_time_rate if r.on_time_rate is not None else -1.0 for r in rows])
    li = _percentiles([r.li_share for r in rows])
    scored = [attrs.evolve(r, score=(a + b) / 2) for r, a, b in zip(rows, on_time, li, strict=True)]
    scored.sort(key=lambda r: (-r.score, -(r.on_time_rate or 0.0), -r.li_share, r.agency))
    return [attrs.evolve(r, rank=i) for i, r in enumerate(scored, start=1)]


@attrs.define
class Report:
    at: datetime
    total: Figures
    by_level: dict[str, Figures]
    by_procedure: dict[str, Figures]
    procedure_names: dict[str, str]
    statuses: dict[int, int]
    location_independent: int
    top_backlog: list[BacklogRow]
    extra: dict[str, Any] = attrs.field(factory=dict)
    communes: list[CommuneRow] = attrs.field(factory=list)

    @property
    def location_independent_share(self) -> float:
        return self.location_independent / self.total.received if self.total.received else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "total": self.total.to_dict(),
            "by_level": {k: v.to_dict() for k, v in sorted(self.by_level.items())},
            "by_procedure": {k: {"name": self.procedure_names.get(k, k), **v.to_dict()}
                             for k, v in sorted(self.by_procedure.items())},
            "statuses": {str(k): {"label": PORTAL_STATUS[k], "count": v} for k, v in sorted(self.statuses.items())},
            "location_independent": self.location_independent,
            "location_independent_share": round(self.location_independent_share, 4),
            "top_backlog": [attrs.asdict(r) for r in self.top_backlog],
            "commune_ranking": [r.to_dict() for r in self.communes],
            **self.extra,
        }


def build_report(dossiers: Iterable[Dossier], definitions: Mapping[tuple[str, int], ProcedureDefinition],
                 calendar: WorkingCalendar, registry: Registry, at: datetime, *, top: int = 10) -> Report:
    total = Figures()
    by_level: dict[str, Figures] = defaultdict(Figures)
    by_proc: dict[str, Figures] = defaultdict(Figures)
    statuses: Counter[int] = Counter()
    backlog: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    names: dict[str, str] = {}
    li = 0
    desks: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # received, li, completed, on time, overdue
    for d in dossiers:
        defn = definitions[(d.procedure, d.definition_version)]
        names[d.procedure] = defn.name
        final = defn.step(d.state).final
        statuses[d.status] += 1
        li += d.location_independent
        figs = (total, by_level[defn.level], by_proc[d.procedure])
        for f in figs:
            f.received += 1
        desk = desks[d.agencies.get("receiving", d.custodian)]
        desk[0] += 1
        desk[1] += d.location_independent
        if d.status in COMPLETED:
            stop = d.sla.stopped_at or d.updated_at
            late = d.sla.due_at is not None and stop > d.sla.due_at
            days = calendar.working_days_taken(d.received_at, stop)
            for f in figs:
                f.completed += 1
                f.on_time += not late
                f.completed_late += late
                f._durations.append(days)
            desk[2] += 1
            desk[3] += not late
        elif final:
            for f in figs:
                f.closed_other += 1
        else:
            overdue = d.sla.is_overdue(at)
            for f in figs:
                f.open += 1
                f.overdue_open += overdue
                f.paused += d.status in PAUSED
            row = backlog[d.custodian]
            row[0] += 1
            row[1] += overdue
            desk[4] += overdue
    rows = []
    for code, (n_open, n_over) in backlog.items():
        agency = registry.agency(code)
        if agency.level == "commune":
            rows.append(BacklogRow(code, agency.name, n_open, n_over))
    rows.sort(key=lambda r: (-r.open, -r.overdue, r.agency))
    communes = []
    for code, (received, n_li, completed, on_time, n_overdue) in desks.items():
        agency = registry.agency(code)
        if agency.level == "commune":
            communes.append(CommuneRow(code, agency.name, received, n_li, completed, on_time, n_overdue))
    return Report(at=at, total=total, by_level=dict(by_level), by_procedure=dict(by_proc), procedure_names=names,
                  statuses=dict(statuses), location_independent=li, top_backlog=rows[:top],
                  communes=rank_communes(communes))


def backlog_series(samples: Iterable[tuple[str, str, int, int, int]], registry: Registry, *,
                   top: int = 8) -> dict[str, Any]:
    """Backlog over time from the simulator's day-close samples: the province and the ``top`` agencies
    with the highest peak (an agency absent from a sample had nothing open then)."""
    days: list[str] = []
    by: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"open": [], "overdue": [], "paused": []})
    for at, holder, n_open, overdue, paused in samples:
        if not days or days[-1] != at:
            days.append(at)
        series = by[holder]
        for key, value in (("open", n_open), ("overdue", overdue), ("paused", paused)):
            series[key] += [0] * (len(days) - 1 - len(series[key])) + [value]
    for series in by.values():
        for values in series.values():
            values += [0] * (len(days) - len(values))
    province = by.pop("*", {"open": [0] * len(days), "overdue": [0] * len(days), "paused": [0] * len(days)})
    peaks = sorted(by, key=lambda a: (-max(by[a]["open"], default=0), a))[:top]
    agencies = []
    for code in peaks:
        agency = registry.agency(code)
        agencies.append({"agency": code, "name": agency.name, "level": str(agency.level), "kind": agency.kind,
                         "peak": max(by[code]["open"], default=0), **by[code]})
    return {"days": days, "province": province, "agencies": agencies}


def bundle_summary(bundles: Iterable[Any], calendar: WorkingCalendar, at: datetime, *,
                   definitions: Iterable[Any] = ()) -> dict[str, Any]:
    """Liên thông bundles as a province reports them: received, joined results, on time (bundle SLA).

    On time is judged against each bundle's own due date, which already carries the verification rule (the
    coordinator lengthens the limit when a member enters a verification state, e.g. 3 → 5 working days for
    the child-under-6 bundle, Decree 63/2024/ND-CP). ``by_bundle`` gives the figures per bundle code with
    its limits (from ``definitions``) and how many bundles were verified.
    """
    limits = {d.code: (d.sla_days, d.verification_working_days, d.name) for d in definitions}
    f = Figures()
    per: dict[str, Figures] = defaultdict(Figures)
    verified: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    for b in bundles:
        statuses[b.status] += 1
        codes[b.code] += 1
        base = limits.get(b.code, (None, None, ""))[0]
        verified[b.code] += base is not None and b.sla.working_days > base
        for g in (f, per[b.code]):
            g.received += 1
            if b.status in COMPLETED:
                stop = b.sla.stopped_at or b.updated_at
                late = b.sla.due_at is not None and stop > b.sla.due_at
                g.completed += 1
                g.on_time += not late
                g.completed_late += late
                g._durations.append(calendar.working_days_taken(b.received_at, stop))
            elif b.status in (3, 7, 8):
                g.closed_other += 1
            else:
                g.open += 1
                g.overdue_open += b.sla.is_overdue(at)
                g.paused += b.status in PAUSED
    by_bundle = {}
    for code in sorted(per):
        days, longer, name = limits.get(code, (None, None, code))
        by_bundle[code] = {"name": name, "working_days": days, "verification_working_days": longer,
                           "verified": verified[code], **per[code].to_dict()}
    return {**f.to_dict(), "bundles": dict(sorted(codes.items())),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "by_bundle": by_bundle}


def compare_runs(faulted: Report, baseline: Report, faulted_backlog: dict[str, Any],
                 baseline_backlog: dict[str, Any]) -> dict[str, Any]:
    """What the faults cost: on-time rate and backlog of the faulted run against the same seed without them."""
    def figures(r: Report, series: dict[str, Any]) -> dict[str, Any]:
        open_ = series["province"]["open"]
        return {"on_time_rate": r.total.on_time_rate, "completed": r.total.completed,
                "overdue_open": r.total.overdue_open, "open": r.total.open,
                "backlog_peak": max(open_, default=0), "backlog_end": open_[-1] if open_ else 0,
                "by_level": {k: v.on_time_rate for k, v in sorted(r.by_level.items())}}

    a, b = figures(faulted, faulted_backlog), figures(baseline, baseline_backlog)
    delta = {k: (a[k] - b[k]) if isinstance(a[k], int | float) and isinstance(b[k], int | float) else None
             for k in a if k != "by_level"}
    return {"faulted": a, "baseline": b, "delta": delta,
            "baseline_backlog": baseline_backlog["province"]}
