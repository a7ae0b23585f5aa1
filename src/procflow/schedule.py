"""The official day-off schedule: which days civil servants do not work, and why, as shipped data.

Time limits are counted in the working days of the agencies (Decree 118/2025/NĐ-CP), and those are set
each year by the Government's letters, not only by the Labour Code: `holidays` guesses some of them and
has missed others. So procflow ships the decisions themselves (``procflow/data/days_off.toml``) with
their document numbers, lets a province add its own local days off (a file named by
``PROCFLOW_CALENDAR_FILE`` or returned by the ``procflow_register_calendar_files`` plugin hook), and treats a year
the shipped file does not cover as unsupported (the calendar warns there).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from procflow.errors import CalendarError

__all__ = ["CALENDAR_FILE_ENV", "DayEntry", "DaySchedule", "load_schedule", "shipped_schedule"]

CALENDAR_FILE_ENV = "PROCFLOW_CALENDAR_FILE"
_KINDS = ("off", "worked")
_DAY_KEYS = {"date", "kind", "reason", "document", "document_date", "confirmed"}


_Date = date  # inside DayEntry the field ``date`` shadows the type


@attrs.frozen
class DayEntry:
    """One decided day: off (a weekday not worked) or worked (a weekend day worked in exchange)."""

    date: date
    kind: str
    reason: str
    document: str
    document_date: _Date | None = None
    confirmed: bool = True
    origin: str = "procflow"
    """Which file said so: "procflow" for the shipped schedule, else the local file's path or plugin."""

    @property
    def source(self) -> str:
        """The document as people cite it: number and date (and a mark when unconfirmed)."""
        when = f" ngày {self.document_date:%d/%m/%Y}" if self.document_date else ""
        mark = " (unconfirmed)" if not self.confirmed else ""
        return f"{self.document}{when}{mark}"


@attrs.frozen
class DaySchedule:
    """Decided days and the years for which the decisions are complete."""

    entries: tuple[DayEntry, ...] = ()
    covered: frozenset[int] = frozenset()
    version: str = ""

    def merged(self, other: DaySchedule) -> DaySchedule:
        """Another file's days on top of this one's: the later file wins on the same date (a province
        knows its own days off better than the national file)."""
        by_date = {e.date: e for e in self.entries}
        by_date.update({e.date: e for e in other.entries})
        return DaySchedule(tuple(sorted(by_date.values(), key=lambda e: e.date)), self.covered | other.covered,
                           self.version)

    def lookup(self) -> Mapping[int, DayEntry]:
        return {e.date.toordinal(): e for e in self.entries}


def _where(origin: str, path: str) -> str:
    return f"{origin}: {path}"


def _parse(doc: Mapping[str, Any], origin: str) -> DaySchedule:
    problems: list[str] = []
    unknown_top = set(doc) - {"schema", "version", "years", "day"}
    if unknown_top:
        problems.append(_where(origin, f"unknown key(s) {', '.join(sorted(unknown_top))}"))
    if doc.get("schema", 1) != 1:
        problems.append(_where(origin, f"schema: expected 1, got {doc.get('schema')!r}"))
    covered: set[int] = set()
    years = doc.get("years", [])
    if not isinstance(years, list):
        problems.append(_where(origin, "years: must be an array of tables ([[years]])"))
        years = []
    for i, y in enumerate(years):
        year = y.get("year") if isinstance(y, dict) else None
        if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
            problems.append(_where(origin, f"years[{i}].year: expected a year between 2000 and 2100, got {year!r}"))
        else:
            covered.add(year)
    days = doc.get("day", [])
    if not isinstance(days, list):
        problems.append(_where(origin, "day: must be an array of tables ([[day]])"))
        days = []
    entries: dict[date, DayEntry] = {}
    for i, d in enumerate(days):
        at = f"day[{i}]"
        if not isinstance(d, dict):
            problems.append(_where(origin, f"{at}: must be a table"))
            continue
        if extra := set(d) - _DAY_KEYS:
            problems.append(_where(origin, f"{at}: unknown key(s) {', '.join(sorted(extra))}"))
        when, kind = d.get("date"), d.get("kind")
        if not isinstance(when, date) or isinstance(when, datetime):  # a TOML date, not a date-time
            problems.append(_where(origin, f"{at}.date: expected a TOML date like 2026-01-02, got {when!r}"))
            continue
        if not 2000 <= when.year <= 2100:
            problems.append(_where(origin, f"{at}.date: {when} is outside 2000–2100"))
            continue
        if kind not in _KINDS:
            problems.append(_where(origin, f"{at}.kind: expected \"off\" or \"worked\", got {kind!r}"))
            continue
        weekend = when.weekday() >= 5
        if kind == "worked" and not weekend:
            problems.append(_where(origin, f"{at}: {when} is a weekday; only a weekend day can be \"worked\""))
            continue
        reason, document = d.get("reason", ""), d.get("document", "")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(_where(origin, f"{at}.reason: say why the day is {kind} (a non-empty string)"))
            continue
        if not isinstance(document, str) or not document.strip():
            problems.append(_where(origin, f"{at}.document: name the deciding document (a non-empty string)"))
            continue
        doc_date = d.get("document_date")
        if doc_date is not None and (not isinstance(doc_date, date) or isinstance(doc_date, datetime)):
            problems.append(_where(origin, f"{at}.document_date: expected a TOML date, got {doc_date!r}"))
            continue
        confirmed = d.get("confirmed", True)
        if not isinstance(confirmed, bool):
            problems.append(_where(origin, f"{at}.confirmed: expected true or false, got {confirmed!r}"))
            continue
        if when in entries:
            problems.append(_where(origin, f"{at}.date: {when} is listed twice"))
            continue
        entries[when] = DayEntry(when, kind, reason.strip(), document.strip(), doc_date, confirmed, origin)
    if problems:
        raise CalendarError("day-off schedule refused:\n  " + "\n  ".join(problems))
    version = doc.get("version", "")
    return DaySchedule(tuple(sorted(entries.values(), key=lambda e: e.date)), frozenset(covered),
                       version if isinstance(version, str) else str(version))


def load_schedule(path: str | os.PathLike[str]) -> DaySchedule:
    """Read a day-off file (the shipped one's shape); every problem is named with the file and entry."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CalendarError(f"calendar file {p}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalendarError(f"calendar file {p}: not valid UTF-8 TOML ({exc})") from None
    return _parse(doc, str(p))


_SHIPPED: DaySchedule | None = None


def shipped_schedule() -> DaySchedule:
    """The national schedule procflow ships (parsed once per process)."""
    global _SHIPPED
    if _SHIPPED is None:
        text = resources.files("procflow").joinpath("data/days_off.toml").read_text(encoding="utf-8")
        _SHIPPED = _parse(tomllib.loads(text), "procflow")
    return _SHIPPED


def default_schedule(extra_files: Sequence[str | os.PathLike[str]] = (),
                     env: Mapping[str, str] | None = None) -> DaySchedule:
    """Shipped schedule + ``PROCFLOW_CALENDAR_FILE`` (if set) + ``extra_files`` (e.g. from plugins)."""
    env = os.environ if env is None else env
    schedule = shipped_schedule()
    files: list[str | os.PathLike[str]] = []
    if named := env.get(CALENDAR_FILE_ENV, "").strip():
        files.append(named)
    files.extend(extra_files)
    for f in files:
        schedule = schedule.merged(load_schedule(f))
    return schedule

