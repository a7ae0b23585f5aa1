"""The scheduler: each action's effect, discards with a record, downtime backlogs, a poison timer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import timerdefs
from timerdefs import desk, officer

from procflow.dossier import EventKind, replay
from procflow.workers.scheduler import Scheduler
from procflow.workers.timerstate import armed_timers


def due_armings(engine, now) -> list[tuple]:
    """What should fire at ``now``: every dossier's live armings that are due, in due order."""
    return sorted((a.fire_at, did, a.name) for did in engine.store.dossier_ids()
                  for a, status in armed_timers(engine, did) if status == "armed" and a.fire_at <= now)


def outbox_keys(store) -> list[str]:
    return [r["key"] for r in store.outbox()]


def test_every_action_has_its_effect_once(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c), data={"phone": "0912345678"})
    tclock.advance(days=4)  # past the due date (3 working days after Monday 08:00 → Thursday 17:00)
    stats = Scheduler(tengine, worker="w").run_due()
    assert (stats.fired, stats.by_action) == (3, {"notify": 1, "escalate": 1, "overdue": 1})
    events = tstore.events(d.id)
    assert [e.kind for e in events] == ["filed", EventKind.ESCALATED, EventKind.OVERDUE]
    esc, late = events[1], events[2]
    assert esc.actor == f"scheduler@{c}" and esc.effects["escalation"]["reassign_to"] == "deputy"
    lateness = late.effects["overdue"]  # only recorded: form 04 is issued before the due date (Engine.extend)
    assert lateness["due_at"] == d.sla.due_at.isoformat() and lateness["working_days_late"] == 1
    assert replay(tstore.events(d.id)) == tstore.get(d.id)  # the log stays the truth: replay reproduces it
    rows = {r["key"]: r for r in tstore.outbox()}
    # the overdue timer tells the head of the unit, not the citizen (no apology after the fact)
    assert set(rows) == {f"timer:remind:{d.id}:1:official", f"timer:escalate:{d.id}:1:head",
                         f"timer:late:{d.id}:1:head"}
    head = rows[f"timer:late:{d.id}:1:head"]
    assert head["topic"] == "notify.official" and head["payload"]["overdue"]["working_days_late"] == 1
    assert rows[f"timer:escalate:{d.id}:1:head"]["payload"]["recipient"] == {"agency": c, "role": "head"}
    assert [(r["name"], r["outcome"], r["worker"]) for r in tstore.timer_log()] == [
        ("escalate", "fired", "w"), ("remind", "fired", "w"), ("late", "fired", "w")]  # in due order
    assert Scheduler(tengine).run_due().total == 0  # nothing fires twice


def test_an_expired_supplement_request_fires_through_the_engine(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c), data={"phone": "0912345678"})
    tengine.fire(d, "request_supplement", officer(c))
    tclock.advance(days=10, minutes=1)
    stats = Scheduler(tengine).run_due()
    assert stats.by_action == {"fire": 1} and stats.touched == {d.id}
    last = tstore.events(d.id)[-1]
    assert (last.trigger, last.to_state, last.actor, last.note) == ("withdraw", "withdrawn", f"scheduler@{c}",
                                                                   "timer expire")
    assert armed_timers(tengine, d.id) == [] and tstore.timers() == []  # the withdrawal cancelled the rest
    citizen = {r["key"]: r for r in tstore.outbox()}[f"timer:expire:{d.id}:2:citizen"]
    assert citizen["topic"] == "notify.citizen" and citizen["payload"]["recipient"]["phone"] == {
        "$vault": f"{d.id}/1/phone"}  # at rest: a vault reference; the delivery worker opens it
    assert tengine.vault.resolve_json(citizen["payload"])["recipient"]["phone"] == "0912345678"


def test_a_timer_whose_dossier_moved_on_is_discarded_with_a_record(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c))
    tengine.fire(d, "request_supplement", officer(c))  # arms "expire" (fires in 10 days)
    tclock.advance(hours=1)
    tengine.fire(d, "resubmit", desk(c))  # moved on: cancels it (the event says so; nothing is written for it)
    tclock.advance(days=11)
    stats = Scheduler(tengine).run_due()
    assert stats.by_action == {"escalate": 1, "notify": 1, "overdue": 1} and stats.cancelled >= 1
    entry = next(e for e in tstore.timer_log() if e["name"] == "expire")
    assert (entry["outcome"], entry["armed_seq"]) == ("cancelled", 2)
    assert "moved on" in entry["detail"] and "processing" in entry["detail"]
    assert tstore.get(d.id).state == "processing"
    assert [e.trigger for e in tstore.events(d.id) if e.kind == "fired"] == ["request_supplement", "resubmit"]


