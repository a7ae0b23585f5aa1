"""Liên thông: birth + permanent residence + health-insurance card for a child under 6, run in parallel
across agencies and joined; the bundle's status, SLA and result return at the receiving commune."""

from __future__ import annotations

import pytest

from procflow.bundle import BundleCoordinator, bundled_bundle_definitions, parse_bundle
from procflow.bundle.records import MembershipCache
from procflow.dossier import Actor
from procflow.errors import DefinitionError, NotCustodian, TransitionNotAllowed
from procflow.testing.directory import staff_of

BUNDLE = "LT.KS-TT-BHYT"
WARD = "311.35.99.H92"  # phường Ninh Kiều, Cần Thơ
APPLICATION = {"child_name": "Nguyễn Thị Mai", "child_birth_date": "2026-04-15",
               "parent_national_id": "092123456789", "residence_address": "Số 12, đường 30/4"}
ROLES = {"1.001193": "civil_status_officer", "1.004222": "residence_officer", "BHYT.TE6": "insurance_officer"}
DESK = Actor("one_stop_officer@ward", WARD, {"one_stop_officer"})


def officer(d):
    return Actor(f"officer@{d.custodian}", d.custodian, {ROLES[d.procedure], "one_stop_officer"})


@pytest.fixture(autouse=True)
def cast(procflow_engine):
    """The ward's desk and an officer of every agency of province 92 (wherever a member lands), enrolled with
    the roles the members ask for (the engine refuses officials it does not know)."""
    roles = {*ROLES.values(), "one_stop_officer"}
    agencies = [a.code for a in procflow_engine.registry if a.province_code == "92"]
    staff_of(procflow_engine).actors(DESK, *(Actor(f"officer@{c}", c, roles) for c in agencies))


def finish(bundles, d, *, ok=True):
    """Accept and approve a member as its agency's officer."""
    bundles.fire(d, "accept", officer(d))
    return bundles.fire(d, "approve", officer(d), data={"documents_complete": ok})


def test_the_shipped_bundle_cites_the_decree_and_names_its_members():
    bdef = next(b for b in bundled_bundle_definitions() if b.code == BUNDLE)
    assert bdef.code == BUNDLE and bdef.sla_days == 3 and bdef.verification_working_days == 5
    assert any("63/2024" in law for law in bdef.legal_basis)
    assert [(m.name, m.procedure, m.after) for m in bdef.members] == [
        ("birth", "1.001193", ()), ("residence", "1.004222", ("birth",)),
        ("health_insurance", "BHYT.TE6", ("birth",))]


@pytest.mark.parametrize("persist", [True, False])
def test_members_run_in_parallel_and_join_at_the_receiving_commune(procflow_engine, procflow_clock, persist):
    bundles = BundleCoordinator(procflow_engine, persist=persist)
    b = bundles.file(BUNDLE, filed_at=WARD, actor=DESK, data=APPLICATION)
    assert (b.status, list(b.members), b.receiving) == (2, ["birth"], WARD)
    assert b.sla.due_at.isoformat() == "2026-04-23T17:00:00+07:00"  # 3 working days after Monday
    birth = procflow_engine.get(b.members["birth"])
    fired = finish(bundles, birth)
    # the electronic birth certificate feeds both agencies at once
    residence, insurance = fired.started
    assert (residence.procedure, insurance.procedure) == ("1.004222", "BHYT.TE6")
    assert procflow_engine.registry.agency(residence.custodian).kind == "police"
    assert procflow_engine.registry.agency(insurance.custodian).kind == "social_insurance"
    assert residence.data["residence_address"] == APPLICATION["residence_address"]
    assert residence.receiving == insurance.receiving == WARD
    assert fired.bundle.status == 4
    procflow_clock.advance(hours=3)
    finish(bundles, insurance)
    assert bundles.get(b.id).status == 4  # the police has not finished yet
    procflow_clock.next_working_day(at="10:00")
    joined = finish(bundles, residence).bundle
    assert joined.status == 9 and joined.sla.stopped and joined.sla.stopped_at <= joined.sla.due_at
    with pytest.raises(NotCustodian, match="receiving commune"):
        other_desk = Actor("desk@other", "311.20.99.H92", {"one_stop_officer"})
        staff_of(procflow_engine).actors(other_desk)  # an enrolled desk of another ward: refused for custody
        bundles.return_result(b.id, other_desk)
    returned = bundles.return_result(b.id, DESK)
    assert returned.status == 10
    assert {procflow_engine.get(i).status for i in returned.members.values()} == {10}
    assert bundles.replay(b.id) == bundles.get(b.id) == returned
    assert [e.kind for e in bundles.events(b.id)][-1] == "returned"


