"""Working calendar and SLA clock: the one place procflow turns "N working days" into a moment.

The incumbent systems spread due-date logic over many classes that disagree; here it lives in one
module, and ``WorkingCalendar.due_at`` is the one definition of "due" every other part uses.

Counting follows the Civil Code 2015, art. 147: the day of the event is not counted. A limit of N
working days starts on the working day after the (effective) receipt day and ends at the close of office
hours of the Nth working day; a dossier received after the daily cut-off (15:00 by default) or on a day
off counts as received on the next working day. A same-day limit (N = 0, "trong ngày") is due at the
close of the effective receipt day.

Which days are worked comes from the Government's decisions shipped as data (``procflow.schedule``,
with document numbers) for the years they cover, and from ``holidays.country_holidays("VN")`` with a
warning for other years; procflow adds office hours, the cut-off, a province's own days off and pauses.

Holiday objects are slow per lookup and the simulator asks about ~100k dossiers, so each calendar
year is asked once, then kept as a sorted list of working-day ordinals: adding or counting working
days is a ``bisect``. Office time is counted in integer microseconds of wall-clock time so that
extending a deadline and measuring it again agree exactly.
"""

from __future__ import annotations

import warnings
from bisect import bisect_left
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo

import attrs
import holidays

from procflow.errors import CalendarError, CalendarWarning
from procflow.officehours import (
    _US_PER_S,
    VN_TZ,
    OfficeHours,
    _aware,
    _plain_date,
    _time_of_us,
    _us_of_day,
)
from procflow.schedule import DayEntry, DaySchedule, default_schedule

__all__ = [
    "WorkingCalendar",
]

_COUNTRY = "VN"


_WARNED: set[tuple[int, tuple[int, ...]]] = set()  # (year, covered years): warn once per process


@attrs.frozen
class _Year:
    ordinals: list[int]  # sorted ordinals of the working days of the year
    working: frozenset[int]


