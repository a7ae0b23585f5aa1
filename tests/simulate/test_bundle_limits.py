"""Bundle time limits as Decree 63/2024/ND-CP sets them: a member's limit inside the bundle overrides its own,
and the bundle's longer limit applies once a member must verify — so a legally on-time bundle counts on time."""

from __future__ import annotations

from datetime import time

import pytest

from procflow.bundle import BundleCoordinator, parse_bundle
from procflow.dossier import Actor
from procflow.errors import DefinitionError
from procflow.statistics import bundle_summary
from procflow.testing.directory import staff_of

CHILD = "LT.KS-TT-BHYT"
DEATH = "1.011537"
WARD = "311.35.99.H92"  # phường Ninh Kiều, Cần Thơ
DESK = Actor("one_stop_officer@ward", WARD, {"one_stop_officer"})
CHILD_DATA = {"child_name": "Nguyễn Thị Mai", "child_birth_date": "2026-04-15",
              "parent_national_id": "092123456789", "residence_address": "Số 12, đường 30/4"}
DEATH_DATA = {"deceased_name": "Trần Văn Ba", "deceased_national_id": "092050000111", "date_of_death": "2026-04-18",
              "declarant_national_id": "092080000222", "declarant_name": "Trần Văn Năm",
              "beneficiary_name": "Trần Thị Tư"}


def officer(d):
    return Actor(f"officer@{d.custodian}", d.custodian)  # acts with every role its directory entry grants


@pytest.fixture(autouse=True)
def cast(procflow_engine):
    """The ward's desk and an officer of every agency of province 92 holding every role the registered
    procedures use (generic staff, as the simulator's), enrolled: the engine refuses officials it does not know."""
    roles = {r for d in procflow_engine.definitions() for t in d.transitions for r in t.roles}
    agencies = [a.code for a in procflow_engine.registry if a.province_code == "92"]
    staff_of(procflow_engine).actors(DESK, *(Actor(f"officer@{c}", c, roles) for c in agencies))


def _child_bundle(engine, bundles):
    b = bundles.file(CHILD, filed_at=WARD, actor=DESK, data=CHILD_DATA)
    birth = engine.get(b.members["birth"])
    bundles.fire(birth, "accept", officer(birth))
    fired = bundles.fire(birth, "approve", officer(birth), data={"documents_complete": True})
    residence, insurance = fired.started
    bundles.fire(insurance, "accept", officer(insurance))
    bundles.fire(insurance, "approve", officer(insurance), data={"documents_complete": True})
    bundles.fire(residence, "accept", officer(residence))
    return b, residence


def test_a_member_runs_on_the_bundle_limit_and_alone_on_its_own(procflow_engine):
    bundles = BundleCoordinator(procflow_engine)
    _, residence = _child_bundle(procflow_engine, bundles)
    assert residence.procedure == "1.004222" and residence.sla.working_days == 2  # inside the bundle
    alone = procflow_engine.file("1.004222", filed_at=WARD, actor=DESK, data=CHILD_DATA)
    assert alone.sla.working_days == 7  # Luật Cư trú 2020, Điều 22 khoản 3
    assert alone.sla.due_at == procflow_engine.calendar.due_at(alone.received_at, 7)


@pytest.mark.parametrize("verified", [True, False])
def test_verification_lengthens_the_bundle_limit_and_the_report_counts_it_on_time(procflow_engine, procflow_clock,
                                                                                  verified):
    cal = procflow_engine.calendar
    bundles = BundleCoordinator(procflow_engine)
    b, residence = _child_bundle(procflow_engine, bundles)
    base_due = cal.due_at(b.received_at, 3)
    long_due = cal.due_at(b.received_at, 5)
    if verified:
        moved = bundles.fire(residence, "request_verification", officer(residence)).bundle
        assert moved.sla.working_days == 5 and moved.sla.due_at == long_due
    # the police finishes the working day after the 3-day limit: legal only with verification
    procflow_clock.set(cal.due_at(base_due, 1).replace(hour=10, minute=0))  # base_due is after the cut-off
    assert base_due < procflow_clock.now() <= long_due
    if verified:
        bundles.fire(residence, "verification_done", officer(residence))
    done = bundles.fire(residence, "approve", officer(residence), data={"documents_complete": True}).bundle
    assert done.status == 9
    assert bundles.replay(b.id) == bundles.get(b.id)
    summary = bundle_summary(bundles.iter_bundles(), cal, procflow_clock.now(), definitions=bundles.definitions())
    row = summary["by_bundle"][CHILD]
    assert (row["completed"], row["on_time"], row["verified"]) == ((1, 1, 1) if verified else (1, 0, 0))
    assert (row["working_days"], row["verification_working_days"]) == (3, 5)