def test_a_supplement_pauses_the_bundle_clock_and_a_refused_birth_stops_it(procflow_engine, procflow_clock):
    bundles = BundleCoordinator(procflow_engine)
    b = bundles.file(BUNDLE, filed_at=WARD, actor=DESK, data=APPLICATION)
    birth = procflow_engine.get(b.members["birth"])
    bundles.fire(birth, "accept", DESK)
    paused = bundles.fire(birth, "request_supplement", officer(birth)).bundle
    assert paused.status == 5 and paused.sla.paused
    procflow_clock.add_working_days(2, at="09:00")
    resumed = bundles.fire(birth, "resubmit", DESK).bundle
    assert resumed.sla.running and resumed.sla.due_at.isoformat() == "2026-04-28T17:00:00+07:00"  # restarted (27th off)
    with pytest.raises(TransitionNotAllowed, match="no joined result"):
        bundles.return_result(b.id, DESK)
    stopped = bundles.fire(birth, "stop_processing", officer(birth)).bundle
    assert stopped.status == 8 and stopped.skipped == ("residence", "health_insurance") and stopped.sla.stopped
    assert bundles.replay(b.id) == stopped


def test_members_fired_directly_are_picked_up_by_sync(procflow_engine):
    bundles = BundleCoordinator(procflow_engine)
    b = bundles.file(BUNDLE, filed_at=WARD, actor=DESK, data=APPLICATION)
    birth = procflow_engine.get(b.members["birth"])
    procflow_engine.fire(birth, "accept", DESK)
    procflow_engine.fire(birth, "approve", officer(birth), data={"documents_complete": True})
    synced, started = bundles.sync(b.id)
    assert len(started) == 2 and synced.status == 4 and bundles.bundle_of(started[0].id) == b.id


def test_bundle_definitions_are_checked_like_procedures(procflow_engine):
    with pytest.raises(DefinitionError) as exc:
        parse_bundle('code = "X"\nversion = 1\nname_vi = "x"\n[sla]\nworking_days = 1\n'
                     '[[members]]\nname = "a"\nprocedure = "1.001193"\nafter = ["b"]\n', file="x.toml")
    assert "members[0].after[0]: 'b' is not a member listed before 'a'" in str(exc.value)
    assert "no member can start" in str(exc.value)
    bad = parse_bundle('code = "Y"\nversion = 1\nname_vi = "y"\n[sla]\nworking_days = 1\n'
                       '[[members]]\nname = "a"\nprocedure = "9.999999"\n')
    with pytest.raises(DefinitionError, match="not registered"):
        BundleCoordinator(procflow_engine, definitions=[bad])


def test_a_dossier_filed_outside_any_bundle_is_known_as_no_member_without_a_store_read(procflow_engine,
                                                                                       monkeypatch):
    """The simulator notes each dossier it files on its own (``standalone``): ``bundle_of`` answers from
    memory, and the bundle's own members are still found."""
    bundles = BundleCoordinator(procflow_engine)
    b = bundles.file(BUNDLE, filed_at=WARD, actor=DESK, data=APPLICATION)
    alone = procflow_engine.file("1.001193", filed_at=WARD, actor=DESK,
                                 data={k: APPLICATION[k] for k in ("child_name", "child_birth_date",
                                                                   "parent_national_id")})
    bundles.standalone(alone.id)
    reads: list[str] = []
    member_of = bundles._b.member_of
    monkeypatch.setattr(bundles._b, "member_of", lambda i: reads.append(i) or member_of(i))
    assert bundles.bundle_of(alone.id) is None and reads == []
    assert bundles.bundle_of(b.members["birth"]) == b.id


def test_the_membership_cache_forgets_the_first_remembered_tenth_at_its_bound():
    cache = MembershipCache(limit=100)
    for i in range(1_000):
        cache.remember(f"D{i}", ("LT-1", "birth") if i % 2 else None)
        assert len(cache) <= 100
    assert "D999" in cache and cache["D999"] == ("LT-1", "birth") and "D998" in cache and cache["D998"] is None
    assert "D0" not in cache and "D899" not in cache  # the oldest went first, a tenth at a time
    cache.remember("D999", ("LT-1", "birth"))  # remembering a known dossier again forgets nobody
    assert len(cache) == 100 and "D900" in cache


@pytest.mark.parametrize("persist", [True, False])
def test_a_member_the_bounded_cache_forgot_is_read_again_from_the_store(procflow_engine, monkeypatch, persist):
    """``bundle_of`` remembers at most a bound of dossiers; past it the oldest are forgotten, not the whole
    cache, and a forgotten one is read back correctly (member or not) with one store read."""
    bundles = BundleCoordinator(procflow_engine, persist=persist)
    bundles._member_of = MembershipCache(limit=20)
    b = bundles.file(BUNDLE, filed_at=WARD, actor=DESK, data=APPLICATION)
    birth = b.members["birth"]
    for i in range(100):  # the simulator notes every dossier it files on its own
        bundles.standalone(f"alone-{i}")
        assert len(bundles._member_of) <= 20
    assert birth not in bundles._member_of and "alone-0" not in bundles._member_of
    assert "alone-99" in bundles._member_of  # the newest are kept
    reads: list[str] = []
    member_of = bundles._b.member_of
    monkeypatch.setattr(bundles._b, "member_of", lambda i: reads.append(i) or member_of(i))
    assert bundles.bundle_of(birth) == b.id and bundles.bundle_of("alone-0") is None
    assert bundles.bundle_of(birth) == b.id and bundles.bundle_of("alone-99") is None
    assert reads == [birth, "alone-0"]  # one read each for the forgotten, none for what is remembered