class WorkingCalendar:
    """Working days, office hours and cut-off for one jurisdiction, with per-year precomputed tables.

    ``extra_days_off`` is the seam for a province's own days off (and for swaps the holiday data does
    not know yet); ``extra_working_days`` makes a day worked (e.g. a Saturday swap announced late).
    """

    def __init__(
        self,
        *,
        office_hours: OfficeHours | None = None,
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        tz: tzinfo = VN_TZ,
        schedule: DaySchedule | None = None,
    ) -> None:
        """``schedule``: the decided days off and worked Saturdays (default: the shipped national schedule
        plus ``PROCFLOW_CALENDAR_FILE``); years it covers are counted from it alone."""
        self.tz = tz
        self.schedule = schedule if schedule is not None else default_schedule()
        self._decided = self.schedule.lookup()
        self.office_hours = office_hours if office_hours is not None else OfficeHours()
        self._days_off = frozenset(_plain_date(d, "extra_days_off").toordinal() for d in extra_days_off)
        self._days_on = frozenset(
            _plain_date(d, "extra_working_days").toordinal() for d in extra_working_days
        )
        if both := self._days_off & self._days_on:
            clash = ", ".join(sorted(date.fromordinal(o).isoformat() for o in both))
            raise CalendarError(f"dates both in extra_days_off and extra_working_days: {clash}")
        self._years: dict[int, _Year] = {}
        self._sessions_us = tuple((_us_of_day(a), _us_of_day(b)) for a, b in self.office_hours.sessions)
        self._day_us = sum(b - a for a, b in self._sessions_us)
        self._close = self.office_hours.sessions[-1][1]
        self._close_us = self._sessions_us[-1][1]
        self._cutoff = self.office_hours.cutoff
        covered = sorted(self.schedule.covered)
        self.covered_years: frozenset[int] = frozenset(covered)
        self.supported_years: range = range(covered[0], covered[-1] + 1) if covered else range(0)
        """The span of years the day-off schedule covers (outside them counting warns)."""

    def __repr__(self) -> str:
        return f"WorkingCalendar(office_hours={self.office_hours!r}, tz={self.tz!r})"

    # -- per-year tables -------------------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build_year(year)
        return table

    def _build_year(self, year: int) -> _Year:
        if not 1 <= year <= 9999:
            raise CalendarError(f"year {year} is outside the range of dates Python can represent")
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        decided = self._decided
        if year in self.covered_years:
            def worked(o: int) -> bool:
                entry = decided.get(o)
                if entry is not None:
                    return entry.kind == "worked"
                return date.fromordinal(o).weekday() < 5
        else:
            key = (year, tuple(sorted(self.covered_years)))
            if key not in _WARNED:
                _WARNED.add(key)
                span = self.supported_years
                known = f"{span.start}–{span.stop - 1}" if span else "none"
                warnings.warn(
                    CalendarWarning(
                        f"{year} is not covered by procflow's day-off schedule (covered: {known}); working "
                        f"days in {year} are guessed from the `holidays` library and may be wrong — add the "
                        f"Government's decisions for {year} with PROCFLOW_CALENDAR_FILE"
                    ),
                    stacklevel=4,
                )
            # years= is explicit: weekend workdays of a year only appear once that year is populated.
            h = holidays.country_holidays(_COUNTRY, years=year)

            def worked(o: int) -> bool:
                entry = decided.get(o)
                if entry is not None:
                    return entry.kind == "worked"
                return bool(h.is_working_day(date.fromordinal(o)))
        ordinals = []
        for o in range(first, last + 1):
            if o in self._days_on or (o not in self._days_off and worked(o)):
                ordinals.append(o)
        return _Year(ordinals, frozenset(ordinals))

    def decided(self, d: date) -> DayEntry | None:
        """The schedule's entry for ``d`` (why it is off or worked), if the day was decided."""
        return self._decided.get(_plain_date(d, "d").toordinal())

    def _first_working_on_or_after(self, o: int, skip: int = 0) -> int:
        """Ordinal of the working day ``skip`` working days after the first one on or after ``o``."""
        year = date.fromordinal(o).year
        while True:
            ords = self._year(year).ordinals
            i = bisect_left(ords, o) + skip
            if i < len(ords):
                return ords[i]
            skip = i - len(ords)
            year += 1
            if year > 9999:
                raise CalendarError("working-day arithmetic ran past year 9999")
            o = date(year, 1, 1).toordinal()

    def _count_before(self, o: int) -> tuple[int, int]:
        """(year, working days of that year before ordinal ``o``), the unit of counting."""
        year = date.fromordinal(o).year
        return year, bisect_left(self._year(year).ordinals, o)

    # -- days ------------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        _plain_date(d, "d")
        return d.toordinal() in self._year(d.year).working

    def next_working_day(self, d: date) -> date:
        _plain_date(d, "d")
        return date.fromordinal(self._first_working_on_or_after(d.toordinal() + 1))

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day counting ``d`` as day 1 when it is worked; n == 0 means "d or next".

        So n=0 and n=1 agree: a limit of one working day ends on the day counting starts.
        """
        _plain_date(d, "d")
        if n < 0:
            raise CalendarError(f"n must be >= 0 working days, got {n}")
        return date.fromordinal(self._first_working_on_or_after(d.toordinal(), n - 1 if n else 0))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in [start, end); 0 when end is not after start."""
        _plain_date(start, "start")
        _plain_date(end, "end")
        if end <= start:
            return 0
        y0, before_start = self._count_before(start.toordinal())
        y1, before_end = self._count_before(end.toordinal())
        return sum(len(self._year(y).ordinals) for y in range(y0, y1)) + before_end - before_start

    # -- moments ---------------------------------------------------------------------------------

    def _local(self, value: object, name: str) -> datetime:
        dt = _aware(value, name)
        return dt if dt.tzinfo is self.tz else dt.astimezone(self.tz)

    def close_of(self, d: date) -> datetime:
        """The end of the last office session on ``d``: deadlines fall due then, not at midnight."""
        _plain_date(d, "d")
        return datetime.combine(d, self._close, self.tz)

    def receipt_day(self, received_at: datetime) -> date:
        """The effective receipt day: the receipt day if worked and strictly before the cut-off, else the
        next working day (a dossier received at 15:30 or on a Sunday is received the next working day)."""
        return date.fromordinal(self._receipt_ordinal(received_at))

    def _receipt_ordinal(self, received_at: datetime) -> int:
        local = self._local(received_at, "received_at")
        o = local.toordinal()
        if local.time() < self._cutoff and o in self._year(local.year).working:
            return o
        return self._first_working_on_or_after(o + 1)

    def counting_start(self, received_at: datetime) -> date:
        """The first day counted towards a limit of N >= 1 working days: the working day after the
        effective receipt day (Civil Code 2015 art. 147: the day of the event is not counted)."""
        return self.next_working_day(self.receipt_day(received_at))

    def due_at(self, received_at: datetime, working_days: int) -> datetime:
        """When a limit of ``working_days`` falls due: the close of the Nth working day after the
        effective receipt day; 0 ("trong ngày") is due at the close of the effective receipt day.

        Mon 09:00 + 3 → Thu 17:00; Fri 09:00 + 1 → Mon 17:00; Tue 16:00 + 2 → Fri 17:00 (received Wed).
        """
        if not isinstance(working_days, int) or isinstance(working_days, bool) or working_days < 0:
            raise CalendarError(f"working_days must be an int >= 0, got {working_days!r}")
        o = self._receipt_ordinal(received_at)
        if working_days:
            o = self._first_working_on_or_after(o + 1, working_days - 1)
        return datetime.combine(date.fromordinal(o), self._close, self.tz)

    def explain_due(self, received_at: datetime, working_days: int) -> list[str]:
        """The reasoning behind ``due_at``, step by step, in the words an official checks it with."""
        local = self._local(received_at, "received_at")
        lines = [f"received {local:%a %Y-%m-%d %H:%M} (Asia/Ho_Chi_Minh)"]
        day = local.date()
        if not self.is_working_day(day):
            lines.append(f"{day:%a %Y-%m-%d} is not a working day{self._why(day)}: received the next working day")
        elif local.time() >= self._cutoff:
            lines.append(f"after the {self._cutoff:%H:%M} cut-off: received the next working day")
        receipt = self.receipt_day(received_at)
        d = day + timedelta(days=1)
        while receipt != day and d < receipt:
            lines.append(f"  skip {d:%a %Y-%m-%d}{self._why(d) or ' (weekend)'}")
            d += timedelta(days=1)
        lines.append(f"effective receipt day: {receipt:%a %Y-%m-%d}")
        if working_days == 0:
            lines.append("same-day limit (trong ngày): due at the close of the receipt day")
        else:
            lines.append("the receipt day is not counted (Civil Code 2015, art. 147); counting starts "
                         f"{self.counting_start(received_at):%a %Y-%m-%d}")
            d, n = receipt, 0
            while n < working_days:
                d += timedelta(days=1)
                if self.is_working_day(d):
                    n += 1
                    lines.append(f"  day {n}: {d:%a %Y-%m-%d}")
                else:
                    lines.append(f"  skip {d:%a %Y-%m-%d}{self._why(d) or ' (weekend)'}")
        due = self.due_at(received_at, working_days)
        lines.append(f"due: {due:%a %Y-%m-%d %H:%M} (close of office hours)")
        return lines

    def _why(self, d: date) -> str:
        entry = self.decided(d)
        if entry is None:
            return " (weekend)" if d.weekday() >= 5 else ""
        return f" ({entry.reason}; {entry.source})"

    def working_days_taken(self, received_at: datetime, at: datetime) -> int:
        """Working days used from receipt to ``at``, counted as the limit is: the effective receipt day
        is day 0, so a dossier done on it took 0 days and one done on the due day of N took N."""
        end = self._local(at, "at").date()
        receipt = self.receipt_day(received_at)
        return self.working_days_between(receipt + timedelta(days=1), end + timedelta(days=1))

    def _office_us_before(self, t: time) -> int:
        """Office microseconds of a working day that have elapsed by wall-clock time ``t``."""
        us = _us_of_day(t)
        return sum(max(0, min(us, b) - a) for a, b in self._sessions_us)

    def _time_at_office_us(self, offset: int) -> time:
        """Earliest time of day by which ``offset`` office microseconds have elapsed (0 < offset <= day)."""
        for a, b in self._sessions_us:
            if offset <= b - a:
                return _time_of_us(a + offset)
            offset -= b - a
        return self._close

    def _office_us_between(self, a: datetime, b: datetime, names: tuple[str, str] = ("a", "b")) -> int:
        a, b = self._local(a, names[0]), self._local(b, names[1])
        if b <= a:
            return 0
        da, db = a.date(), b.date()
        fa = self._office_us_before(a.time()) if self.is_working_day(da) else None
        fb = self._office_us_before(b.time()) if self.is_working_day(db) else None
        if da == db:
            return 0 if fa is None or fb is None else fb - fa
        first = 0 if fa is None else self._day_us - fa
        last = 0 if fb is None else fb
        return first + self.working_days_between(da + timedelta(days=1), db) * self._day_us + last

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Office time (office sessions of working days) elapsed from ``a`` to ``b``; 0 if b <= a."""
        return self._office_us_between(a, b) / _US_PER_S

    def extend(self, due_at: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
        """Push ``due_at`` later by the office time between pause and resume (the PAUSE policy).

        A pause over a weekend, a holiday or a night costs the agency nothing, so it earns nothing.
        """
        _aware(due_at, "due_at")
        spent = self._office_us_between(paused_at, resumed_at, ("paused_at", "resumed_at"))
        if spent == 0:
            return due_at
        local = self._local(due_at, "due_at")
        o = local.toordinal()
        if o in self._year(local.year).working:
            left_today = self._day_us - self._office_us_before(local.time())
            if spent <= left_today:
                moment = self._time_at_office_us(self._office_us_before(local.time()) + spent)
                return datetime.combine(local.date(), moment, self.tz)
            spent -= left_today
        whole_days, offset = divmod(spent, self._day_us)
        if offset == 0:  # ends exactly at a close: stay on that day rather than the next opening
            whole_days, offset = whole_days - 1, self._day_us
        day = self._first_working_on_or_after(o + 1, whole_days)
        return datetime.combine(date.fromordinal(day), self._time_at_office_us(offset), self.tz)

    def working_days_late(self, due_at: datetime, at: datetime) -> int:
        """Working days after the due day up to the day of ``at``; any lateness counts at least 1."""
        due, now = self._local(due_at, "due_at"), self._local(at, "at")
        if now <= due:
            return 0
        late = self.working_days_between(due.date() + timedelta(days=1), now.date() + timedelta(days=1))
        return max(late, 1)

    def remaining_working_days(self, due_at: datetime, at: datetime) -> int:
        """Working days left up to and including the due day (today counts until it closes).

        Negative when late: minus the working days late, so one number sorts a queue.
        """
        due, now = self._local(due_at, "due_at"), self._local(at, "at")
        if now > due:
            return -self.working_days_late(due, now)
        today = now.date()
        if _us_of_day(now.time()) >= self._close_us:
            today += timedelta(days=1)
        return self.working_days_between(today, due.date() + timedelta(days=1))


