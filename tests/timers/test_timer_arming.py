"""Arming, cancelling, pausing and re-arming: always in the same transaction as the state change."""

from __future__ import annotations

from datetime import timedelta

import pytest
import timerdefs
from timerdefs import desk, officer

from procflow.clock import FakeClock
from procflow.engine.timers import shift_working_days
from procflow.errors import ConcurrencyConflict
from procflow.store.sqlite import SQLiteStore
from procflow.workers.timerstate import armed_timers


def armed(engine, dossier_id) -> dict[str, tuple]:
    """The dossier's timers as its log says (what ``procflow inspect`` shows), checked against the queue."""
    got = {a.name: (a.fire_at, status, a.armed_seq) for a, status in armed_timers(engine, dossier_id)}
    queued = {(t.name, t.armed_seq) for t in engine.store.timers(dossier_id=dossier_id)}
    assert {(n, v[2]) for n, v in got.items() if v[1] == "armed"} <= queued  # every live arming is queued
    return got


def test_filing_arms_the_timers_of_the_initial_state(tengine, tstore):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c))
    got = armed(tengine, d.id)
    assert set(got) == {"remind", "late", "escalate"}
    assert got["late"][0] == d.sla.due_at + timedelta(seconds=1)  # overdue: just after the due moment
    assert got["remind"][0] == shift_working_days(tengine.calendar, d.sla.due_at, -1)
    assert got["escalate"][0] == timerdefs.T0 + timedelta(hours=30)
    assert {v[2] for v in got.values()} == {1} and {v[1] for v in got.values()} == {"armed"}


def test_a_definition_without_timers_writes_no_timer_rows(tengine, tstore):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.plain", filed_at=c, actor=desk(c))
    tengine.fire(d, "request_supplement", officer(c))
    tengine.fire(d, "resubmit", desk(c))
    assert tengine.timer_table("t.plain", 1) is None
    assert tstore.timers(statuses=None) == []


def test_leaving_the_state_cancels_and_entering_arms(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c))
    tclock.advance(hours=2)
    tengine.fire(d, "request_supplement", officer(c))
    got = armed(tengine, d.id)
    assert "escalate" not in got  # custody timer of "processing": cancelled on leaving it
    assert got["expire"] == (tclock.now() + timedelta(days=10), "armed", 2)
    assert got["remind"][1] == got["late"][1] == "paused"  # due timers wait with the SLA clock
    tclock.advance(days=1)
    tengine.fire(d, "resubmit", desk(c))
    got = armed(tengine, d.id)
    assert "expire" not in got and got["escalate"][2] == 3
    tengine.fire(d, "finish", officer(c))
    assert armed(tengine, d.id) == {}  # a finished dossier has no timers


def test_restart_re_arms_due_timers_from_the_new_due_date_even_after_they_fired(tengine, tstore, tclock):
    from procflow.workers.scheduler import Scheduler

    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c))
    tclock.set(armed(tengine, d.id)["remind"][0] + timedelta(minutes=1))
    assert Scheduler(tengine).run_due().by_action == {"notify": 1, "escalate": 1}
    assert armed(tengine, d.id)["remind"][1] == "fired"
    d = tengine.get(d.id)
    tengine.fire(d, "request_supplement", officer(c))
    assert armed(tengine, d.id)["remind"][1] == "fired"  # pausing leaves a fired timer as it is
    tclock.advance(days=2)
    tengine.fire(d, "resubmit", desk(c))
    got = armed(tengine, d.id)
    new_due = tengine.get(d.id).sla.due_at
    assert got["remind"] == (shift_working_days(tengine.calendar, new_due, -1), "armed", d.revision)
    assert got["late"] == (new_due + timedelta(seconds=1), "armed", d.revision)


def test_pause_policy_shifts_due_timers_by_the_paused_office_time(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.pause", filed_at=c, actor=desk(c))
    before = armed(tengine, d.id)
    tclock.set(timerdefs.T0 + timedelta(hours=3))
    tengine.fire(d, "request_supplement", officer(c))
    tclock.set(timerdefs.T0 + timedelta(days=1, hours=3))  # one full working day (Mon 11:00 → Tue 11:00)
    tengine.fire(d, "resubmit", desk(c))
    after = armed(tengine, d.id)
    due = tengine.get(d.id).sla.due_at
    assert due == tengine.calendar.extend(before["late"][0] - timedelta(seconds=1),
                                          timerdefs.T0 + timedelta(hours=3), tclock.now())
    assert after["late"][0] == due + timedelta(seconds=1)
    assert after["remind"][0] == shift_working_days(tengine.calendar, due, -1)
    assert after["remind"][0] > before["remind"][0] and after["late"][0] > before["late"][0]


def test_pause_policy_keeps_a_fired_reminder_fired(tengine, tstore, tclock):
    from procflow.workers.scheduler import Scheduler

    c = timerdefs.commune(tengine)
    d = tengine.file("t.pause", filed_at=c, actor=desk(c))
    tclock.set(armed(tengine, d.id)["remind"][0] + timedelta(minutes=5))
    Scheduler(tengine).run_due()
    d = tengine.get(d.id)
    tengine.fire(d, "request_supplement", officer(c))
    tclock.advance(hours=20)
    tengine.fire(d, "resubmit", desk(c))
    got = armed(tengine, d.id)
    assert got["remind"][1] == "fired"  # same deadline, shifted: the official was already warned
    assert got["late"][1] == "armed"


def test_timer_rows_roll_back_with_a_refused_state_change(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c))
    stale = d.copy()
    tengine.fire(d, "request_supplement", officer(c))
    before = armed(tengine, d.id)
    with pytest.raises(ConcurrencyConflict):
        tengine.fire(stale, "finish", officer(c))  # would cancel every timer: must change nothing
    assert armed(tengine, d.id) == before and len(tstore.timers()) == 4  # 3 at filing, 1 on leaving
    with pytest.raises(RuntimeError), tstore.transaction():
        tengine.fire(d, "resubmit", desk(c))
        raise RuntimeError("crash after the write, before the commit")
    assert armed(tengine, d.id) == before and tstore.get(d.id).state == "supplement"


def test_a_store_from_before_timers_gains_the_tables_when_opened(tmp_path):
    import sqlite3

    from procflow.store import migrations
    from procflow.store.ddl import SQLITE_V1_SCHEMA as _SCHEMA

    path = str(tmp_path / "v1.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(_SCHEMA + ";\nINSERT INTO meta VALUES ('schema_version', '1');")
    db.close()
    store = SQLiteStore(path)
    assert store.schema_version == migrations.latest("sqlite") >= 2 and store.timers() == []
    engine = timerdefs.make_engine(store, FakeClock(timerdefs.T0))
    c = timerdefs.commune(engine)
    engine.file("t.restart", filed_at=c, actor=desk(c))
    assert len(store.timers()) == 3 and len(armed_timers(engine, store.dossier_ids()[0])) == 3
    store.close()
