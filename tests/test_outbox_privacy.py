"""Outbox payloads keep citizens' personal values sealed at rest, and the delivery worker opens them.

Declared personal fields live encrypted in the vault; an outbox row is data at rest like a snapshot, so
it holds vault references too. These tests read the raw bytes of a real SQLite file and its WAL after
every path that writes outbox rows (engine topics, timers' notices, ``Engine.record``, reconciliation),
then deliver through a recording adapter: it gets the real values, each disclosure is audited, and no log
line or stored error carries a value.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from procflow.clock import FakeClock
from procflow.definition.reader import parse_definition
from procflow.dossier import Actor
from procflow.engine.payloadrefs import clear_fields, payload_refs, seal_payload
from procflow.errors import RetryableAdapterError, UnsealedValue, VaultError
from procflow.jurisdiction import Registry
from procflow.plugins import build_engine, make_plugin_manager
from procflow.privacy.keys import StaticKeyProvider
from procflow.privacy.vault import Vault
from procflow.store.base import OutboxMessage
from procflow.store.sqlite import SQLiteStore
from procflow.testing.adapters import RecordingAdapter
from procflow.testing.directory import staff_of
from procflow.workers.delivery import DeliveryWorker
from procflow.workers.reconcile import reconcile
from procflow.workers.scheduler import Scheduler

VN = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 4, 20, 8, 0, tzinfo=VN)  # a Monday

NAME = "Trần Thị Bích Ngọc"
PHONE = "0987654321"
NID = "092987654321"
NOTE = "note-marker-7f3a"  # not personal: stored in clear, the control that the byte scan sees clear text

PROCEDURE = """
code = "t.privacy"
version = 1
name_vi = "Thủ tục thử dữ liệu cá nhân"
level = "commune"
initial = "received"

[sla]
working_days = 5

[[fields]]
name = "applicant_name"
personal = "name"
required = true

[[fields]]
name = "applicant_phone"
personal = "phone"

[[fields]]
name = "applicant_national_id"
personal = "national_id"

[[fields]]
name = "note"

[[states]]
name = "received"
portal_status = 2

[[states]]
name = "processing"
portal_status = 4

[[states]]
name = "supplement"
portal_status = 5
clock = "citizen"

[[states]]
name = "done"
portal_status = 9

[[states]]
name = "returned"
portal_status = 10
clock = "stopped"
final = true

[[transitions]]
trigger = "accept"
source = "received"
dest = "processing"
roles = ["desk"]

[[transitions]]
trigger = "request_supplement"
source = "processing"
dest = "supplement"
roles = ["officer"]

[[transitions]]
trigger = "resubmit"
source = "supplement"
dest = "processing"
roles = ["desk"]

[[transitions]]
trigger = "approve"
source = "processing"
dest = "done"
roles = ["officer"]

[[transitions]]
trigger = "return_result"
source = "done"
dest = "returned"
roles = ["desk"]

[[timers]]
name = "nudge"
anchor = "state"
states = "supplement"
hours = 4
action = "notify"
notify = ["citizen"]

