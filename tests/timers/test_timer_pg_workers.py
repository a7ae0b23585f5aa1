"""Many schedulers on one PostgreSQL, with officials firing at the same time: each timer fires once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import timerdefs
from timerdefs import desk, officer

from procflow.clock import FakeClock
from procflow.errors import ConcurrencyConflict, TransitionNotAllowed
from procflow.store.postgres import PostgresStore
from procflow.workers.scheduler import Scheduler


def test_four_schedulers_and_an_official_share_a_backlog_without_doubles_or_deadlocks(timers_pg, registry, caplog):
    url, schema = timers_pg
    first = PostgresStore(url, schema=schema, pool_size=1)
    first._execute("TRUNCATE definitions, sequences, dossiers, events, outbox, audit, timers, timer_log "
                  "RESTART IDENTITY")
    clock = FakeClock(timerdefs.T0)
    engine = timerdefs.make_engine(first, clock, registry)
    c = timerdefs.commune(engine)
    ids = []
    with engine.batch():
        for i in range(240):
            clock.set(timerdefs.T0 + timedelta(minutes=i))
            d = engine.file("t.pause" if i % 2 else "t.restart", filed_at=c, actor=desk(c))
            if i % 4 == 0:
                engine.fire(d, "request_supplement", officer(c))
            ids.append(d.id)
    clock.set(timerdefs.T0 + timedelta(days=12))
    now = clock.now()
    assert len(first.timers(due_before=now, statuses=("armed",))) >= 600

    errors: list[BaseException] = []
    stats = {}

    def scheduler(name: str) -> None:
        store = PostgresStore(url, schema=schema, pool_size=1)
        try:
            stats[name] = Scheduler(timerdefs.make_engine(store, clock, registry), worker=name, batch=15).run_due(now)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    def official() -> None:  # fires on the same dossiers meanwhile: row locks, never a deadlock
        store = PostgresStore(url, schema=schema, pool_size=1)
        eng = timerdefs.make_engine(store, clock, registry)
        rng = random.Random(8)
        try:
            for _ in range(120):
                d = eng.get(rng.choice(ids))
                trigger, who = {"processing": ("finish", officer), "supplement": ("resubmit", desk)}.get(
                    d.state, (None, None))
                if trigger is None:
                    continue
                try:
                    eng.fire(d, trigger, who(c))
                except (ConcurrencyConflict, TransitionNotAllowed):
                    pass  # a scheduler changed it first: what an official sees as "reload"
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=scheduler, args=(f"w{i}",)) for i in range(4)]
    threads.append(threading.Thread(target=official))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert not [r for r in caplog.records if "rolled back" in r.getMessage()]  # not one batch hit a deadlock
    # a timer whose dossier an official held locked at that moment was skipped, not waited for: the next poll
    Scheduler(engine, worker="next-poll").run_due(now)
    log = first.timer_log()
    assert Counter(e["outcome"] for e in log).keys() <= {"fired", "discarded", "cancelled"}  # none failed
    keys = [(e["dossier_id"], e["name"], e["armed_seq"]) for e in log]
    assert len(keys) == len(set(keys))
    assert sum(1 for s in stats.values() if s.fired) >= 2, stats  # the work really was shared
    assert first.timers(due_before=now, statuses=("armed",)) == []  # nothing due was left behind
    fired = Counter(n for (_, n, _), e in zip(keys, log, strict=True) if e["outcome"] == "fired")
    outbox = [r["key"] for r in first.outbox() if r["key"].startswith("timer:")]
    assert len(outbox) == len(set(outbox)) == (fired["remind"] + fired["late"] + fired["expire"]
                                               + fired["escalate"])
    events = Counter(e.kind for i in ids for e in first.events(i))
    assert events["escalated"] == fired["escalate"] and events["overdue"] == fired["late"]
    first.close()
