"""Injected time: the engine never calls ``datetime.now()`` itself, so tests and simulations control time."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from procflow.errors import UsageError

__all__ = ["Clock", "FakeClock", "SystemClock"]

_VN = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime."""
        ...


class SystemClock:
    """Wall-clock time in Vietnam's time zone."""

    def __init__(self, tz: ZoneInfo = _VN) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class FakeClock:
    """A clock that only moves when told to: simulations and tests jump it across days and holidays."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise UsageError("FakeClock needs an aware datetime (e.g. tzinfo=ZoneInfo('Asia/Ho_Chi_Minh'))")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise UsageError("FakeClock.set needs an aware datetime")
        if when < self._now:
            raise UsageError(f"time cannot go backwards: {when.isoformat()} < {self._now.isoformat()}")
        self._now = when

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        self.set(self._now + (delta if delta is not None else timedelta(**kwargs)))
        return self._now