def test_a_fire_the_engine_refuses_is_discarded_and_audited(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    d = tengine.file("t.restart", filed_at=c, actor=desk(c))
    tengine.fire(d, "request_supplement", officer(c))
    tengine.add_guard("never", lambda _d, _data: False)
    table = tengine.timer_table("t.restart", 1)
    compiled = tengine._get_compiled("t.restart", 1)
    withdraw = compiled.table[("supplement", "withdraw")]
    import attrs

    object.__setattr__(compiled, "table", {**compiled.table,
                                           ("supplement", "withdraw"): attrs.evolve(withdraw, guards=("never",))})
    assert table is not None
    tclock.advance(days=11)
    assert Scheduler(tengine).run_due().discarded == 1
    (entry,) = [e for e in tstore.timer_log() if e["name"] == "expire"]
    assert entry["outcome"] == "discarded" and "refused 'withdraw'" in entry["detail"]
    assert any(a.outcome == "refused:GuardRejected" for a in tstore.audit(dossier_id=d.id))


def test_a_week_of_downtime_fires_the_backlog_once_each_in_due_order(tengine, tstore, tclock):
    c = timerdefs.commune(tengine)
    for day in range(5):  # the scheduler is down all week; the desk keeps working
        tclock.set(timerdefs.T0 + timedelta(days=day))
        for i in range(6):
            d = tengine.file("t.restart" if i % 2 else "t.pause", filed_at=c, actor=desk(c))
            if i % 3 == 0:
                tengine.fire(d, "request_supplement", officer(c))
    tclock.set(timerdefs.T0 + timedelta(days=9))  # Wednesday 29 April (Monday 27 is a day off)
    backlog = due_armings(tengine, tclock.now())
    assert len(backlog) > 40
    stats = Scheduler(tengine, batch=7).run_due()  # restart, small batches: order holds across batches
    assert stats.fired == len(backlog) and stats.batches > 5
    assert stats.cancelled > 0  # armings the log had cancelled (paused by a supplement request) were dropped
    log = tstore.timer_log()
    assert [e["fire_at"] for e in log] == sorted(e["fire_at"] for e in log)  # in due order, across batches
    assert sorted((e["fire_at"], e["dossier_id"], e["name"]) for e in log if e["outcome"] == "fired") == backlog
    assert len({(e["dossier_id"], e["name"], e["armed_seq"]) for e in log}) == len(log)
    assert all(e["fired_at"] == tclock.now() for e in log)  # late, but once
    assert Scheduler(tengine).run_due().total == 0


def test_a_poison_timer_is_set_aside_and_the_rest_fire(tengine, tstore, tclock, monkeypatch):
    c = timerdefs.commune(tengine)
    ids = [tengine.file("t.restart", filed_at=c, actor=desk(c)).id for _ in range(4)]
    tclock.advance(days=4)  # Friday: past Thursday's due date
    real = tengine.record

    def record(dossier, kind, *a, **kw):
        if (dossier if isinstance(dossier, str) else dossier.id) == ids[2] and kind == EventKind.OVERDUE:
            raise RuntimeError("a bug in one timer")
        return real(dossier, kind, *a, **kw)

    monkeypatch.setattr(tengine, "record", record)
    stats = Scheduler(tengine).run_due()
    assert (stats.fired, stats.failed) == (11, 1)
    failed = [e for e in tstore.timer_log() if e["outcome"] == "failed"]
    assert [(e["dossier_id"], e["name"]) for e in failed] == [(ids[2], "late")]
    assert "a bug in one timer" in failed[0]["detail"]
    assert Scheduler(tengine).run_due().total == 0  # failed is recorded, not retried for ever


def test_timers_fire_the_same_on_both_backends(backend, registry):
    from procflow.clock import FakeClock

    clock = FakeClock(timerdefs.T0)
    engine = timerdefs.make_engine(backend(), clock, registry)
    c = timerdefs.commune(engine)
    a = engine.file("t.restart", filed_at=c, actor=desk(c))
    b = engine.file("t.pause", filed_at=c, actor=desk(c))
    clock.advance(hours=1)
    engine.fire(b, "request_supplement", officer(c))
    clock.advance(days=11)
    stats = Scheduler(engine).run_due()
    assert stats.by_action == {"notify": 1, "escalate": 1, "overdue": 1, "fire": 1}
    assert engine.get(b.id).state == "withdrawn" and engine.get(a.id).revision == 3
    assert [(t.name, status) for t, status in armed_timers(engine, a.id)] == [
        ("escalate", "fired"), ("remind", "fired"), ("late", "fired")]
    assert Scheduler(engine).run_due().total == 0


@pytest.mark.parametrize("policy", ["t.restart", "t.pause"])
def test_inspect_and_the_timers_command_show_armed_and_due_timers(tmp_path, registry, policy):
    from typer.testing import CliRunner

    from procflow.cli.app import app
    from procflow.clock import FakeClock
    from procflow.store.sqlite import SQLiteStore

    path = str(tmp_path / "cli.db")
    store = SQLiteStore(path)
    engine = timerdefs.make_engine(store, FakeClock(timerdefs.T0), registry)
    c = timerdefs.commune(engine)
    d = engine.file(policy, filed_at=c, actor=desk(c))
    store.close()
    runner = CliRunner()
    from procflow.testing.directory import enrol_operator

    env = enrol_operator(path, tmp_path / "operator.toml", f"desk@{c}", c)
    r = runner.invoke(app, ["inspect", d.id, "--db", path], env=env)
    assert r.exit_code == 0, r.output
    assert "Timers (hẹn giờ)" in r.output and "escalate" in r.output and "remind" in r.output
    r = runner.invoke(app, ["timers", "--db", path, "--at", "2026-04-22T18:00:00+07:00"])
    assert r.exit_code == 0, r.output
    assert "Due timers at 2026-04-22 18:00: 2" in r.output and "remind" in r.output  # due Thu 23 17:00
    r = runner.invoke(app, ["timers", "--db", path, "--at", "2026-04-24T08:00:00+07:00", "--run", "--json"],
                      env=env)  # firing writes: the operator's credential
    assert r.exit_code == 0, r.output
    import json

    out = json.loads(r.stdout)  # stderr says the store is unanchored (it has no checkpoint key)
    assert out["run"]["fired"] == 3 and out["due"] == 0
    assert {(o["name"], o["outcome"]) for o in out["outcomes"]} == {("remind", "fired"), ("late", "fired"),
                                                                    ("escalate", "fired")}


def test_armings_settled_from_the_state_alone_are_recorded_as_the_full_check_records_them(tmp_path, registry):
    """The scheduler settles an arming whose dossier left the timer's states from one light read of the state
    (SQLite's ``dossier_state``) instead of decoding the record: the timer log must read exactly as when every
    arming goes through the full check."""
    from procflow.clock import FakeClock
    from procflow.store.sqlite import SQLiteStore

    logs = []
    for light in (True, False):
        store = SQLiteStore(str(tmp_path / f"light-{light}.db"))
        if not light:
            store.dossier_state = None  # type: ignore[method-assign]  # a store without the light read
        clock = FakeClock(timerdefs.T0)
        engine = timerdefs.make_engine(store, clock, registry)
        c = timerdefs.commune(engine)
        for _ in range(3):
            d = engine.file("t.restart", filed_at=c, actor=desk(c))
            engine.fire(d, "request_supplement", officer(c))  # arms "expire"
            clock.advance(hours=1)
            engine.fire(d, "resubmit", desk(c))  # moved on: the arming is cancelled when it falls due
        clock.advance(days=11)
        stats = Scheduler(engine).run_due()
        assert stats.cancelled >= 3
        logs.append([(e["dossier_id"][-4:], e["name"], e["armed_seq"], e["action"], e["outcome"], e["detail"])
                     for e in store.timer_log()])
        store.close()
    assert logs[0] == logs[1] and any(row[4] == "cancelled" and "moved on" in row[5] for row in logs[0])


# t.restart with an e-mail and an ID number, and a reminder that also goes to the citizen
SEALED = timerdefs.RESTART.replace('code = "t.restart"', 'code = "t.sealed"').replace(
    '[[states]]', '[[fields]]\nname = "email"\npersonal = "email"\n\n'
                  '[[fields]]\nname = "national_id"\npersonal = "national_id"\n\n[[states]]', 1).replace(
    'notify = ["official"]', 'notify = ["official", "citizen"]')


def test_timer_notices_stay_sealed_when_the_engine_memo_forgot_the_references(tengine, tstore, tclock,
                                                                               monkeypatch):
    """The scheduler's notice rows are sealed by ``EventWriter.seal_outbox`` like the engine's own: when the
    memo has forgotten the dossier's vault references (its bound reached in the middle of a batch), they are
    read from the store, and no phone, e-mail or ID number lands in the outbox in clear."""
    from procflow.definition.reader import parse_definition

    tengine.register(parse_definition(SEALED))
    c = timerdefs.commune(tengine)
    data = {"phone": "0912345678", "email": "an@example.vn", "national_id": "092123456789"}
    reminded = tengine.file("t.sealed", filed_at=c, actor=desk(c), data=data)
    expired = tengine.file("t.sealed", filed_at=c, actor=desk(c), data=data)
    tengine.fire(expired, "request_supplement", officer(c))
    opened = tengine.open_record

    def open_then_forget(d):
        d = opened(d)
        tengine.writer.memo.clear()  # forgotten between opening the record and writing its notices
        return d

    monkeypatch.setattr(tengine, "open_record", open_then_forget)
    tclock.advance(days=11)
    stats = Scheduler(tengine).run_due()
    assert stats.by_action.get("notify") and stats.by_action.get("fire") == 1
    rows = {r["key"]: r for r in tstore.outbox()}
    # a NOTIFY timer's notice, and a FIRE timer's (written after the engine fired)
    for d, key in ((reminded, f"timer:remind:{reminded.id}:1:citizen"),
                   (expired, f"timer:expire:{expired.id}:2:citizen")):
        payload = rows[key]["payload"]
        assert payload["recipient"] == {"phone": {"$vault": f"{d.id}/1/phone"}, "email": {"$vault": f"{d.id}/1/email"}}
        assert tengine.vault.resolve_json(payload)["recipient"] == {"phone": data["phone"], "email": data["email"]}
    stored = json.dumps([r["payload"] for r in tstore.outbox()], ensure_ascii=False)
    assert not [v for v in data.values() if v in stored]