[[timers]]
name = "late"
anchor = "due"
states = ["processing"]
action = "overdue"
notify = ["citizen"]
"""


class World:
    def __init__(self, tmp_path: Path, store_class: type[SQLiteStore] = SQLiteStore) -> None:
        self.path = tmp_path / "privacy.db"
        self.store = store_class(str(self.path))
        self.clock = FakeClock(T0)
        self.adapter = RecordingAdapter()
        self.pm = make_plugin_manager(load_entrypoints=False, plugins=[self.adapter])
        self.engine = build_engine(self.store, pm=self.pm, registry=Registry.default(), clock=self.clock)
        self.engine.register(parse_definition(PROCEDURE))
        self.commune = self.engine.registry.communes_of("92")[0].code
        staff_of(self.engine).actors(self.desk(), self.officer())  # the officials who act

    def desk(self) -> Actor:
        return Actor(f"desk@{self.commune}", self.commune, {"desk"})

    def officer(self) -> Actor:
        return Actor(f"officer@{self.commune}", self.commune, {"officer"})

    def file(self, **extra: str):
        data = {"applicant_name": NAME, "applicant_phone": PHONE, "applicant_national_id": NID, "note": NOTE,
                **extra}
        return self.engine.file("t.privacy", filed_at=self.commune, actor=self.desk(), data=data)

    def fire(self, d, *triggers: str):
        for trigger in triggers:
            self.clock.advance(timedelta(minutes=30))
            who = self.officer() if trigger in ("request_supplement", "approve") else self.desk()
            self.engine.fire(d, trigger, who)
        return d

    def worker(self, **kw) -> DeliveryWorker:
        return DeliveryWorker(self.store, self.pm, worker_id="w-test", clock=self.clock, jitter=0.0, timeout=1.0,
                              **kw)

    def raw(self) -> bytes:
        """Every byte the database keeps on disk: the main file and the write-ahead log."""
        parts = [p.read_bytes() for p in (self.path, Path(f"{self.path}-wal")) if p.exists()]
        return b"".join(parts)


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.store.close()


def _clear_forms(value: str) -> list[bytes]:
    """The ways a value could sit in the file: UTF-8 text, and JSON with non-ASCII escaped."""
    return [value.encode(), json.dumps(value)[1:-1].encode(), value.encode("utf-16-le")]


def assert_no_clear_values(w: World) -> None:
    raw = w.raw()
    assert NOTE.encode() in raw  # the scan does see clear text (so the absence below means something)
    for value in (NAME, PHONE, NID):
        for form in _clear_forms(value):
            assert form not in raw, f"{value!r} is stored in clear"


def rows(w: World, topic: str) -> list[dict]:
    return [r for r in w.store.outbox() if r["topic"] == topic]


# -- at rest --------------------------------------------------------------------------------------------------
def test_topic_payloads_hold_vault_references_not_values(world):
    d = world.fire(world.file(), "accept", "request_supplement", "resubmit", "approve")
    notices = rows(world, "notify.citizen")
    assert [r["payload"]["status"] for r in notices] == [2, 5, 9]
    for r in notices:
        assert r["payload"]["recipient"]["phone"] == {"$vault": f"{d.id}/1/applicant_phone"}
    status = rows(world, "portal.status")
    assert len(status) == 5 and all(r["payload"]["applicant"] == {"$vault": f"{d.id}/1/applicant_name"}
                                    for r in status)
    assert payload_refs(status[0]["payload"]) == ["applicant_name"]
    # the references open to the real values (what the delivery worker will hand to the adapter)
    opened = world.engine.vault.resolve_json(notices[0]["payload"])
    assert (opened["recipient"]["phone"], opened["dossier_id"]) == (PHONE, d.id)
    assert rows(world, "documents.file")  # a payload without personal values is stored as built
    assert_no_clear_values(world)


def test_a_value_changed_by_a_fire_is_referenced_under_its_new_seal(world):
    d = world.file()
    world.clock.advance(timedelta(minutes=5))
    world.engine.fire(d, "accept", world.desk(), data={"applicant_name": "Lê Văn Tám"})
    world.fire(d, "request_supplement")
    [*_, last] = rows(world, "portal.status")
    assert last["payload"]["applicant"] == {"$vault": f"{d.id}/2/applicant_name"}
    assert world.engine.vault.resolve_json(last["payload"])["applicant"] == "Lê Văn Tám"
    assert "Lê Văn Tám".encode() not in world.raw()


def test_timer_notices_to_the_citizen_hold_references(world):
    d = world.fire(world.file(), "accept", "request_supplement")
    world.clock.advance(timedelta(hours=5))
    assert Scheduler(world.engine).run_due().by_action == {"notify": 1}  # written by the scheduler itself
    [nudge] = [r for r in world.store.outbox() if r["key"].startswith("timer:nudge:")]
    assert nudge["topic"] == "notify.citizen"
    assert nudge["payload"]["recipient"]["phone"] == {"$vault": f"{d.id}/1/applicant_phone"}
    world.fire(d, "resubmit")
    world.clock.advance(timedelta(days=14))  # past the due date: the lateness is recorded through Engine.record
    assert Scheduler(world.engine).run_due().by_action == {"overdue": 1}
    # ... and nothing goes to the citizen: the apology (form 04) is issued before the due date, not after
    assert [r for r in world.store.outbox() if r["key"].startswith("timer:late:")] == []
    assert world.store.events(d.id)[-1].kind == "overdue"
    assert_no_clear_values(world)


def test_notices_go_to_the_holders_phone_not_the_first_phone_in_the_file_and_stay_sealed(world):
    """A representative's phone comes first in the file; both the status notices and the timer's notice go to
    the dossier holder's (``citizen_recipient``), as vault references at rest."""
    other = "0911222333"
    two_phones = PROCEDURE.replace('code = "t.privacy"', 'code = "t.privacy2"').replace(
        '[[fields]]\nname = "applicant_name"',
        '[[fields]]\nname = "representative_phone"\npersonal = "phone"\n\n[[fields]]\nname = "applicant_name"', 1)
    world.engine.register(parse_definition(two_phones))
    d = world.engine.file("t.privacy2", filed_at=world.commune, actor=world.desk(),
                          data={"representative_phone": other, "applicant_name": NAME, "applicant_phone": PHONE,
                                "applicant_national_id": NID, "note": NOTE})
    world.fire(d, "accept", "request_supplement")
    world.clock.advance(timedelta(hours=5))
    assert Scheduler(world.engine).run_due().by_action == {"notify": 1}
    notices = rows(world, "notify.citizen")
    assert [r["key"].split(":")[0] for r in notices] == ["notify.citizen", "notify.citizen", "timer"]
    holder = {"$vault": f"{d.id}/1/applicant_phone"}
    assert all(r["payload"]["recipient"] == {"phone": holder, "email": None} for r in notices)
    assert world.engine.vault.resolve_json(notices[-1]["payload"])["recipient"]["phone"] == PHONE
    assert_no_clear_values(world)
    assert all(form not in world.raw() for form in _clear_forms(other))


