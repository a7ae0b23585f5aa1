"""Office hours and Viet Nam's local time: the wall-clock facts the working calendar counts in.

Kept apart from ``procflow.calendar`` (which counts working days and deadlines) because many modules only
need to show an instant as people in Viet Nam read it, or to describe a desk's opening hours, without the
holiday tables. ``procflow.calendar`` re-exports ``VN_TZ``, ``OfficeHours`` and ``local_time``.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from procflow.errors import CalendarError

__all__ = ["VN_TZ", "OfficeHours", "local_time"]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_US_PER_S = 1_000_000


def local_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M", *, tz: tzinfo = VN_TZ) -> str:
    """A stored instant as people in Viet Nam read it (Asia/Ho_Chi_Minh): stores keep UTC or any offset,
    and printing one as-is shows a 07:00 receipt as 00:00. Accepts ISO text; None → "—"."""
    if value is None or value == "":
        return "—"
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:  # a naive instant is one procflow wrote in local time (legacy rows)
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(tz).strftime(fmt)


def _us_of_day(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_S + t.microsecond


def _time_of_us(us: int) -> time:
    s, micro = divmod(us, _US_PER_S)
    m, sec = divmod(s, 60)
    h, minute = divmod(m, 60)
    return time(h, minute, sec, micro)


def _check_sessions(instance: OfficeHours, attribute: attrs.Attribute[Any], value: object) -> None:
    # Overlapping or unordered sessions would make office time count twice; refuse them up front.
    if not isinstance(value, tuple) or not value:
        raise CalendarError("office_hours.sessions must be a non-empty tuple of (start, end) times")
    previous_end: time | None = None
    for i, session in enumerate(value):
        if (
            not isinstance(session, tuple)
            or len(session) != 2
            or not all(isinstance(t, time) and t.tzinfo is None for t in session)
        ):
            raise CalendarError(f"office_hours.sessions[{i}] must be a pair of naive times, got {session!r}")
        start, end = session
        if start >= end:
            raise CalendarError(f"office_hours.sessions[{i}]: start {start} is not before end {end}")
        if previous_end is not None and start < previous_end:
            raise CalendarError(f"office_hours.sessions[{i}] starts before the previous session ends")
        previous_end = end


def _check_cutoff(instance: OfficeHours, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise CalendarError(f"office_hours.cutoff must be a naive time, got {value!r}")


@attrs.frozen
class OfficeHours:
    """When the desk is open, and the cut-off after which a receipt counts from the next working day.

    Localities set these themselves, so they are data, not constants. Times are wall-clock times in
    the calendar's time zone.
    """

    sessions: tuple[tuple[time, time], ...] = attrs.field(
        default=((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))), validator=_check_sessions
    )
    cutoff: time = attrs.field(default=time(15, 0), validator=_check_cutoff)


def _aware(value: object, name: str) -> datetime:
    # A naive time is ambiguous by hours in a country whose servers often run on UTC: refuse it.
    if not isinstance(value, datetime):
        raise CalendarError(f"{name} must be a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarError(f"{name} is a naive datetime; pass a timezone-aware one (e.g. tz=VN_TZ)")
    return value


def _plain_date(value: object, name: str) -> date:
    # A datetime is a date subclass; taking its .date() silently would ignore its time zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise CalendarError(f"{name} must be a date, got {type(value).__name__}")
    return value

