"""Timers in procedure definitions: what the TOML says, and every mistake named by its key path."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import timerdefs

from procflow.calendar import WorkingCalendar
from procflow.definition.model import TimerAction, TimerAnchor
from procflow.definition.reader import bundled_definitions, parse_definition
from procflow.engine.timers import shift_working_days
from procflow.errors import DefinitionError

BASE = timerdefs.RESTART.split("[[timers]]")[0]


def problems(timers_toml: str) -> dict[str, str]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(BASE + timers_toml, file="t.toml")
    return {p.path: p.message for p in info.value.problems}


def test_the_test_procedure_reads_every_kind_of_timer():
    d = parse_definition(timerdefs.RESTART)
    by = {t.name: t for t in d.timers}
    assert (by["remind"].anchor, by["remind"].action, by["remind"].working_days) == (
        TimerAnchor.DUE, TimerAction.NOTIFY, -1)
    assert by["remind"].states == ("processing", "supplement")  # default: every non-final state
    assert by["late"].notify == ("citizen", "head") and by["late"].working_days is None
    assert (by["expire"].states, by["expire"].calendar_days, by["expire"].trigger) == (("supplement",), 10, "withdraw")
    assert by["escalate"].hours == 30.0 and by["escalate"].reassign_to == "deputy"
    assert by["escalate"].notify == ("head",)  # escalation notifies the head of the unit by default


def test_unknown_states_and_triggers_are_named_by_key_path():
    found = problems("""
[[timers]]
name = "x"
anchor = "state"
states = ["supplement", "nowhere", "done"]
calendar_days = 3
action = "fire"
trigger = "finish"

[[timers]]
name = "y"
anchor = "due"
working_days = -1
action = "fire"
trigger = "no_such_trigger"
""")
    assert found["timers[0].states[1]"].startswith("unknown state 'nowhere'")
    assert "final state" in found["timers[0].states[2]"]
    assert "cannot be fired from state(s) 'supplement', where" in found["timers[0].trigger"]
    assert found["timers[1].trigger"].startswith("unknown trigger 'no_such_trigger'")


@pytest.mark.parametrize(("toml", "path", "words"), [
    ('name = "a"\nanchor = "state"\ncalendar_days = 3\naction = "notify"\nnotify = "citizen"',
     "timers[0].states", "names the state"),
    ('name = "a"\nanchor = "later"\ncalendar_days = 3\naction = "notify"\nnotify = "citizen"',
     "timers[0].anchor", "unknown anchor"),
    ('name = "a"\nanchor = "due"\nworking_days = 1\naction = "ring"', "timers[0].action", "unknown action"),
    ('name = "a"\nanchor = "due"\naction = "notify"\nnotify = "citizen"', "timers[0]", "needs an offset"),
    ('name = "a"\nanchor = "due"\nworking_days = 1\nhours = 2\naction = "notify"\nnotify = "citizen"',
     "timers[0].working_days", "not several"),
    ('name = "a"\nanchor = "state"\nstates = "supplement"\ncalendar_days = -3\naction = "notify"\n'
     'notify = "citizen"', "timers[0].calendar_days", "must be > 0"),
    ('name = "a"\nanchor = "due"\nworking_days = 1\naction = "notify"', "timers[0].notify", "names who"),
    ('name = "a"\nanchor = "due"\nworking_days = 1\naction = "notify"\nnotify = ["mayor"]',
     "timers[0].notify[0]", "unknown recipient 'mayor'"),
    ('name = "a"\nanchor = "state"\nstates = "processing"\nhours = 1\naction = "overdue"', "timers[0].anchor",
     "use anchor = 'due'"),
    ('name = "a"\nanchor = "absolute"\naction = "notify"\nnotify = "official"', "timers[0].at", "needs at"),
    ('name = "a"\nanchor = "absolute"\nat = 2026-05-01T08:00:00\naction = "notify"\nnotify = "official"',
     "timers[0].at", "UTC offset"),
    ('name = "a"\nanchor = "due"\nworking_days = 1\naction = "notify"\nnotify = "official"\nreassign_to = "x"',
     "timers[0].reassign_to", "only action = 'escalate'"),
    ('name = "a"\nanchor = "due"\nworking_days = 1\naction = "notify"\nnotify = "official"\ncolour = "red"',
     "timers[0].colour", "unknown key"),
    ('name = "a b"\nanchor = "due"\nworking_days = 1\naction = "notify"\nnotify = "official"', "timers[0].name",
     "not a valid timer name"),
])
def test_each_mistake_has_its_message(toml, path, words):
    found = problems("[[timers]]\n" + toml + "\n")
    assert path in found, found
    assert words in found[path]


def test_duplicate_names_and_absolute_timers():
    found = problems('[[timers]]\nname = "a"\nanchor = "absolute"\nat = 2026-05-01T08:00:00+07:00\n'
                     'action = "notify"\nnotify = "official"\n'
                     '[[timers]]\nname = "a"\nanchor = "due"\nworking_days = 1\naction = "notify"\n'
                     'notify = "official"\n')
    assert found == {"timers[1].name": "duplicate timer 'a'"}
    ok = parse_definition(BASE + '[[timers]]\nname = "a"\nanchor = "absolute"\nat = 2026-05-01T08:00:00+07:00\n'
                                 'action = "notify"\nnotify = "official"\n')
    assert ok.timers[0].at == datetime.fromisoformat("2026-05-01T08:00:00+07:00")


def test_bundled_procedures_carry_expiring_supplements_reminders_and_overdue_letters():
    defs = {d.code: d for d in bundled_definitions()}
    for code, d in defs.items():
        names = {t.name for t in d.timers}
        assert {"supplement_expiry", "overdue"} <= names, code
        expiry = next(t for t in d.timers if t.name == "supplement_expiry")
        assert expiry.action is TimerAction.FIRE and expiry.states == ("supplement_requested",)
    assert {t.name for t in defs["1.012751"].timers} >= {"due_reminder", "custody_escalation"}
    assert next(t for t in defs["1.001193"].timers if t.name == "due_reminder").hours == -2


def test_working_day_offsets_keep_the_time_of_day_and_skip_days_off():
    cal = WorkingCalendar()
    due = datetime(2026, 5, 4, 17, 0, tzinfo=timerdefs.VN)  # Monday after the 30/4–1/5 holidays
    before = shift_working_days(cal, due, -2)
    assert before.date() == date(2026, 4, 28) and before.hour == 17  # 29/4 is worked; 30/4, 1/5 are off
    assert shift_working_days(cal, due, -1).date() == date(2026, 4, 29)
    assert shift_working_days(cal, due, 0) == due
    assert shift_working_days(cal, datetime(2026, 4, 29, 9, tzinfo=timerdefs.VN), 1).date() == date(2026, 5, 4)