def test_record_seals_a_callers_payload_even_from_a_record_without_its_references(world):
    d = world.file()
    world.engine.fire(d, "accept", world.desk())
    hand_built = world.engine.get(d.id)
    world.engine.writer.memo.forget(d.id)  # an engine that never saw it (a record built by hand): the engine
    # finds the references in the store
    msg = OutboxMessage("custom.sms", f"custom:{d.id}", d.id,
                        {"to": [PHONE], "greeting": {"name": NAME}, "text": "hẹn trả kết quả"})
    world.engine.record(hand_built, "contacted", world.desk(), outbox=[msg])
    [row] = rows(world, "custom.sms")
    assert row["payload"] == {"to": [{"$vault": f"{d.id}/1/applicant_phone"}],
                              "greeting": {"name": {"$vault": f"{d.id}/1/applicant_name"}},
                              "text": "hẹn trả kết quả"}
    assert_no_clear_values(world)


def test_reconcile_corrections_hold_references(world):
    d = world.fire(world.file(), "accept")
    world.worker().drain()  # nothing in flight, so reconciliation checks the dossier
    world.adapter.respond("procflow_resolve_remote_statuses", {})  # the portal does not know it

    class Opened:  # a store whose records carry opened values (as Engine.get returns them)
        def __init__(self, engine):
            self._engine = engine

        def __getattr__(self, name):
            return getattr(self._engine.store, name)

        def get(self, dossier_id):
            return self._engine.get(dossier_id)

    for store in (world.store, Opened(world.engine)):
        report = reconcile(store, world.pm, clock=world.clock, dossier_ids=[d.id])
        assert report.corrected == 1
        [row] = [r for r in world.store.outbox() if r["key"] == report.corrections[0].key]
        assert row["payload"]["applicant"] == {"$vault": f"{d.id}/1/applicant_name"}
        world.worker().drain()
        world.clock.advance(timedelta(seconds=1))
    assert_no_clear_values(world)
    [*_, sent] = world.adapter.messages("portal.status")
    assert sent["reason"] == "reconcile" and sent["applicant"] == NAME


