"""Exactly once, under random schedules and random crash points, checked against an independent model.

The model (``Oracle``) restates the timer semantics of ``procflow.engine.timers`` for the test procedures in a few
lines: which timers a state change arms, cancels, pauses, shifts or re-arms, and what firing each does. After
every step the dossiers' timers (as their logs say, and as queued) must equal the model; after every
scheduler run (crashed or not, then
restarted) the timer log must hold exactly the firings the model expects, each once, with its effects
(events, outbox rows) recorded exactly once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import timerdefs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from timerdefs import desk, officer

from procflow.clock import FakeClock
from procflow.dossier import EventKind
from procflow.engine.timers import shift_working_days
from procflow.jurisdiction import Registry
from procflow.store.sqlite import SQLiteStore
from procflow.workers.scheduler import Scheduler
from procflow.workers.timerstate import armed_timers

REGISTRY = Registry.default()
# the overdue timer only records lateness: a "citizen" recipient is dropped (form 04 goes out before the due date)
NOTIFY = {"remind": ("official",), "late": ("head",), "expire": ("citizen",), "escalate": ("head",)}


class Crash(BaseException):
    pass


class Oracle:
    """Expected timer rows per dossier: name -> [fire_at, status, armed_seq]."""

    def __init__(self, cal) -> None:
        self.cal = cal
        self.rows: dict[str, dict[str, list]] = {}
        self.fired: Counter[tuple[str, str, int]] = Counter()

    def due_rows(self, d) -> dict[str, list]:
        due = d.sla.due_at
        return {"remind": [shift_working_days(self.cal, due, -1), "armed", d.revision],
                "late": [due + timedelta(seconds=1), "armed", d.revision]}

    def filed(self, d, now) -> None:
        self.rows[d.id] = {"escalate": [now + timedelta(hours=30), "armed", 1], **self.due_rows(d)}

    def moved(self, before, d, now) -> None:
        rows = self.rows[d.id]
        if d.state in ("done", "withdrawn"):
            rows.clear()
        elif d.state == "supplement":
            rows.pop("escalate", None)
            for name in ("remind", "late"):
                if name in rows and rows[name][1] == "armed":
                    rows[name][1] = "paused"
            rows["expire"] = [now + timedelta(days=10), "armed", d.revision]
        else:  # back in processing
            rows.pop("expire", None)
            rows["escalate"] = [now + timedelta(hours=30), "armed", d.revision]
            fresh = self.due_rows(d)
            for name, row in fresh.items():
                kept = rows.get(name)
                if d.procedure == "t.pause" and kept is not None and kept[1] == "fired":
                    row[1] = "fired"  # the same deadline, shifted: a reminder that fired for it stays fired
                rows[name] = row

    def due(self, now) -> list[tuple[datetime, str, str]]:
        return sorted((r[0], did, name) for did, rows in self.rows.items() for name, r in rows.items()
                      if r[1] == "armed" and r[0] <= now)

    def run(self, now) -> set[tuple[str, str, int]]:
        """Everything due fires once, in due order; an expiry withdraws the dossier (cancelling its rows)."""
        out = set()
        for _, did, name in self.due(now):
            row = self.rows[did].get(name)
            if row is None or row[1] != "armed":
                continue
            out.add((did, name, row[2]))
            row[1] = "fired"
            if name == "expire":
                self.rows[did].clear()
        return out


class TimerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(timerdefs.T0)
        self.store = SQLiteStore(":memory:")
        self.engine = timerdefs.make_engine(self.store, self.clock, REGISTRY)
        self.commune = timerdefs.commune(self.engine)
        self.oracle = Oracle(self.engine.calendar)
        self.ids: list[str] = []
        self.logged = 0
        self.crashes = 0

    def teardown(self) -> None:
        self.store.close()

    @rule(pause_policy=st.booleans())
    def file(self, pause_policy: bool) -> None:
        if len(self.ids) >= 4:
            return
        d = self.engine.file("t.pause" if pause_policy else "t.restart", filed_at=self.commune,
                             actor=desk(self.commune))
        self.ids.append(d.id)
        self.oracle.filed(d, self.clock.now())

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(0, 3), choice=st.integers(0, 3))
    def act(self, pick: int, choice: int) -> None:
        d = self.engine.get(self.ids[pick % len(self.ids)])
        options = {"processing": [("request_supplement", officer), ("request_supplement", officer),
                                  ("finish", officer)],
                   "supplement": [("resubmit", desk), ("resubmit", desk), ("withdraw", desk)]}.get(d.state)
        if not options:
            return
        trigger, who = options[choice % len(options)]
        before = d.copy()
        self.engine.fire(d, trigger, who(self.commune))
        self.oracle.moved(before, d, self.clock.now())

    @rule(seconds=st.sampled_from([600, 4 * 3600, 20 * 3600, 30 * 3600, 2 * 86400, 8 * 86400]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(seconds=st.sampled_from([3600, 30 * 3600, 3 * 86400]))
    def wait_and_run(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)
        self.run_scheduler(None, 3)

    @rule(crash=st.none() | st.tuples(st.sampled_from(["finish_timer", "apply", "enqueue_outbox", "save_timers",
                                                       "due_timers"]), st.integers(1, 6)),
          batch=st.integers(1, 5))
    def run_scheduler(self, crash, batch: int) -> None:
        now = self.clock.now()
        expected = self.oracle.run(now)
        if crash is not None:
            target, k = crash
            real = getattr(self.store, target)
            calls = [0]

            def dying(*args, **kwargs):
                calls[0] += 1
                if calls[0] >= k:
                    raise Crash(f"killed in {target} (call {k})")
                return real(*args, **kwargs)

            setattr(self.store, target, dying)
            try:
                Scheduler(self.engine, worker="doomed", batch=batch).run_due(now)
            except Crash:
                self.crashes += 1
            finally:
                delattr(self.store, target)
        Scheduler(self.engine, worker="restarted", batch=batch).run_due(now)  # restart: the backlog, once
        log = self.store.timer_log()[self.logged:]
        self.logged += len(log)
        assert {e["outcome"] for e in log} <= {"fired", "cancelled"}  # moved-on armings: recorded, nothing else
        fired = [e for e in log if e["outcome"] == "fired"]
        new = [(e["dossier_id"], e["name"], e["armed_seq"]) for e in fired]
        assert sorted(new) == sorted(expected), "fired != what should have fired"
        assert [e["fire_at"] for e in log] == sorted(e["fire_at"] for e in log), "a restart fires in due order"
        self.oracle.fired.update(new)

    @invariant()
    def timers_match_the_model(self) -> None:
        queued = {(t.dossier_id, t.name, t.armed_seq) for t in self.store.timers()}
        for did in self.ids:
            got = {a.name: [a.fire_at, status, a.armed_seq] for a, status in armed_timers(self.engine, did)}
            assert got == self.oracle.rows[did], did
            assert {(did, n, r[2]) for n, r in got.items() if r[1] == "armed"} <= queued  # live ones are queued

    @invariant()
    def every_effect_is_recorded_exactly_once(self) -> None:
        fired = self.oracle.fired
        assert max(fired.values(), default=1) == 1
        keys = Counter(r["key"] for r in self.store.outbox() if r["key"].startswith("timer:"))
        assert keys == Counter(f"timer:{n}:{did}:{seq}:{who}" for did, n, seq in fired for who in NOTIFY[n])
        kinds = Counter((e.dossier_id, e.kind if e.kind != "fired" or e.note != "timer expire" else "expired")
                        for did in self.ids for e in self.store.events(did))
        for did in self.ids:
            mine = Counter(n for d, n, _ in fired if d == did)
            assert kinds[(did, EventKind.ESCALATED)] == mine["escalate"]
            assert kinds[(did, EventKind.OVERDUE)] == mine["late"]
            assert kinds[(did, "expired")] == mine["expire"] <= 1


TimerMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
test_random_schedules_and_crash_points_fire_each_timer_exactly_once = TimerMachine.TestCase
