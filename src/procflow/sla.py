"""The SLA clock of a dossier: a pure value the engine keeps in the snapshot and rebuilds by replay.

Kept apart from the working calendar: the calendar answers 'which days count' for anyone (forms, the
reporting table, the CLI), while the clock is the engine's per-dossier state built on those answers.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from procflow.calendar import WorkingCalendar
from procflow.errors import CalendarError
from procflow.officehours import _aware

__all__ = [
    "ClockPolicy",
    "SlaClock",
]


class ClockPolicy(enum.StrEnum):
    """What a paused clock does when it resumes; named so definitions never carry magic integers."""

    PAUSE = "pause"
    """The deadline moves later by the office time spent paused (the limit keeps its progress)."""
    RESTART = "restart"
    """The full limit counts again from the resume moment; the default for supplement requests."""


def _non_negative(instance: SlaClock, attribute: attrs.Attribute[Any], value: int) -> None:
    if not isinstance(value, int) or value < 0:
        raise CalendarError(f"working_days must be a non-negative int, got {value!r}")


def _optional_aware(instance: SlaClock, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None:
        _aware(value, attribute.name)


@attrs.frozen
class SlaClock:
    """The SLA clock of one dossier (or one step). Pure value: every method returns a new clock.

    Being a value lets the engine store it in the dossier snapshot and rebuild it by replaying events.
    """

    working_days: int = attrs.field(validator=_non_negative)
    started_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    due_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    paused_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    stopped_at: datetime | None = attrs.field(default=None, validator=_optional_aware)
    # The new appointment of an extension (form 04, ``Engine.extend``): the date promised to the citizen and
    # sent to the portal as NgayHenTra. ``due_at`` keeps the legal limit, so lateness is still counted
    # against it (statistics, the overdue timer); only reminders and the portal follow the appointment.
    extended_due_at: datetime | None = attrs.field(default=None, validator=_optional_aware)

    @property
    def appointment_at(self) -> datetime | None:
        """The date promised to the citizen (ngày hẹn trả): the extension's, or the due date. A restarted or
        shifted due date later than the extension wins (the extension never brings the promise forward)."""
        if self.extended_due_at is None or self.due_at is None:
            return self.due_at
        return max(self.due_at, self.extended_due_at)

    @classmethod
    def start(cls, cal: WorkingCalendar, at: datetime, working_days: int) -> SlaClock:
        return cls(working_days, started_at=at, due_at=cal.due_at(at, working_days))

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None and self.stopped_at is None

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.paused_at is None and self.stopped_at is None

    def _not_before(self, at: datetime, name: str, earlier: datetime | None, what: str) -> None:
        _aware(at, name)
        if earlier is not None and at < earlier:
            raise CalendarError(
                f"{name} {at.isoformat()} is before the clock {what} at {earlier.isoformat()}"
            )

    def pause(self, at: datetime) -> SlaClock:
        """Stop counting while the dossier waits on the citizen; pausing twice keeps the first pause."""
        if self.stopped:
            raise CalendarError("cannot pause a stopped SLA clock")
        if self.paused:
            _aware(at, "at")
            return self
        self._not_before(at, "at", self.started_at, "started")
        return attrs.evolve(self, paused_at=at)

    def resume(self, cal: WorkingCalendar, at: datetime, policy: ClockPolicy) -> SlaClock:
        """Count again. Resuming a running clock is a no-op, so replaying events is harmless."""
        if self.stopped:
            raise CalendarError("cannot resume a stopped SLA clock")
        if not self.paused:
            _aware(at, "at")
            return self
        assert self.paused_at is not None and self.due_at is not None
        self._not_before(at, "at", self.paused_at, "paused")
        policy = ClockPolicy(policy)
        if policy is ClockPolicy.RESTART:
            return attrs.evolve(self, started_at=at, due_at=cal.due_at(at, self.working_days), paused_at=None)
        return attrs.evolve(self, due_at=cal.extend(self.due_at, self.paused_at, at), paused_at=None)

    def stop(self, at: datetime) -> SlaClock:
        """Stop for good (result ready, withdrawn, refused). Stopping twice keeps the first stop."""
        if self.stopped:
            _aware(at, "at")
            return self
        self._not_before(at, "at", self.started_at, "started")
        return attrs.evolve(self, stopped_at=at)

    def _frozen_at(self, at: datetime) -> datetime:
        """The moment the clock's reading is taken: a paused or stopped clock reads as when it froze."""
        moments = [m for m in (at, self.paused_at, self.stopped_at) if m is not None]
        return min(moments)

    def is_overdue(self, at: datetime) -> bool:
        """Late now? A paused clock is never overdue while paused; a stopped one iff it stopped late."""
        _aware(at, "at")
        if self.due_at is None or self.paused:
            return False
        return self._frozen_at(at) > self.due_at

    def remaining_working_days(self, cal: WorkingCalendar, at: datetime) -> int:
        """Working days left as of ``at`` (as of the pause or stop, if frozen); negative when late.

        While paused the figure is the one at the pause: under RESTART the resume will reset it anyway.
        """
        _aware(at, "at")
        if self.due_at is None:
            return self.working_days
        return cal.remaining_working_days(self.due_at, self._frozen_at(at))

