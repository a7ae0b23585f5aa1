"""Officials and office time: who takes the next task, and when office time runs out.

Each agency is a pool of officials who take tasks in the order they become ready; work only advances in
office sessions of working days, so a 40-minute task started at 11:10 ends after lunch.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import datetime, time, timedelta

from procflow.calendar import WorkingCalendar

__all__ = ["Pool", "add_office_time"]


def add_office_time(cal: WorkingCalendar, start: datetime, seconds: float) -> datetime:
    """The moment ``seconds`` of office time after ``start`` (work pauses at lunch, nights, days off)."""
    t = start.astimezone(cal.tz)
    remaining = seconds
    while True:
        d = t.date()
        if cal.is_working_day(d):
            for s, e in cal.office_hours.sessions:
                s_dt = datetime.combine(d, s, cal.tz)
                e_dt = datetime.combine(d, e, cal.tz)
                if t < e_dt:
                    t = max(t, s_dt)
                    avail = (e_dt - t).total_seconds()
                    if remaining <= avail:
                        return t + timedelta(seconds=remaining)
                    remaining -= avail
                    t = e_dt
        t = datetime.combine(d + timedelta(days=1), time(0), cal.tz)


class Pool:
    """The officials of one agency: each task goes to whoever is free first (FIFO by ready time).

    An official on leave takes no task that would start during the leave; their queue waits for them.
    """

    __slots__ = ("free_at", "leave")

    def __init__(self, officials: int, start: float, leave: list[tuple[int, float, float]] | None = None) -> None:
        self.free_at = [(start, i) for i in range(officials)]
        self.leave: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for who, s, e in leave or ():
            self.leave[who].append((s, e))

    def take(self, ready: float) -> tuple[float, int]:
        while True:
            free, who = heapq.heappop(self.free_at)
            start = max(free, ready)
            back = next((e for s, e in self.leave.get(who, ()) if s <= start < e), None)
            if back is None:
                return start, who
            heapq.heappush(self.free_at, (back, who))

    def release(self, at: float, who: int) -> None:
        heapq.heappush(self.free_at, (at, who))
