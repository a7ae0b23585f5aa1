"""Faults a province lives with, injected into a simulated run to see what they cost.

``portal-down``      the national portal is unreachable: online filings wait until it is back (and portal
                     status syncs fail and retry);
``commune-offline``  one commune loses connectivity for some hours: what its desk and officials do is queued
                     locally and synced, in order, when the line is back (the store sees it late);
``official-leave``   officials of one agency are on leave: their share of the work waits (backlog grows);
``holiday-week``     a week the province declares off (a typhoon, a local holiday): no working days.

On the command line a fault is ``NAME`` or ``NAME:key=value,key=value`` (``--fault portal-down:day=2026-04-22``).
Defaults pick the third working day of the run and the busiest commune, so ``--fault NAME`` alone shows an
effect. Everything is decided before the run, so a faulted run is as reproducible as any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta

import attrs

from procflow.calendar import WorkingCalendar
from procflow.errors import ProcflowError
from procflow.officehours import VN_TZ

__all__ = ["FAULT_KINDS", "Fault", "FaultPlan", "parse_fault"]

FAULT_KINDS = {
    "portal-down": ("day", "hours"),
    "commune-offline": ("commune", "start", "hours"),
    "official-leave": ("agency", "officials", "days", "start"),
    "holiday-week": ("start",),
}


@attrs.frozen
class Fault:
    """One fault as the user gave it; ``None`` parameters are filled from the run (see ``FaultPlan``)."""

    kind: str
    params: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        return dict(self.params).get(key)

    def __str__(self) -> str:
        return self.kind + (":" + ",".join(f"{k}={v}" for k, v in self.params) if self.params else "")


def parse_fault(text: str) -> Fault:
    """``NAME[:key=value,...]`` → Fault; unknown names and keys are refused with the allowed ones."""
    name, _, args = text.strip().partition(":")
    name = name.strip().replace("_", "-")
    if name not in FAULT_KINDS:
        raise ProcflowError(f"unknown fault {name!r} (known: {', '.join(FAULT_KINDS)})")
    params: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in args.split(","))):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in FAULT_KINDS[name]:
            raise ProcflowError(f"fault {name}: expected key=value with key one of "
                                f"{', '.join(FAULT_KINDS[name])}, got {part!r}")
        params.append((key.strip(), value.strip()))
    fault = Fault(name, tuple(params))
    for key, _ in params:  # check every value now, not halfway through a run
        if key in ("hours", "officials", "days"):
            _num(fault, key, 0)
        elif key == "start" and name == "commune-offline":
            _moment(fault, key, datetime(2000, 1, 1, tzinfo=VN_TZ), VN_TZ)
        elif key in ("day", "start"):
            _day(fault, key, date.min)
    return fault


def _num(f: Fault, key: str, default: float) -> float:
    value = f.get(key)
    try:
        return default if value is None else float(value)
    except ValueError:
        raise ProcflowError(f"fault {f.kind}: {key} must be a number, got {value!r}") from None


def _day(f: Fault, key: str, default: date) -> date:
    value = f.get(key)
    try:
        return default if value is None else date.fromisoformat(value[:10])
    except ValueError:
        raise ProcflowError(f"fault {f.kind}: {key} must be a date YYYY-MM-DD, got {value!r}") from None


def _moment(f: Fault, key: str, default: datetime, tz: object) -> datetime:
    value = f.get(key)
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProcflowError(f"fault {f.kind}: {key} must be YYYY-MM-DDTHH:MM, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=default.tzinfo)


def holiday_days(faults: Iterable[Fault], start: date, cal: WorkingCalendar) -> list[date]:
    """The days off a ``holiday-week`` adds: the working days Monday to Friday of the week of ``start``
    (default: the third week of the run). The run's calendar is built with them, so ``cal`` here is the
    calendar without the fault."""
    days: list[date] = []
    for f in faults:
        if f.kind == "holiday-week":
            first = _day(f, "start", start + timedelta(days=14))
            monday = first - timedelta(days=first.weekday())
            days += [monday + timedelta(days=i) for i in range(5) if cal.is_working_day(monday + timedelta(days=i))]
    return sorted(set(days))


@attrs.define
class FaultPlan:
    """The faults of one run, resolved to windows: who is affected, from when to when (timestamps)."""

    portal_down: list[tuple[float, float]] = attrs.field(factory=list)
    offline: dict[str, list[tuple[float, float]]] = attrs.field(factory=dict)
    leave: dict[str, list[tuple[int, float, float]]] = attrs.field(factory=dict)  # agency -> (official, from, to)
    described: list[dict[str, object]] = attrs.field(factory=list)

    @classmethod
    def resolve(cls, faults: Sequence[Fault], *, cal: WorkingCalendar, start: date, busiest: str,
                names: Mapping[str, str], officials: Callable[[str], int]) -> FaultPlan:
        """Fill defaults from the run: ``busiest`` is the commune with the most demand; ``officials(code)``
        the size of an agency's pool (leave cannot take all of it)."""
        plan = cls()
        third = cal.add_working_days(start, 3)
        tz = cal.tz
        for f in faults:
            if f.kind == "portal-down":
                day = _day(f, "day", third)
                s = datetime.combine(day, time(0), tz)
                e = s + timedelta(hours=_num(f, "hours", 24))
                plan.portal_down.append((s.timestamp(), e.timestamp()))
                plan.described.append({"fault": str(f), "kind": f.kind, "what": "national portal unreachable",
                                       "from": s.isoformat(), "to": e.isoformat()})
            elif f.kind == "commune-offline":
                code = f.get("commune") or busiest
                s = _moment(f, "start", datetime.combine(third, time(8), tz), tz)
                e = s + timedelta(hours=_num(f, "hours", 6))
                plan.offline.setdefault(code, []).append((s.timestamp(), e.timestamp()))
                plan.described.append({"fault": str(f), "kind": f.kind, "agency": code, "name": names.get(code, code),
                                       "what": "commune offline: actions queued locally, synced later",
                                       "from": s.isoformat(), "to": e.isoformat()})
            elif f.kind == "official-leave":
                code = f.get("agency") or busiest
                n = int(_num(f, "officials", 1))
                first = _day(f, "start", third)
                last = cal.add_working_days(first, int(_num(f, "days", 10)))
                s = datetime.combine(first, time(0), tz)
                e = datetime.combine(last + timedelta(days=1), time(0), tz)
                pool = officials(code)
                if n < 1 or n >= pool:
                    raise ProcflowError(f"fault {f}: officials must be between 1 and {pool - 1} for {code}")
                plan.leave.setdefault(code, []).extend((who, s.timestamp(), e.timestamp()) for who in range(n))
                plan.described.append({"fault": str(f), "kind": f.kind, "agency": code, "name": names.get(code, code),
                                       "what": f"{n} official(s) on leave", "from": s.isoformat(), "to": e.isoformat()})
            elif f.kind == "holiday-week":  # the days themselves are in the calendar (see holiday_days)
                first = _day(f, "start", start + timedelta(days=14))
                monday = first - timedelta(days=first.weekday())
                plan.described.append({"fault": str(f), "kind": f.kind, "what": "province-declared days off",
                                       "from": monday.isoformat(), "to": (monday + timedelta(days=4)).isoformat()})
        return plan

    def portal_back(self, ts: float) -> float | None:
        """When the portal is down at ``ts``: the moment it is back."""
        for s, e in self.portal_down:
            if s <= ts < e:
                return e
        return None

    def offline_until(self, agency: str, ts: float) -> float | None:
        for s, e in self.offline.get(agency, ()):
            if s <= ts < e:
                return e
        return None