def test_seal_payload_matches_whole_values_only_and_keeps_types():
    ref = {"$vault": "D/1/f"}
    sealed = {"f": (PHONE, ref), "n": (7, {"$vault": "D/1/n"}), "e": ("", {"$vault": "D/1/e"})}
    out = seal_payload({"a": PHONE, "b": f"call {PHONE}", "c": [7, True, 7.0, ""], "d": ref}, sealed)
    assert out == {"a": ref, "b": f"call {PHONE}", "c": [{"$vault": "D/1/n"}, True, 7.0, ""], "d": ref}
    assert out["a"] is not ref  # a copy: a payload never shares the dossier's reference objects
    assert seal_payload({"a": PHONE}, None) == {"a": PHONE}


# -- fail closed ----------------------------------------------------------------------------------------------
class OpenedStore(SQLiteStore):
    """A store whose ``get`` hands out records with their personal values opened (``opened`` on), so the
    writer's fallback finds no vault reference in the store's row once the engine's memo has forgotten them."""

    engine = None
    opened = False

    def get(self, dossier_id):
        d = super().get(dossier_id)
        return attrs.evolve(d, data=self.engine.vault.resolve(d.data)) if self.opened else d


@pytest.fixture
def opened_world(tmp_path):
    w = World(tmp_path, OpenedStore)
    w.store.engine = w.engine
    yield w
    w.store.close()


def _at_rest(w: World, d) -> tuple[int, int, int]:
    """(outbox rows, stored revision, events): what a refused write must leave as it was."""
    return len(w.store.outbox()), SQLiteStore.get(w.store, d.id).revision, len(w.store.events(d.id))


def _references_lost(w: World, d) -> tuple[int, int, int]:
    """What is at rest now (``_at_rest``); then the store hands out opened records and the engine's memo is
    forgotten (its bound reached): no reference is left anywhere the engine looks."""
    before = _at_rest(w, d)
    w.store.opened = True
    w.engine.writer.memo.clear()
    return before


def test_a_fire_whose_rows_would_hold_a_value_in_clear_is_refused_and_writes_nothing(opened_world):
    w = opened_world
    d = w.fire(w.file(), "accept")  # sealed as usual while the memo knows the references
    before = _references_lost(w, d)
    w.clock.advance(timedelta(minutes=30))
    with pytest.raises(UnsealedValue) as refused:
        w.engine.fire(d, "request_supplement", w.officer())
    assert isinstance(refused.value, VaultError)
    message = str(refused.value)
    assert d.id in message and "applicant_name" in message and "applicant_phone" in message
    assert not [v for v in (NAME, PHONE, NID) if v in message]  # fields are named, values never
    assert _at_rest(w, d) == before and (d.state, d.revision) == ("processing", 2)
    assert_no_clear_values(w)
    w.store.opened = False  # a store that keeps its references: the same fire goes through, sealed
    w.engine.fire(d, "request_supplement", w.officer())
    assert rows(w, "portal.status")[-1]["payload"]["applicant"] == {"$vault": f"{d.id}/1/applicant_name"}
    assert_no_clear_values(w)


def test_a_refused_fire_that_sealed_a_new_value_rolls_the_vault_back(opened_world):
    w = opened_world
    d = w.fire(w.file(), "accept")
    before = _references_lost(w, d)
    w.clock.advance(timedelta(minutes=30))
    with pytest.raises(UnsealedValue):  # the new phone is sealed; the name the status row carries is not
        w.engine.fire(d, "request_supplement", w.officer(), data={"applicant_phone": "0933444555"})
    assert _at_rest(w, d) == before and d.data["applicant_phone"] == PHONE
    assert w.engine.writer.memo.sealed(d.id) is None  # the references sealed for the rolled-back event are gone
    w.store.opened = False
    w.engine.fire(d, "request_supplement", w.officer(), data={"applicant_phone": "0933444555"})
    [*_, notice] = rows(w, "notify.citizen")
    assert notice["payload"]["recipient"]["phone"] == {"$vault": f"{d.id}/3/applicant_phone"}
    assert w.engine.vault.resolve_json(notice["payload"])["recipient"]["phone"] == "0933444555"
    assert b"0933444555" not in w.raw()


