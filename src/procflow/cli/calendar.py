"""``procflow calendar``: the day-off schedule and the due-date arithmetic, as an official checks them.

Mounted by ``procflow.cli.app`` through ``register(app)``. ``show`` lists a year's days off and Saturdays
worked with the documents that decided them; ``due`` prints the moment a limit falls due and why, so a
desk can compare procflow's appointment date (NgayHenTra) with its own software line by line.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from procflow.calendar import WorkingCalendar
from procflow.cli._common import err, fail, out
from procflow.errors import CalendarWarning, ProcflowError
from procflow.officehours import VN_TZ, local_time

__all__ = ["register"]

calendar_app = typer.Typer(help="Working days: the official day-off schedule and due dates (ngày làm việc).",
                           no_args_is_help=True)


_fail = fail


def _calendar() -> WorkingCalendar:
    try:
        return WorkingCalendar()
    except ProcflowError as exc:  # a bad PROCFLOW_CALENDAR_FILE
        _fail(str(exc))
        raise  # unreachable


def _parse_moment(text: str) -> datetime:
    """"2026-04-20 15:30" (Viet Nam time) or ISO 8601 with an offset."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("T", " ", 1))
    except ValueError:
        _fail(f"--received {text!r}: expected a date and time like \"2026-04-20 15:30\" (Viet Nam time)")
        raise
    if not 2000 <= dt.year <= 2100:
        _fail(f"--received {text!r}: the year must be between 2000 and 2100")
    return dt.replace(tzinfo=VN_TZ) if dt.tzinfo is None else dt


def _covered_note(cal: WorkingCalendar, year: int) -> str | None:
    if year in cal.covered_years:
        return None
    span = cal.supported_years
    known = f"{span.start}–{span.stop - 1}" if span else "none"
    return (f"{year} is not covered by procflow's day-off schedule (covered: {known}): days below are "
            "guessed from the `holidays` library; add the Government's decisions with PROCFLOW_CALENDAR_FILE")


def show(year: Annotated[int, typer.Argument(help="Calendar year, e.g. 2026.")]) -> None:
    """List the year's days off (weekdays not worked) and Saturdays worked, with their documents."""
    if not 2000 <= year <= 2100:
        _fail(f"year {year}: must be between 2000 and 2100")
    cal = _calendar()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarWarning)  # said once, below, in the user's words
        rows = []
        d = date(year, 1, 1)
        while d.year == year:
            worked, weekend = cal.is_working_day(d), d.weekday() >= 5
            if worked == weekend:  # a weekday off or a weekend day worked
                entry = cal.decided(d)
                why = entry.reason if entry else "(from the `holidays` library)"
                source = entry.source if entry else "—"
                rows.append((d, "worked (làm bù)" if worked else "off (nghỉ)", why, source))
            d += timedelta(days=1)
    note = _covered_note(cal, year)
    if note:
        err.print(f"[yellow]warning:[/] {note}", highlight=False)
    t = Table(title=f"Days off and Saturdays worked, {year} (lịch nghỉ của cán bộ, công chức)", title_justify="left")
    for col in ("date", "day", "kind", "why", "document"):
        t.add_column(col)
    for d, kind, why, source in rows:
        t.add_row(d.isoformat(), f"{d:%a}", kind, why, source)
    out.print(t)
    off = sum(1 for r in rows if r[1].startswith("off"))
    out.print(f"{off} weekday(s) off, {len(rows) - off} weekend day(s) worked"
              + ("" if note else f" · schedule version {cal.schedule.version or '—'}"), highlight=False)


def due(
    received: Annotated[str, typer.Option(help='When the dossier was received, e.g. "2026-04-20 15:30" '
                                               "(Viet Nam time unless an offset is given).")],
    days: Annotated[int, typer.Option(help="The time limit in working days (0 = same day, trong ngày).",
                                      min=0, max=365)],
) -> None:
    """Print when a time limit falls due, with the reasoning (Civil Code 2015, art. 147)."""
    moment = _parse_moment(received)
    cal = _calendar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalendarWarning)
        lines = cal.explain_due(moment, days)
    for w in {str(c.message) for c in caught}:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    for line in lines:
        out.print(line, highlight=False)
    out.print(f"[bold]due {local_time(cal.due_at(moment, days), '%A %d/%m/%Y %H:%M')}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    calendar_app.command(name="show")(show)
    calendar_app.command(name="due")(due)
    app.add_typer(calendar_app, name="calendar")
