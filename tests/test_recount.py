"""`procflow db upgrade` recounts the deadlines of dossiers stored before the Civil Code counting: one
event each, history untouched, replay and the hash chain still verify, closed dossiers left alone."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
from operator_support import use_operator
from typer.testing import CliRunner

from procflow.calendar import WorkingCalendar
from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import EventKind, replay
from procflow.engine.core import Engine
from procflow.officehours import VN_TZ
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.privacy.hashchain import verify
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

runner = CliRunner()


class OldCounting(WorkingCalendar):
    """procflow's counting before the fix: the receipt day was day 1 of the limit."""

    def due_at(self, received_at: datetime, working_days: int) -> datetime:
        first = self.receipt_day(received_at)
        d = first
        for _ in range(max(working_days - 1, 0)):
            d = self.next_working_day(d)
        return datetime.combine(d, self.office_hours.sessions[-1][1], self.tz)


def _household_code() -> str:
    for d in bundled_definitions():
        if d.sla_days >= 1 and d.level == "commune":
            return d.code
    raise AssertionError("no multi-day commune procedure bundled")


def _old_store(path: str, registry, monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[list[str], str]:
    """A store as procflow wrote it before the fix: old due dates, schema without the recount step (with
    ``monkeypatch``: and this machine's operator, enrolled while the store was current, for ``db upgrade``)."""
    store = SQLiteStore(path)
    if monkeypatch is not None:
        use_operator(monkeypatch, store, roles={STORE_ADMIN_ROLE})  # db upgrade: the store's administrator
    clock = FakeClock(datetime(2026, 4, 20, 9, 0, tzinfo=VN_TZ))
    engine = Engine(store, registry=registry, clock=clock, calendar=OldCounting())
    for d in bundled_definitions():
        engine.register(d)
    code = _household_code()
    defn = engine.definition(code)
    commune = registry.communes_of("92")[0].code
    desk = staff_of(engine).official(commune, "desk")
    data = {f.name: ("2026-04-01" if f.type == "date" else "092123456789" if f.personal == "national_id"
                     else True if f.type == "bool" else 1 if f.type == "int" else "Nguyễn Văn An")
            for f in defn.fields if f.required}
    ids = []
    for _ in range(3):
        ids.append(engine.file(code, filed_at=commune, actor=desk, data=data).id)
    closing = engine.file("1.001193", filed_at=commune, actor=desk, data={
        "child_name": "Lê Thị Hoa", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789"})
    engine.fire(closing, "withdraw", desk)
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TABLE due_recount")
    db.execute("DELETE FROM procflow_migrations WHERE version = 6")
    db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    db.close()
    return ids, closing.id


def test_db_upgrade_recounts_open_dossiers_once(tmp_path, registry, monkeypatch):
    path = str(tmp_path / "old.db")
    open_ids, closed_id = _old_store(path, registry, monkeypatch)
    # the new code opening the old store (any command) lists what was written before; upgrade recounts it
    store = SQLiteStore(path)
    before = {i: store.get(i).sla.due_at for i in open_ids}
    assert sorted(store.due_recount_pending()) == sorted([*open_ids, closed_id])
    store.close()

    result = runner.invoke(app, ["db", "upgrade", "--db", path])
    assert result.exit_code == 0, result.output
    assert "3 open dossier(s) moved one working day later" in " ".join(result.output.split())

    store = SQLiteStore(path)
    cal = WorkingCalendar()
    for i in open_ids:
        d = store.get(i)
        events = store.events(i)
        assert events[-1].kind == EventKind.DUE_RECOUNTED and events[-1].effects["recount"]["previous_due_at"]
        assert [e.kind for e in events[:-1]] == ["filed"]  # history untouched
        assert d.sla.due_at == cal.due_at(d.received_at, d.sla.working_days)  # now as the law counts
        assert replay(events) == d
        assert d.sla.due_at > before[i]
    assert [e.kind for e in store.events(closed_id)][-1] != EventKind.DUE_RECOUNTED
    report = verify(store)
    assert report.ok, report
    store.close()

    again = runner.invoke(app, ["db", "upgrade", "--db", path])
    assert again.exit_code == 0 and "recounted" not in again.output
    store = SQLiteStore(path)
    assert all(len(store.events(i)) == 2 for i in open_ids)
    store.close()


def test_a_recount_sends_the_new_appointment_to_the_portal(tmp_path, registry):
    from procflow.engine.outbox import status_sync_topic, topic_rule
    from procflow.recount import recount_due_dates

    path = str(tmp_path / "old.db")
    open_ids, _ = _old_store(path, registry)
    store = SQLiteStore(path)
    engine = Engine(store, registry=registry, outbox_rules=[topic_rule([status_sync_topic(store)])],
                    clock=FakeClock(datetime(2026, 4, 21, 8, 0, tzinfo=VN_TZ)))
    report = recount_due_dates(engine)
    assert report.recounted == 3
    rows = [r for r in store.outbox() if r["topic"] == "portal.status"]
    assert {r["payload"]["dossier_id"] for r in rows} == set(open_ids)
    for r in rows:
        assert r["payload"]["due_at"] == store.get(r["payload"]["dossier_id"]).sla.due_at.isoformat()
    store.close()


def test_a_store_created_now_needs_no_recount(tmp_path, registry, clock, monkeypatch):
    path = str(tmp_path / "new.db")
    store = SQLiteStore(path)
    use_operator(monkeypatch, store, roles={STORE_ADMIN_ROLE})
    engine = Engine(store, registry=registry, clock=clock)
    for d in bundled_definitions():
        engine.register(d)
    code = _household_code()
    assert store.due_recount_pending() == []
    store.close()
    result = runner.invoke(app, ["db", "upgrade", "--db", path])
    assert result.exit_code == 0 and "recounted" not in result.output
    assert code  # the store was created by the current schema: nothing listed