def test_a_timer_notice_that_would_hold_the_phone_in_clear_fails_and_writes_nothing(opened_world, caplog):
    w = opened_world
    d = w.fire(w.file(), "accept", "request_supplement")
    before = _references_lost(w, d)
    w.clock.advance(timedelta(hours=5))
    stats = Scheduler(w.engine).run_due()
    assert stats.failed == 1 and not stats.by_action
    assert not [r for r in w.store.outbox() if r["key"].startswith("timer:nudge:")]
    assert _at_rest(w, d) == before
    [failed] = [r for r in w.store.timer_log(dossier_id=d.id) if r["outcome"] == "failed"]
    assert "UnsealedValue" in failed["detail"] and PHONE not in failed["detail"]
    assert PHONE not in caplog.text
    assert_no_clear_values(w)


def test_record_refuses_a_callers_payload_with_a_value_it_cannot_seal(opened_world):
    w = opened_world
    d = w.fire(w.file(), "accept")
    before = _references_lost(w, d)
    msg = OutboxMessage("custom.sms", f"custom:{d.id}", d.id, {"to": [PHONE], "text": "hẹn trả kết quả"})
    with pytest.raises(UnsealedValue, match="applicant_phone"):
        w.engine.record(d, "contacted", w.desk(), outbox=[msg])
    assert _at_rest(w, d) == before and d.revision == 2
    assert_no_clear_values(w)
    # a row that carries no personal value is not held up by one it does not carry
    plain = OutboxMessage("custom.ping", f"ping:{d.id}", d.id, {"text": "hẹn trả kết quả"})
    w.engine.record(d, "contacted", w.desk(), outbox=[plain])
    assert [r["payload"] for r in rows(w, "custom.ping")] == [{"text": "hẹn trả kết quả"}]


def test_seal_outbox_refuses_a_record_never_stored(world):
    d = world.file()
    hand_built = attrs.evolve(d, id=f"{d.id}-copy")  # the store has no such dossier, the memo no references
    msg = OutboxMessage("custom.sms", "k", hand_built.id, {"to": PHONE, "who": {"name": NAME}})
    with pytest.raises(UnsealedValue, match="applicant_name, applicant_phone"):
        world.engine.writer.seal_outbox([msg], hand_built)
    [sealed] = world.engine.writer.seal_outbox([msg], d)  # the stored one: its references are known
    assert sealed.payload == {"to": {"$vault": f"{d.id}/1/applicant_phone"},
                              "who": {"name": {"$vault": f"{d.id}/1/applicant_name"}}}


def test_clear_fields_finds_whole_values_by_type():
    payload = {"a": [PHONE, {"b": 7}], "c": f"call {NAME}", "d": {"$vault": "D/1/x"}, "e": True}
    assert clear_fields(payload, {"phone": PHONE, "n": 7, "name": NAME, "one": 1, "x": "D/1/x"}) == {"phone", "n"}
    assert clear_fields(payload, {"phone": "", "t": 1}) == set()  # empty and bool-equal values are not matched


