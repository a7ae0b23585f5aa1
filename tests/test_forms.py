"""The one-stop forms (Circular 03/2025/TT-VPCP, Annex I) and the extension action behind form 04.

Real parts only: a real SQLite file, the real engine and vault, a real (small) simulation for the CLI.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.dossier import Actor, EventKind, replay
from procflow.engine.core import Engine
from procflow.engine.outbox import STATUS_SYNC, status_sync_topic, topic_rule
from procflow.errors import AccessDenied, ExtensionRefused, FormNotAvailable, NotCustodian
from procflow.forms import (
    ControlSlip,
    ExtensionLetter,
    ReceiptSlip,
    build_form,
    build_register,
    render_html,
    render_json,
    step_outcome,
)
from procflow.statistics import build_report
from procflow.testing.directory import enrol
from procflow.workers.timerstate import armed_timers

runner = CliRunner()


def _bundled_code(toml_name: str) -> str:
    from procflow.definition.reader import bundled_definitions

    return next(x.code for x in bundled_definitions() if str(x.file).endswith(toml_name))


HOUSEHOLD_BUSINESS = _bundled_code("household_business_registration.toml")  # 3 working days
BIRTH = "1.001193"
# the holder (chủ hồ sơ) the forms name is the parent who files (the definition's [applicant]), not the newborn
CHILD = {"child_name": "Nguyễn Thị Bình", "child_birth_date": "2026-04-01", "parent_name": "Nguyễn Văn An",
         "parent_national_id": "092123456789", "parent_phone": "0912345678"}
REASON = "Cần xác minh thêm thông tin khai sinh với cơ quan công an"


def desk(code: str, *roles: str) -> Actor:
    return Actor(f"desk@{code}", code, {"one_stop_officer", *roles})


def civil(code: str) -> Actor:
    return Actor(f"hotich@{code}", code, {"civil_status_officer"})


@pytest.fixture(autouse=True)
def cast(sqlite_store, registry):
    """The officials these tests name, enrolled in the test store's directory with the roles they act in
    (the engine refuses anyone its directory does not know)."""
    codes = [c.code for c in registry.communes_of("92")[:3]]
    enrol(sqlite_store, *(desk(c, "personal_data:unmask") for c in codes), *(civil(c) for c in codes))


@pytest.fixture
def synced(sqlite_store, registry, clock):
    """An engine whose events feed the portal sync topic (as a deployment with the portal plugin has)."""
    from procflow.definition.reader import bundled_definitions

    e = Engine(sqlite_store, registry=registry, clock=clock,
               outbox_rules=[topic_rule([status_sync_topic(sqlite_store)])])
    for d in bundled_definitions():
        e.register(d)
    return e


def _processing(engine, registry, clock):
    a = registry.communes_of("92")[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    clock.advance(minutes=30)
    engine.fire(d, "accept", desk(a))
    clock.advance(minutes=30)
    return a, d


def _next_working_day(engine, d: date) -> date:
    d += timedelta(days=1)
    while not engine.calendar.is_working_day(d):
        d += timedelta(days=1)
    return d


# -- form 04: the extension -----------------------------------------------------------------------------------
def test_extension_keeps_the_legal_limit_moves_the_appointment_and_replays(synced, registry, clock):
    from procflow_portal_http.shape import dossier_record, portal_time

    a, d = _processing(synced, registry, clock)
    due = d.sla.due_at
    new_day = _next_working_day(synced, due.astimezone(synced.calendar.tz).date())
    synced.extend(d.id, civil(a), reason=REASON, new_due=new_day)
    got = synced.get(d.id)
    assert got.sla.due_at == due  # statistics count lateness against the original limit
    assert got.sla.appointment_at == synced.calendar.close_of(new_day) > due
    assert replay(synced.history(d.id)) == got  # the event log is the truth
    last = synced.history(d.id)[-1]
    assert last.kind == EventKind.EXTENDED and last.effects["extension"]["previous_due_at"] == due.isoformat()
    # the portal is told: NgayHenTra is the new appointment, the previous date rides along
    sync = [m for m in synced.store.outbox() if m["topic"] == STATUS_SYNC]
    payload = sync[-1]["payload"] if isinstance(sync[-1]["payload"], dict) else json.loads(sync[-1]["payload"])
    assert payload["event"]["kind"] == "extended"
    assert dossier_record(payload)["NgayHenTra"] == portal_time(synced.calendar.close_of(new_day))
    assert payload["extension"]["previous_due_at"] == due.isoformat()
    assert payload["original_due_at"] == due.isoformat()
    # a later status change keeps sending the extended appointment
    clock.advance(hours=9)  # 18:00: after the legal limit (17:00), before the new appointment
    synced.fire(d.id, "approve", civil(a), data={"documents_complete": True})
    sync = [m for m in synced.store.outbox() if m["topic"] == STATUS_SYNC]
    payload = sync[-1]["payload"] if isinstance(sync[-1]["payload"], dict) else json.loads(sync[-1]["payload"])
    assert dossier_record(payload)["NgayHenTra"] == portal_time(synced.calendar.close_of(new_day))
    # ... and the statistics still count it late
    defs = {(x.code, x.version): x for x in synced.definitions()}
    report = build_report(synced.store.iter_dossiers(), defs, synced.calendar, registry, clock.now())
    assert report.total.completed == 1 and report.total.completed_late == 1


def test_reminders_follow_the_new_appointment_and_the_overdue_timer_the_legal_limit(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    due = d.sla.due_at
    new_day = _next_working_day(engine, due.astimezone(engine.calendar.tz).date())
    engine.extend(d.id, civil(a), reason=REASON, new_due=new_day)
    armed = {arming.name: arming for arming, status in armed_timers(engine, d.id) if status == "armed"}
    assert armed["due_reminder"].fire_at == engine.calendar.close_of(new_day) - timedelta(hours=2)
    assert armed["overdue"].fire_at == due + timedelta(seconds=1)


def test_a_second_extension_is_refused_and_changes_nothing(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    new_day = _next_working_day(engine, d.sla.due_at.astimezone(engine.calendar.tz).date())
    engine.extend(d.id, civil(a), reason=REASON, new_due=new_day)
    before = engine.get(d.id)
    with pytest.raises(ExtensionRefused, match="at most once") as info:
        engine.extend(d.id, civil(a), reason=REASON, new_due=_next_working_day(engine, new_day))
    assert info.value.rule == "already_extended"
    assert engine.get(d.id) == before and len(engine.history(d.id)) == before.revision
    assert any(x.outcome == "refused:ExtensionRefused" for x in engine.store.audit(dossier_id=d.id))


def test_extension_after_the_due_date_is_refused(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    clock.set(d.sla.due_at + timedelta(minutes=1))
    before = engine.get(d.id)
    with pytest.raises(ExtensionRefused, match="has passed") as info:
        engine.extend(d.id, civil(a), reason=REASON, new_due=_next_working_day(engine, clock.now().date()))
    assert info.value.rule == "after_due" and engine.get(d.id) == before


def test_extension_by_a_non_custodian_is_refused_and_the_dossier_is_untouched(engine, registry, clock):
    _, d = _processing(engine, registry, clock)
    other = registry.communes_of("92")[1].code
    before = engine.get(d.id)
    with pytest.raises(NotCustodian):
        engine.extend(d.id, civil(other), reason=REASON, new_due=_next_working_day(engine, clock.now().date()))
    assert engine.get(d.id) == before and engine.history(d.id)[-1].kind != EventKind.EXTENDED
    assert any(x.outcome == "refused:NotCustodian" and x.agency == other for x in engine.store.audit(dossier_id=d.id))


@pytest.mark.parametrize(("reason", "shift", "rule"), [
    ("", 1, "no_reason"),
    ("need more time", 1, "no_reason"),  # printed in the letter to the citizen: Vietnamese, with diacritics
    (REASON, 0, "bad_date"),  # not later than the current appointment
])
def test_extension_needs_a_vietnamese_reason_and_a_later_working_day(engine, registry, clock, reason, shift, rule):
    a, d = _processing(engine, registry, clock)
    day = d.sla.due_at.astimezone(engine.calendar.tz).date()
    if shift:
        day = _next_working_day(engine, day)
    with pytest.raises(ExtensionRefused) as info:
        engine.extend(d.id, civil(a), reason=reason, new_due=day)
    assert info.value.rule == rule and engine.get(d.id).revision == d.revision


# -- building and rendering ----------------------------------------------------------------------------------
def test_forms_are_masked_unless_the_reader_may_unmask(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    slip = build_form(engine, d.id, "01", desk(a))
    assert isinstance(slip, ReceiptSlip) and slip.header.masked
    page, data = render_html(slip), render_json(slip)
    for secret in ("092123456789", "Nguyễn Văn An", "Nguyễn Thị Bình", "0912345678"):
        assert secret not in page and secret not in data
    assert slip.dossier.applicant == "N. V. A." and slip.dossier.applicant_id.startswith("0921")
    full = build_form(engine, d.id, "01", desk(a, "personal_data:unmask"), unmask=True)
    assert not full.header.masked and "092123456789" in render_html(full)
    assert full.dossier.applicant == "Nguyễn Văn An"
    with pytest.raises(AccessDenied, match="personal_data:unmask"):
        build_form(engine, d.id, "01", desk(a), unmask=True)
    outsider = registry.communes_of("92")[2].code
    with pytest.raises(AccessDenied):
        build_form(engine, d.id, "06", desk(outsider))
    purposes = {(x.action, x.outcome, x.purpose) for x in engine.store.audit(dossier_id=d.id)}
    assert ("read", "allowed", "forms:01") in purposes and ("read:unmasked", "allowed", "forms:01") in purposes
    assert ("read", "refused:AccessDenied", "forms:06") in purposes


def test_receipt_times_are_shown_in_vietnam_time(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    page = render_html(build_form(engine, d.id, "01", desk(a)))
    assert "08 giờ 00 phút, ngày 20/04/2026" in page  # filed 08:00 Asia/Ho_Chi_Minh (01:00 UTC)
    assert "17 giờ 00 phút, ngày 20/04/2026" in page  # same-day procedure: due at the close of that day


def test_each_dossier_form_is_built_from_its_events(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    engine.fire(d, "request_supplement", civil(a), note="Bản sao giấy chứng sinh; Giấy tờ tùy thân của người đi khai")
    clock.advance(hours=1)
    engine.fire(d, "resubmit", desk(a))
    clock.advance(minutes=10)
    engine.extend(d, civil(a), reason=REASON, new_due=_next_working_day(engine, clock.now().date()))
    engine.fire(d, "stop_processing", civil(a), note="Người yêu cầu không đủ điều kiện đăng ký")
    refused = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(refused, "refuse_receipt", desk(a), note="Không thuộc thẩm quyền giải quyết")
    sup = build_form(engine, d.id, "02", desk(a))
    assert sup.items == ("Bản sao giấy chứng sinh", "Giấy tờ tùy thân của người đi khai")
    assert sup.officer == f"hotich@{a}" and sup.header.number.endswith("/02.3")
    assert build_form(engine, refused.id, "03", desk(a)).reasons == ("Không thuộc thẩm quyền giải quyết",)
    letter = build_form(engine, d.id, "04", desk(a))
    assert isinstance(letter, ExtensionLetter) and letter.reason == REASON
    assert letter.new_due_at > letter.original_due_at
    assert build_form(engine, d.id, "05", desk(a)).reason == "Người yêu cầu không đủ điều kiện đăng ký"
    slip = build_form(engine, d.id, "06", desk(a))
    assert isinstance(slip, ControlSlip) and [r.seq for r in slip.rows] == list(range(1, len(engine.history(d.id)) + 1))
    assert slip.rows[1].outcome == "đúng hạn" and slip.rows[-1].outcome in {"đúng hạn", "quá hạn"}
    with pytest.raises(FormNotAvailable, match="form 03"):
        build_form(engine, d.id, "03", desk(a))
    with pytest.raises(FormNotAvailable, match="unknown form number"):
        build_form(engine, d.id, "9", desk(a))
    register = build_register(engine, a, date(2026, 4, 20), date(2026, 4, 20), desk(a))
    assert [r.dossier_id for r in register.rows] == [d.id, refused.id]
    assert register.rows[0].appointment_at != register.rows[0].due_at  # the extension shows in the register
    for form in (sup, letter, slip, register):
        page = render_html(form)
        assert f"Mẫu số {form.header.form}" in page and "03/2025/TT-VPCP" in page and "http" not in page.lower()
        assert json.loads(render_json(form))["header"]["form"] == form.header.form


def test_step_outcome_early_on_time_late(engine):
    tz = engine.calendar.tz
    due = datetime(2026, 4, 23, 17, 0, tzinfo=tz)
    assert step_outcome(datetime(2026, 4, 22, 9, 0, tzinfo=tz), due, tz) == "trước hạn"
    assert step_outcome(datetime(2026, 4, 23, 9, 0, tzinfo=tz), due, tz) == "đúng hạn"
    assert step_outcome(datetime(2026, 4, 23, 17, 1, tzinfo=tz), due, tz) == "quá hạn"
    assert step_outcome(due, None, tz) == ""


# -- the command line, on a real simulation -------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("forms") / "sim.db"
    result = runner.invoke(app, ["simulate", "--days", "3", "--rate", "2", "--seed", "7", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return db


def _one(db, sql):
    row = sqlite3.connect(db).execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def _desk_of(dossier_id: str) -> str:
    return f"can.bo@{dossier_id.rsplit('-', 2)[0]}"


def _as(db, official_id: str) -> dict[str, str]:
    """The command line's environment acting as ``official_id`` (``<name>@<agency code>``), an operator
    enrolled in the store's officials directory with a 0600 credential beside the store."""
    from procflow.testing.directory import enrol_operator

    agency = official_id.rsplit("@", 1)[1]
    return enrol_operator(str(db), Path(db).parent / f"{official_id}.toml", official_id, agency)


