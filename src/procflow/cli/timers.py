"""``procflow timers``: what is due (or armed) in a store; ``--run`` fires what is due (cron-style).

The long-running way to fire timers is ``procflow worker`` (a ``Scheduler`` beside the outbox delivery);
``--run`` is for an embedded store without a worker: run it from cron and each due timer fires once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from procflow.cli._common import DbOption, as_operator, fail, open_store_or_fail, out, require_db
from procflow.errors import ProcflowError

if TYPE_CHECKING:
    from procflow.engine.core import Engine

__all__ = ["due_timers", "register", "timers_table"]


Row = tuple[datetime, str, str, str, str, int]  # (fire_at, dossier, timer, state, status, armed by event)


def timers_table(rows: Iterable[Row], *, title: str, now: datetime | None = None) -> Table:
    """A table of timers (for ``procflow timers`` and ``procflow inspect``), times in Vietnam's time zone."""
    from procflow.officehours import VN_TZ

    t = Table(title=title, title_justify="left")
    for col in ("due at", "dossier", "timer", "state", "status", "armed by event"):
        t.add_column(col)
    for fire_at, dossier_id, name, state, status, seq in rows:
        when = fire_at.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M")
        late = now is not None and status == "armed" and fire_at <= now
        t.add_row(f"[red]{when}[/]" if late else when, dossier_id, name, state,
                  "paused with the SLA clock" if status == "paused" else status, f"#{seq}")
    return t


def dossier_timers(engine: Engine, dossier_id: str) -> list[Row]:
    """A dossier's timers as its log says (armed, paused, or their outcome), in due order."""
    from procflow.workers.timerstate import armed_timers

    state = engine.store.get(dossier_id).state
    return [(a.fire_at, dossier_id, a.name, state, status, a.armed_seq)
            for a, status in armed_timers(engine, dossier_id)]


def due_timers(engine: Engine, at: datetime | None) -> list[Row]:
    """Queued armings due at ``at`` (every live one when None) that would fire: cancelled ones are left out."""
    from procflow.workers.timerstate import settled

    out: list[Row] = []
    for t in engine.store.timers(due_before=at):
        d = engine.store.get(t.dossier_id)
        table = engine.timer_table(d.procedure, d.definition_version)
        if table is not None and t.name in table.by_name and settled(engine, d, table, t) is None:
            out.append((t.fire_at, t.dossier_id, t.name, d.state, "armed", t.armed_seq))
    return out


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    from procflow.officehours import VN_TZ

    try:
        value = datetime.fromisoformat(at)
    except ValueError as exc:
        fail(f"--at: expected an ISO date and time ({exc})")
    if not 2000 <= value.year <= 2100:
        fail(f"--at: {at} is outside the years procflow counts (2000–2100)")
    return value if value.tzinfo is not None else value.replace(tzinfo=VN_TZ)


def _run_due(db: str, store: Any, engine: Engine, now: datetime, checkpoint_every: float) -> dict[str, Any]:
    """Fire what is due, as a long-running writer does: checkpoints every ``checkpoint_every`` seconds and one
    at the end (``procflow.cli.adapters.checkpoints``); SIGTERM / Ctrl-C end it after the batch in hand (it
    commits), then the last checkpoint is taken."""
    import signal

    from procflow.cli.adapters import checkpoints
    from procflow.workers.scheduler import Scheduler

    scheduler = Scheduler(engine)
    previous = {sig: signal.signal(sig, lambda *_: scheduler.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with checkpoints(db, store, checkpoint_every):
            return scheduler.run_due(now).to_dict()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    """Mount ``procflow timers`` on the main command."""

    @app.command("timers")
    def timers_cmd(
        db: DbOption = None,
        at: Annotated[str | None, typer.Option(help="Moment to look at (ISO; default now, Asia/Ho_Chi_Minh "
                                                    "when no offset is given).")] = None,
        show_all: Annotated[bool, typer.Option("--all", help="Every armed timer, not only the due ones.")] = False,
        limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 50,
        run: Annotated[bool, typer.Option(help="Fire the due timers now (once each), then report.")] = False,
        checkpoint_every: Annotated[float, typer.Option(min=0, help="With --run: seconds between checkpoints of "
                                                        "the log while it runs, and one at the end (0: none; needs a "
                                                        "checkpoint key, `procflow keys init --checkpoint`).")] = 60.0,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """List the timers that are due (or armed) in a store; --run fires the due ones."""
        from procflow.clock import Clock, FakeClock, SystemClock
        from procflow.engine.core import Engine
        from procflow.officehours import VN_TZ
        db = require_db(db)
        moment = _parse_at(at)
        now = moment or datetime.now(VN_TZ)
        clock: Clock = FakeClock(now) if moment is not None else SystemClock()
        store = open_store_or_fail(db)  # never a schema upgrade; a look takes no write lock
        if run:  # firing writes events: the operator's credential, recorded in the audit
            try:
                as_operator(store, "timers:run")
            except typer.Exit:
                store.close()
                raise
        try:
            engine = Engine(store, clock=clock)
            report: dict[str, Any] = {"at": now.isoformat()}
            if run:
                report["run"] = _run_due(db, store, engine, now, checkpoint_every)
            due = due_timers(engine, now)
            rows = due_timers(engine, None) if show_all else due
            outcomes = store.timer_counts()
        except ProcflowError as exc:
            fail(f"{exc}")
        finally:
            store.close()
        report.update(due=len(due), timers=[{"dossier_id": d, "name": n, "fire_at": f.isoformat(), "state": s,
                                            "armed_seq": q} for f, d, n, s, _st, q in rows[:limit]],
                      outcomes=[{"name": n, "action": a, "outcome": o, "count": c}
                                for (n, a, o), c in sorted(outcomes.items())])
        if as_json:
            sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
            return
        if run:
            r = report["run"]
            out.print(f"fired {r['fired']}, discarded {r['discarded']}, failed {r['failed']} "
                       f"(cancelled armings dropped: {r['cancelled']})")
        title = (f"Armed timers: {len(rows):,}" if show_all
                 else f"Due timers at {now.astimezone(VN_TZ).strftime('%Y-%m-%d %H:%M')}: {len(due):,}")
        out.print(timers_table(rows[:limit], title=title, now=now))
        if outcomes:
            summary = ", ".join(f"{n} {o} {c:,}" for (n, _a, o), c in sorted(outcomes.items()))
            out.print(f"so far: {summary}")
