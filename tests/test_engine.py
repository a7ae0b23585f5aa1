"""The engine: custody, hand-offs, guards, SLA clock, refusals that change nothing, versions, replay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procflow.definition.reader import parse_definition
from procflow.dossier import Actor, replay
from procflow.engine.core import Engine
from procflow.errors import (
    ConcurrencyConflict,
    DefinitionError,
    GuardRejected,
    InvalidData,
    NotCustodian,
    RoleNotGranted,
    StoreError,
    TransitionNotAllowed,
    UnknownAgency,
)
from procflow.testing.directory import staff_of

BIRTH = "1.001193"
LAND = "1.012751"
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789"}


def communes(registry, n=3):
    return registry.communes_of("92")[:n]


def desk(code):
    return Actor(f"desk@{code}", code, {"one_stop_officer"})


def civil(code):
    return Actor(f"hotich@{code}", code, {"civil_status_officer"})


@pytest.fixture(autouse=True)
def cast(engine, registry):
    """The officials these tests name, enrolled with the roles they act in (the engine refuses anyone its
    directory does not know; ``enrol`` adds the ones whose agency a dossier decides)."""
    staff = staff_of(engine)
    staff.actors(*(f(c.code) for c in communes(registry) for f in (desk, civil)))
    return staff


def snapshot_state(engine, dossier_id):
    return engine.get(dossier_id), engine.history(dossier_id), engine.store.outbox()


def test_birth_registration_same_day_happy_path(engine, registry, clock):
    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    assert d.id.startswith(f"{a}-260420-")
    assert (d.state, d.status, d.custodian) == ("received", 2, a)
    assert d.sla.due_at.hour == 17 and d.sla.due_at.date() == clock.now().date()
    clock.advance(minutes=10)
    engine.fire(d, "accept", desk(a))
    clock.advance(minutes=30)
    engine.fire(d, "approve", civil(a), data={"documents_complete": True})
    assert (d.state, d.status) == ("processed", 9)
    assert d.sla.stopped and not d.sla.is_overdue(clock.now())
    engine.fire(d, "return_result", desk(a))
    assert d.status == 10 and d.revision == 4
    assert engine.get(d.id) == d
    assert engine.replay(d.id) == d


def test_dossier_codes_follow_agency_date_sequence(engine, registry):
    a = communes(registry)[0].code
    ids = [engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD).id for _ in range(3)]
    assert ids == [f"{a}-260420-{i:04d}" for i in (1, 2, 3)]


def test_illegal_trigger_names_state_and_allowed_and_changes_nothing(engine, registry):
    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    before = snapshot_state(engine, d.id)
    with pytest.raises(TransitionNotAllowed) as info:
        engine.fire(d, "return_result", desk(a))
    assert info.value.state == "received" and info.value.trigger == "return_result"
    assert set(info.value.allowed) == {"accept", "refuse_receipt", "withdraw"}
    assert "allowed here: accept, refuse_receipt, withdraw" in str(info.value)
    assert snapshot_state(engine, d.id) == before
    assert d.revision == 1 and d.state == "received"
    refusals = engine.store.audit(dossier_id=d.id)
    assert [r.outcome for r in refusals] == ["refused:TransitionNotAllowed"]


def test_wrong_agency_is_not_custodian_and_is_audited(engine, registry):
    a, b = (c.code for c in communes(registry, 2))
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    before = snapshot_state(engine, d.id)
    with pytest.raises(NotCustodian) as info:
        engine.fire(d, "accept", desk(b))
    assert info.value.custodian == a and info.value.agency == b
    assert snapshot_state(engine, d.id) == before
    audit = engine.store.audit(dossier_id=d.id)
    assert audit[0].agency == b and audit[0].outcome == "refused:NotCustodian"


def test_wrong_role_refused(engine, registry):
    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(d, "accept", desk(a))
    with pytest.raises(RoleNotGranted, match="needs role civil_status_officer") as info:
        engine.fire(d, "approve", desk(a), data={"documents_complete": True})
    assert not isinstance(info.value, NotCustodian)  # the agency is the custodian: the role is what is missing
    assert engine.store.audit(dossier_id=d.id)[-1].outcome == "refused:RoleNotGranted"
    assert d.state == "processing" and engine.get(d.id).revision == 2


def test_guard_refusal_keeps_data_out(engine, registry):
    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(d, "accept", desk(a))
    with pytest.raises(GuardRejected) as info:
        engine.fire(d, "approve", civil(a), data={"documents_complete": False})
    assert info.value.guard == "documents_complete"
    assert "documents_complete" not in engine.get(d.id).data


def test_filing_errors(engine, registry):
    a, b = (c.code for c in communes(registry, 2))
    with pytest.raises(UnknownAgency, match="99999"):
        engine.file(BIRTH, filed_at="99999", actor=desk(a), data=CHILD)
    with pytest.raises(NotCustodian):
        engine.file(BIRTH, filed_at=a, actor=desk(b), data=CHILD)
    with pytest.raises(InvalidData, match="required field"):
        engine.file(BIRTH, filed_at=a, actor=desk(a), data={"child_name": "X"})
    with pytest.raises(InvalidData, match="declares no field"):
        engine.file(BIRTH, filed_at=a, actor=desk(a), data={**CHILD, "shoe_size": 42})
    with pytest.raises(DefinitionError, match="not registered"):
        engine.file("0.000", filed_at=a, actor=desk(a), data=CHILD)
    assert engine.store.count_dossiers() == 0


def test_location_independent_land_dossier_hands_off_across_levels(engine, registry, clock):
    filed, land_at = (c.code for c in communes(registry, 2))
    data = {"applicant_name": "Trần Thị B", "applicant_national_id": "092987654321", "parcel": "12/34"}
    d = engine.file(LAND, version=1, filed_at=filed, location=land_at, actor=desk(filed), data=data)
    assert d.location_independent and d.receiving == filed and d.location == land_at
    office = d.agencies["competent"]
    assert registry.agency(office).kind == "land_registration_office"
    engine.fire(d, "forward_to_commune", desk(filed))
    assert d.custodian == land_at  # hand-off: the commune where the land lies
    land_officer = Actor("dc@" + land_at, land_at, {"land_officer"})
    staff_of(engine).actors(land_officer, Actor("vpdk", office, {"registration_officer"}),
                            Actor("thue", d.agencies["tax"], {"tax_officer"}))
    engine.fire(d, "post_publicly", land_officer)
    assert d.sla.paused  # the public posting does not count
    due_before = d.sla.due_at
    clock.advance(days=15)
    engine.fire(d, "posting_complete", land_officer)
    assert d.custodian == office and d.sla.running
    assert d.sla.due_at > due_before  # extended by the posting time
    reg = Actor("vpdk", office, {"registration_officer"})
    engine.fire(d, "send_to_tax", reg, data={"documents_complete": True})
    tax = d.agencies["tax"]
    assert d.custodian == tax and registry.agency(tax).kind == "tax"
    engine.fire(d, "notify_obligation", Actor("thue", tax, {"tax_officer"}))
    assert d.status == 6 and d.sla.paused
    clock.advance(days=3)
    engine.fire(d, "confirm_payment", reg, data={"obligation_paid": True})
    engine.fire(d, "issue_certificate", reg)
    engine.fire(d, "return_result", desk(filed))
    events = engine.history(d.id)
    handoffs = [(e.trigger, e.effects["custodian_from"], e.custodian) for e in events if e.handoff]
    assert handoffs[0] == ("forward_to_commune", filed, land_at)
    assert ("issue_certificate", office, filed) in handoffs
    assert replay(events) == engine.get(d.id) == d


def test_supplement_restarts_clock_by_default(engine, registry, clock):
    a = communes(registry)[0].code
    d = engine.file("2.000720", filed_at=a, actor=desk(a), data={
        "business_name": "Tạp hoá An", "owner_name": "Lê C", "owner_national_id": "092111222333",
        "business_address": "Số 1"})
    engine.fire(d, "accept", desk(a))
    econ = Actor("kt", a, {"economic_officer"})
    staff_of(engine).actors(econ)
    engine.fire(d, "request_supplement", econ)
    assert d.sla.paused and d.status == 5 and d.custodian == a
    clock.advance(days=10)
    engine.fire(d, "resubmit", desk(a))
    assert d.sla.running
    assert d.sla.due_at == engine.calendar.due_at(clock.now(), 3)  # counts again from the complete dossier


def test_concurrent_change_is_a_conflict_not_a_lost_update(engine, registry, sqlite_store, clock):
    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    stale = engine.get(d.id)
    other = Engine(sqlite_store, registry=registry, clock=clock)
    other.fire(d.id, "accept", desk(a))
    with pytest.raises(ConcurrencyConflict) as info:
        engine.fire(stale, "withdraw", desk(a))
    assert info.value.expected_version == 1 and info.value.actual_version == 2
    assert stale.state == "received" and stale.revision == 1
    assert [e.trigger for e in engine.history(d.id)] == [None, "accept"]


def test_versions_run_side_by_side_and_conflicting_content_is_refused(engine, registry):
    a = communes(registry)[0].code
    old = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    v1 = engine.definition(BIRTH)
    n = v1.version
    v2_text = v1.source.replace(f"version = {n}", f"version = {n + 1}", 1).replace('label_en = "Processing"',
                                                                                'label_en = "In progress"')
    engine.register(parse_definition(v2_text))
    new = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    assert (old.definition_version, new.definition_version) == (n, n + 1)
    engine.fire(old, "accept", desk(a))
    assert engine.get(old.id).definition_version == n
    with pytest.raises(StoreError, match="already registered with different content"):
        engine.register(parse_definition(v1.source.replace('label_en = "Received"', 'label_en = "Got it"')))
    reopened = Engine(engine.store, registry=registry, clock=engine.clock)
    assert {d.key for d in reopened.definitions()} >= {(BIRTH, n), (BIRTH, n + 1)}


def test_unknown_guard_refused_at_registration(engine):
    text = engine.definition(BIRTH).source.replace('guards = ["documents_complete"]', 'guards = ["paid_in_full"]')
    text = text.replace("version = 1", "version = 9")
    with pytest.raises(DefinitionError, match="unknown guard 'paid_in_full'"):
        engine.register(parse_definition(text))


def test_batch_commits_together_or_not_at_all(engine, registry):
    a = communes(registry)[0].code
    with pytest.raises(RuntimeError), engine.batch():
        engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
        raise RuntimeError("crash inside the group commit")
    assert engine.store.count_dossiers() == 0
    with engine.batch():
        for _ in range(5):
            engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    assert engine.store.count_dossiers() == 5


def test_late_receipt_counts_from_next_working_day(engine, registry, clock):
    a = communes(registry)[0].code
    clock.advance(hours=7, minutes=30)  # 15:30 Monday, after the 15:00 cut-off
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    assert d.sla.due_at.date() == (clock.now() + timedelta(days=1)).date()


TRIGGERS = ["accept", "refuse_receipt", "request_supplement", "resubmit", "approve", "stop_processing",
            "return_result", "withdraw"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(TRIGGERS), st.integers(0, 3000), st.booleans()), max_size=25))
def test_replay_equals_snapshot_for_random_histories(engine, registry, clock, steps):
    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    actors = {"civil_status_officer": civil(a), "one_stop_officer": desk(a)}
    for trigger, minutes, complete in steps:
        clock.advance(minutes=minutes)
        before = (engine.get(d.id), len(engine.history(d.id)))
        for actor in actors.values():
            try:
                engine.fire(d, trigger, actor, data={"documents_complete": complete})
                break
            except (TransitionNotAllowed, NotCustodian, RoleNotGranted):
                assert (engine.get(d.id), len(engine.history(d.id))) == before
        assert engine.get(d.id) == d
        assert d.custodian in d.agencies.values()
    assert replay(engine.history(d.id)) == engine.get(d.id)


def test_overdue_dossier_lateness_is_recorded_against_the_legal_limit(engine, registry, clock):
    from procflow.workers.overdue import find_overdue, lateness_effects

    a = communes(registry)[0].code
    d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(d, "accept", desk(a))
    on_time = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
    engine.fire(on_time, "accept", desk(a))
    engine.fire(on_time, "approve", civil(a), data={"documents_complete": True})
    clock.advance(days=2)  # Wednesday: the same-day limit (Monday 17:00) has passed
    late = list(find_overdue(engine.store.iter_dossiers(), clock.now()))
    assert [x.id for x in late] == [d.id]
    late_fx = lateness_effects(engine.get(d.id), engine.calendar, clock.now())["overdue"]
    assert late_fx["working_days_late"] == engine.calendar.working_days_late(d.sla.due_at, clock.now()) > 0
    assert late_fx["custodian"] == d.custodian and late_fx["due_at"] == d.sla.due_at.isoformat()
    with pytest.raises(ValueError, match="not overdue"):
        lateness_effects(engine.get(on_time.id), engine.calendar, clock.now())


MINISTRY_APPEAL = """
code = "9.900"
version = 1
name_vi = "Thủ tục thử chuyển bộ"
level = "province"
competent_kind = "department_justice"
initial = "received"
[sla]
working_days = 10
[roles]
ministry = "ministry:justice"
[[states]]
name = "received"
portal_status = 2
holder = "receiving"
[[states]]
name = "province_review"
portal_status = 4
[[states]]
name = "ministry_review"
portal_status = 4
holder = "ministry"
[[states]]
name = "done"
portal_status = 9
holder = "receiving"
clock = "stopped"
final = true
[[transitions]]
trigger = "forward"
source = "received"
dest = "province_review"
[[transitions]]
trigger = "escalate"
source = "province_review"
dest = "ministry_review"
level = "province"
[[transitions]]
trigger = "decide"
source = "ministry_review"
dest = "done"
level = "ministry"
"""


def test_province_to_ministry_handoff_and_level_checks(engine, registry):
    engine.register(parse_definition(MINISTRY_APPEAL))
    a = communes(registry)[0].code
    d = engine.file("9.900", filed_at=a, actor=desk(a))
    engine.fire(d, "forward", desk(a))
    dept = d.custodian
    assert registry.agency(dept).kind == "department_justice"
    staff_of(engine).actors(Actor("sotp", dept))
    engine.fire(d, "escalate", Actor("sotp", dept))
    ministry = d.custodian
    staff_of(engine).actors(Actor("botp", ministry))
    assert registry.agency(ministry).level == "ministry" and d.agencies["ministry"] == ministry
    with pytest.raises(NotCustodian):
        engine.fire(d, "decide", Actor("sotp", dept))
    engine.fire(d, "decide", Actor("botp", ministry))
    assert d.custodian == a and d.status == 9
    assert [e.custodian for e in engine.history(d.id)] == [a, dept, ministry, a]