def test_cli_renders_each_form_for_a_simulated_dossier(sim_db, tmp_path):
    from procflow.store.sqlite import SQLiteStore

    picks = {
        "01": "SELECT id FROM dossiers WHERE status = 10 ORDER BY id",
        "06": "SELECT id FROM dossiers WHERE status = 10 ORDER BY id",
        "02": "SELECT dossier_id FROM events WHERE status = 5 ORDER BY dossier_id",
        "03": "SELECT id FROM dossiers WHERE status = 3 ORDER BY id",
        "05": "SELECT id FROM dossiers WHERE status = 8 ORDER BY id",
    }
    ids = {form: _one(sim_db, sql) for form, sql in picks.items()}
    # form 04: the custodian of an open dossier extends it before its due date (engine time set just after
    # its last event: the simulation ran in April 2026)
    store = SQLiteStore(str(sim_db))
    try:
        open_ids = [r[0] for r in sqlite3.connect(sim_db).execute("SELECT id FROM dossiers WHERE status = 4")]
        for did in open_ids:
            d = store.get(did)
            if d.sla.running and d.sla.due_at > d.updated_at + timedelta(hours=1):
                break
        else:
            pytest.fail("the simulation left no open dossier before its due date")
        engine = Engine(store, clock=FakeClock(d.updated_at + timedelta(minutes=5)))
        day = _next_working_day(engine, d.sla.due_at.astimezone(engine.calendar.tz).date())
        engine.extend(did, Actor(f"official-0@{d.custodian}", d.custodian), reason=REASON, new_due=day)
        ids["04"] = did
    finally:
        store.close()
    for form, did in sorted(ids.items()):
        html, js = tmp_path / f"{form}.html", tmp_path / f"{form}.json"
        reader = _desk_of(did) if form != "04" else f"x@{d.custodian}"
        result = runner.invoke(app, ["forms", did, "--form", form, "--html", str(html), "--json", str(js),
                                     "--db", str(sim_db)], env=_as(sim_db, reader))
        assert result.exit_code == 0, (form, result.output)
        page = html.read_text(encoding="utf-8")
        assert did in page and f"Mẫu số {form}" in page and "<style>" in page
        assert json.loads(js.read_text(encoding="utf-8"))["header"]["form"] == form
    agency = ids["01"].rsplit("-", 2)[0]
    out = tmp_path / "07.html"
    result = runner.invoke(app, ["forms", "--form", "07", "--agency", agency, "--from", "2026-04-20", "--to",
                                 "2026-04-30", "--html", str(out), "--db", str(sim_db)],
                           env=_as(sim_db, f"so@{agency}"))
    assert result.exit_code == 0, result.output
    assert ids["01"] in out.read_text(encoding="utf-8") and "SỔ THEO DÕI HỒ SƠ" in out.read_text(encoding="utf-8")
    # the CLI's extend on the same store: the system clock is long past April 2026, so it is refused in one line
    refused = runner.invoke(app, ["extend", ids["04"], "--reason", REASON, "--new-date", "2026-12-31",
                                  "--db", str(sim_db)], env=_as(sim_db, f"x@{d.custodian}"))
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "at most once" in refused.output  # checked before the date: it was extended above