def test_the_death_group_runs_its_three_agencies(procflow_engine, procflow_clock):
    bundles = BundleCoordinator(procflow_engine)
    b = bundles.file(DEATH, filed_at=WARD, actor=DESK, data=DEATH_DATA)
    assert b.sla.due_at == procflow_engine.calendar.due_at(b.received_at, 5)
    death = procflow_engine.get(b.members["death"])
    assert death.procedure == "1.000656" and death.sla.working_days == 0  # khai tử: the same working day
    bundles.fire(death, "accept", DESK)
    started = bundles.fire(death, "approve", officer(death), data={"documents_complete": True}).started
    kinds = {d.procedure: procflow_engine.registry.agency(d.custodian).kind for d in started}
    assert kinds == {"CA.XOA-TT": "police", "BHXH.MAI-TANG": "social_insurance"}
    for d in started:
        assert d.sla.working_days == 5 and d.data["deceased_national_id"] == DEATH_DATA["deceased_national_id"]
        assert d.data["declarant_name"] == DEATH_DATA["declarant_name"]  # the portal's dossier holder
    procflow_clock.next_working_day(at=time(9, 0))
    for d in started:
        d = procflow_engine.get(d.id)
        if d.state == "received":
            bundles.fire(d, "accept", officer(d))
            d = procflow_engine.get(d.id)
        bundles.fire(d, "approve", officer(d), data={"documents_complete": True})
    assert bundles.return_result(b.id, DESK).status == 10


BUNDLE_HEAD = 'code = "B"\nversion = 1\nname_vi = "b"\n'
MEMBERS = ('[[members]]\nname = "a"\nprocedure = "1.001193"\n'
           '[[members]]\nname = "b"\nprocedure = "1.004222"\nafter = ["a"]\n')


@pytest.mark.parametrize(("sla", "problem"), [
    ('[sla]\nworking_days = 3\n[sla.members]\nc = 2\n', "sla.members.c: no member 'c' in this bundle"),
    ('[sla]\nworking_days = 3\n[sla.members]\nb = -1\n', "sla.members.b: a member's limit inside the bundle is 0..365"),
    ('[sla]\nworking_days = 3\n[sla.members]\nb = "2"\n', "sla.members.b: a member's limit"),
    ('[sla]\nworking_days = 3\nverification_working_days = 5\n', "give verification_working_days and "
                                                                    "verification_states together"),
    ('[sla]\nworking_days = 3\nverification_working_days = 2\nverification_states = ["b.verification"]\n',
     "sla.verification_working_days: must be between sla.working_days (3)"),
    ('[sla]\nworking_days = 3\nverification_working_days = 5\nverification_states = ["x.verification"]\n',
     "sla.verification_states[0]: expected 'member.state'"),
    ('[sla]\nworking_days = 3\nlimit = 4\n', "sla.limit: unknown key"),
])
def test_bundle_limits_are_validated_with_the_key_path(sla, problem):
    with pytest.raises(DefinitionError) as exc:
        parse_bundle(BUNDLE_HEAD + sla + MEMBERS, file="b.toml")
    assert problem in str(exc.value) and "b.toml" in str(exc.value)


def test_a_verification_state_must_exist_in_the_member_procedure(procflow_engine):
    bad = parse_bundle(BUNDLE_HEAD + '[sla]\nworking_days = 3\nverification_working_days = 5\n'
                       'verification_states = ["b.checking"]\n' + MEMBERS, file="b.toml")
    with pytest.raises(DefinitionError, match=r"sla.verification_states\[0\]: procedure '1.004222' has no state "
                                              r"'checking'"):
        BundleCoordinator(procflow_engine, definitions=[bad])