# -- delivery -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 3])
def test_the_worker_opens_references_for_the_adapter_and_audits_the_disclosure(world, caplog, concurrency):
    caplog.set_level(logging.DEBUG)
    d = world.fire(world.file(), "accept", "request_supplement", "resubmit", "approve")
    stats = world.worker(concurrency=concurrency, batch_size=20).drain()  # no vault given: the store's keyring
    assert stats.delivered == len(world.store.outbox()) and stats.dead == 0
    notices = world.adapter.messages("notify.citizen")
    assert [n["recipient"]["phone"] for n in notices] == [PHONE] * 3
    assert {m["applicant"] for m in world.adapter.messages("portal.status")} == {NAME}
    delivered_hook = [c.kwargs["message"] for c in world.adapter.called("procflow_on_delivered")]
    assert delivered_hook and all(NAME not in json.dumps(m.payload, ensure_ascii=False) for m in delivered_hook)
    audit = [a for a in world.store.audit(dossier_id=d.id) if a.action.startswith("disclose:")]
    assert sorted(a.action for a in audit) == ["disclose:notify.citizen"] * 3 + ["disclose:portal.status"] * 5
    assert {(a.purpose, a.outcome, a.actor) for a in audit} == {("delivery", "sent", "delivery:w-test")}
    assert all("applicant_phone" in a.detail or "applicant_name" in a.detail for a in audit)
    for a in audit:
        assert PHONE not in a.detail and NAME not in a.detail
    for value in (PHONE, NAME):
        assert value not in caplog.text
    assert_no_clear_values(world)  # delivering wrote no value to the store either


def test_adapter_errors_quoting_a_value_are_scrubbed_from_last_error_and_logs(world, caplog):
    caplog.set_level(logging.DEBUG)
    world.file()
    world.file()
    world.adapter.fail("procflow_deliver_status_sync", RetryableAdapterError(f"portal: unknown citizen {NAME}"))
    world.adapter.fail("procflow_deliver_status_sync", ValueError(f"cannot map applicant {NAME!r}"))
    stats = world.worker().run_once()
    assert stats.retried == 2 and stats.delivered == 2  # the two notices went through
    errors = sorted(r["last_error"] for r in world.store.outbox() if r["last_error"])
    assert errors == ["RetryableAdapterError: portal: unknown citizen ***",
                      "unclassified ValueError: cannot map applicant '***'"]
    for value in (PHONE, NAME):
        assert all(value not in e for e in errors)
        assert value not in caplog.text
    assert "cannot map applicant '***'" in caplog.text  # the unclassified failure is still logged, scrubbed
    disclosed = sorted((a.action, a.outcome) for a in world.store.audit() if a.action.startswith("disclose:"))
    # the failed attempts handed the values to the adapter too: audited, as failed
    assert disclosed == [("disclose:notify.citizen", "sent")] * 2 + [("disclose:portal.status", "failed")] * 2
    assert_no_clear_values(world)


@pytest.mark.parametrize("keys", [StaticKeyProvider.generate(),
                                  StaticKeyProvider({"other": b"\x01" * 32}, "other", b"\x02" * 32)],
                         ids=["different-key", "missing-key"])
def test_a_reference_that_cannot_be_opened_dead_letters_the_message(world, caplog, keys):
    caplog.set_level(logging.DEBUG)
    d = world.fire(world.file(), "accept", "approve")
    stats = world.worker(vault=Vault(world.store, keys)).drain()
    by_topic = {}
    for r in world.store.outbox():
        by_topic.setdefault(r["topic"], set()).add(r["status"])
    assert by_topic == {"portal.status": {"dead"}, "notify.citizen": {"dead"}, "documents.file": {"delivered"}}
    assert stats.dead == len(world.store.outbox()) - 1 and stats.delivered == 1
    for r in world.store.outbox(status="dead"):
        assert "vault" in r["last_error"] and f"{d.id}/1" in r["last_error"] and "requeue" in r["last_error"]
        assert r["attempts"] == 1  # permanent: not retried with the same missing key
        assert PHONE not in r["last_error"] and NAME not in r["last_error"]
    assert world.adapter.deliveries("portal.status") == world.adapter.deliveries("notify.citizen") == []
    assert not [a for a in world.store.audit() if a.action.startswith("disclose:")]  # nothing was disclosed
    assert len(world.adapter.called("procflow_on_dead_letter")) == stats.dead
    # with the right keys (the store's keyring) a requeue delivers them
    assert world.store.requeue_dead(None, now=world.clock.now()) == stats.dead
    assert world.worker().drain().delivered == stats.dead
    assert [n["recipient"]["phone"] for n in world.adapter.messages("notify.citizen")] == [PHONE, PHONE]
    for value in (PHONE, NAME):
        assert value not in caplog.text