@pytest.mark.parametrize(("args", "message"), [
    (["--form", "09"], "unknown form number"),
    (["--form", "ab"], "unknown form number"),
    (["--form", "03"], "does not apply"),
    (["--form", "07", "--agency", "X", "--from", "2026-13-01", "--to", "2026-04-30"], "expected a date"),
    (["--form", "07"], "needs --agency"),
])
def test_cli_forms_bad_inputs_give_one_line(sim_db, args, message):
    did = _one(sim_db, "SELECT id FROM dossiers WHERE status = 10 ORDER BY id")
    target = [] if "07" in args else [did]
    result = runner.invoke(app, ["forms", *target, *args, "--db", str(sim_db)], env=_as(sim_db, _desk_of(did)))
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_unknown_dossier_and_bad_dates_give_one_line(sim_db):
    did = _one(sim_db, "SELECT id FROM dossiers WHERE status = 4 ORDER BY id")
    cases = [
        (["forms", "311.35.99.H92-260420-9999", "--form", "01"], "no dossier"),
        (["extend", did, "--reason", REASON, "--new-date", "31/12/2026"], "--new-date"),
        (["extend", "nope", "--reason", REASON, "--new-date", "2026-12-31"], "no dossier"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, "--db", str(sim_db)], env=_as(sim_db, _desk_of(did)))
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1


