"""A fake clock that knows the working calendar, so tests say "next working day at 9:00", not "+3 days".

Deadlines are counted in working days, office hours and a daily cut-off; a test that moves time by raw
hours ends up on a Sunday or on Hùng Kings' day without noticing. ``WorkingClock`` moves time the way a
one-stop desk thinks about it and never backwards.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from procflow.calendar import WorkingCalendar
from procflow.clock import FakeClock
from procflow.officehours import VN_TZ

__all__ = ["MONDAY", "WorkingClock"]

MONDAY = datetime(2026, 4, 20, 8, 0, tzinfo=VN_TZ)
"""The fixtures' start: a Monday 08:00, ten days before the 30/4–1/5 holidays."""


def _time(value: str | time) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


class WorkingClock(FakeClock):
    """``FakeClock`` plus moves in working days and office times (``calendar`` decides what is worked)."""

    def __init__(self, start: datetime = MONDAY, calendar: WorkingCalendar | None = None) -> None:
        super().__init__(start)
        self.calendar = calendar if calendar is not None else WorkingCalendar()

    @property
    def today(self) -> date:
        return self.now().astimezone(self.calendar.tz).date()

    def at(self, when: str | time) -> datetime:
        """Later today at ``when`` ("14:30"); refuses a time already past (time never goes back)."""
        self.set(datetime.combine(self.today, _time(when), self.calendar.tz))
        return self.now()

    def next_working_day(self, at: str | time = "08:00") -> datetime:
        """The next working day after today (skipping weekends, holidays and days off) at ``at``."""
        self.set(datetime.combine(self.calendar.next_working_day(self.today), _time(at), self.calendar.tz))
        return self.now()

    def add_working_days(self, n: int, at: str | time = "08:00") -> datetime:
        """``n`` working days after today (n=1 is the next working day), at ``at``."""
        day = self.today
        for _ in range(n):
            day = self.calendar.next_working_day(day)
        self.set(datetime.combine(day, _time(at), self.calendar.tz))
        return self.now()

    def jump_to(self, when: str | date | datetime) -> datetime:
        """To a moment: a datetime, a date (08:00 that day) or text ("2026-05-04 09:30", "2026-05-04")."""
        if isinstance(when, str):
            when = datetime.fromisoformat(when) if len(when) > 10 else date.fromisoformat(when)
        if not isinstance(when, datetime):
            when = datetime.combine(when, time(8, 0))
        self.set(when if when.tzinfo else when.replace(tzinfo=self.calendar.tz))
        return self.now()

    def after_cutoff(self) -> datetime:
        """One minute past today's receipt cut-off: what is received now counts from the next working day."""
        cutoff = datetime.combine(self.today, self.calendar.office_hours.cutoff, self.calendar.tz)
        self.set(max(self.now(), cutoff + timedelta(minutes=1)))
        return self.now()
