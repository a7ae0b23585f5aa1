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
from procflow.definition import PORTAL_STATUS, ProcedureDefinition
from procflow.dossier import Dossier
from procflow.jurisdiction import Registry

__all__ = ["BacklogRow", "Figures", "Report", "build_report"]

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
    for d in dossiers:
        defn = definitions[(d.procedure, d.definition_version)]
        names[d.procedure] = defn.name
        final = defn.step(d.state).final
        statuses[d.status] += 1
        li += d.location_independent
        figs = (total, by_level[defn.level], by_proc[d.procedure])
        for f in figs:
            f.received += 1
        if d.status in COMPLETED:
            stop = d.sla.stopped_at or d.updated_at
            late = d.sla.due_at is not None and stop > d.sla.due_at
            days = calendar.working_days_between(calendar.counting_start(d.received_at), stop.date())
            for f in figs:
                f.completed += 1
                f.on_time += not late
                f.completed_late += late
                f._durations.append(days)
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
    rows = []
    for code, (n_open, n_over) in backlog.items():
        agency = registry.agency(code)
        if agency.level == "commune":
            rows.append(BacklogRow(code, agency.name, n_open, n_over))
    rows.sort(key=lambda r: (-r.open, -r.overdue, r.agency))
    return Report(at=at, total=total, by_level=dict(by_level), by_procedure=dict(by_proc), procedure_names=names,
                  statuses=dict(statuses), location_independent=li, top_backlog=rows[:top])