def test_simulated_dossier_codes_follow_the_dossier_code_structure(sim_db):
    from procflow.forms.records import DOSSIER_CODE

    ids = [r[0] for r in sqlite3.connect(sim_db).execute("SELECT id FROM dossiers")]
    assert ids and all(DOSSIER_CODE.match(i) for i in ids), [i for i in ids if not DOSSIER_CODE.match(i)][:3]
    assert not DOSSIER_CODE.match("311.20.99.H92-2604200-0001")


def test_form_json_moments_are_in_vietnam_time(engine, registry, clock):
    a, d = _processing(engine, registry, clock)
    data = json.loads(render_json(build_form(engine, d.id, "01", desk(a))))
    assert data["received_at"] == "2026-04-20T08:00:00+07:00" and data["header"]["issued_at"].endswith("+07:00")


def test_cli_extend_issues_form_04_once_and_forms_prints_it(tmp_path, registry):
    """The CLI runs on the wall clock: file a 3-working-day dossier now, so its due date is ahead of it."""
    from procflow.definition.reader import bundled_definitions
    from procflow.store.sqlite import SQLiteStore

    db = tmp_path / "live.db"
    engine = Engine(SQLiteStore(str(db)), registry=registry)
    for definition in bundled_definitions():
        engine.register(definition)
    a = registry.communes_of("92")[0].code
    enrol(engine, desk(a))
    d = engine.file(HOUSEHOLD_BUSINESS, filed_at=a, actor=desk(a), data={
        "business_name": "Tạp hóa Bình An", "owner_name": "Trần Thị Bình", "owner_national_id": "092198765432",
        "business_address": "12 đường 30/4, Ninh Kiều"})
    engine.fire(d, "accept", desk(a))
    engine.store.close()
    new_day = _next_working_day(engine, d.sla.due_at.astimezone(engine.calendar.tz).date())
    args = ["extend", d.id, "--reason", REASON, "--new-date", new_day.isoformat(), "--db", str(db)]
    officer = _as(db, f"kinh.te@{d.custodian}")
    first = runner.invoke(app, args, env=officer)
    assert first.exit_code == 0, first.output
    assert "form 04 issued" in first.output and f"{new_day:%d/%m/%Y}" in first.output
    second = runner.invoke(app, args, env=officer)
    assert second.exit_code == 1 and "at most once" in second.output
    letter = tmp_path / "04.json"
    shown = runner.invoke(app, ["forms", d.id, "--form", "04", "--json", str(letter), "--db", str(db)],
                          env=_as(db, f"desk@{a}"))
    assert shown.exit_code == 0, shown.output
    data = json.loads(letter.read_text(encoding="utf-8"))
    assert data["reason"] == REASON and data["new_due_at"].startswith(new_day.isoformat())
    assert "092198765432" not in letter.read_text(encoding="utf-8")  # masked for the desk


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.integers(min_value=0, max_value=4 * 24 * 60), extra=st.integers(min_value=1, max_value=10))
def test_extension_property_before_due_it_moves_only_the_appointment_after_due_it_is_refused(
        tmp_path_factory, registry, minutes, extra):
    from procflow.definition.reader import bundled_definitions
    from procflow.store.sqlite import SQLiteStore

    clock = FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    store = SQLiteStore(str(tmp_path_factory.mktemp("prop") / "p.db"))
    engine = Engine(store, registry=registry, clock=clock)
    for definition in bundled_definitions():
        if definition.code == HOUSEHOLD_BUSINESS:
            engine.register(definition)
    a = registry.communes_of("92")[0].code
    enrol(engine, desk(a))
    d = engine.file(HOUSEHOLD_BUSINESS, filed_at=a, actor=desk(a), data={
        "business_name": "Quán Bình", "owner_name": "Trần Thị Bình", "owner_national_id": "092198765432",
        "business_address": "12 đường 30/4"})
    engine.fire(d, "accept", desk(a))
    clock.advance(minutes=minutes)
    day = d.sla.due_at.astimezone(engine.calendar.tz).date()
    for _ in range(extra):
        day = _next_working_day(engine, day)
    head = Actor(f"lanh.dao@{d.custodian}", d.custodian)
    enrol(engine, head)
    before = engine.get(d.id)
    if clock.now() >= d.sla.due_at:
        with pytest.raises(ExtensionRefused):
            engine.extend(d.id, head, reason=REASON, new_due=day)
        assert engine.get(d.id) == before
    else:
        engine.extend(d.id, head, reason=REASON, new_due=day)
        after = engine.get(d.id)
        assert after.sla.due_at == before.sla.due_at and after.sla.appointment_at == engine.calendar.close_of(day)
        assert replay(engine.history(d.id)) == after and after.state == before.state
    store.close()
