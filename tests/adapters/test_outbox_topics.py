"""The standard outbox topics: which events cause which messages, with which payloads and keys."""

from __future__ import annotations

from datetime import timedelta

from adapter_support import CHILD, birth, desk, enrol_cast, officer

from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.engine.outbox import (
    Delivery,
    document_topic,
    notification_topic,
    payment_topic,
    status_sync_topic,
    topic_rule,
)
from procflow.testing.directory import staff_of


def engine_with(store, registry, clock, *topics) -> Engine:
    from procflow.definition.reader import bundled_definitions

    engine = Engine(store, registry=registry, clock=clock, outbox_rules=[topic_rule(list(topics))])
    for d in bundled_definitions():
        engine.register(d)
    enrol_cast(engine, registry.communes_of("92")[0].code)
    return engine


def test_status_sync_follows_a_birth_registration_through_a_supplement(sqlite_store, registry, clock, commune):
    engine = engine_with(sqlite_store, registry, clock, status_sync_topic(sqlite_store))
    d = birth(engine, commune, clock, through=("accept", "request_supplement"))
    paused = engine.get(d.id)
    clock.advance(timedelta(days=2))
    for trigger in ("resubmit", "approve", "return_result"):
        clock.advance(timedelta(hours=1))
        who = officer(commune) if trigger == "approve" else desk(commune)
        engine.fire(d, trigger, who, data={"documents_complete": True} if trigger == "approve" else None)
    rows = sqlite_store.outbox()
    assert [r["key"] for r in rows] == [f"portal.status:{d.id}:{n}" for n in range(1, 7)]
    assert [r["payload"]["status"] for r in rows] == [2, 4, 5, 4, 9, 10]
    assert [r["payload"]["event"]["from_status"] for r in rows] == [None, 2, 4, 5, 4, 9]
    resubmitted = rows[3]["payload"]
    assert resubmitted["supplement"]["previous_due_at"] == paused.sla.due_at.isoformat()
    assert resubmitted["supplement"]["new_due_at"] == resubmitted["due_at"] != resubmitted["supplement"][
        "previous_due_at"]
    assert [r["payload"]["supplement"] is None for r in rows] == [True, True, True, False, True, True]
    assert rows[-1]["payload"]["returned_at"] == clock.now().isoformat() and rows[-2]["payload"]["returned_at"] is None
    # the portal's dossier holder is the parent who files (the definition's [applicant]), never the newborn;
    # this filing gave no parent name, so none is sent
    assert rows[0]["payload"]["applicant"] is None
    assert rows[0]["payload"]["procedure"] == "1.001193"
    m = Delivery.from_row(rows[0])
    assert (m.attempt, m.key, m.payload["dossier_id"]) == (1, rows[0]["key"], d.id)


def test_status_sync_skips_events_that_change_neither_status_nor_custodian_but_not_hand_offs(
        sqlite_store, registry, clock, commune):
    engine = engine_with(sqlite_store, registry, clock, status_sync_topic(sqlite_store))
    d = engine.file("1.012751", version=1, filed_at=commune, actor=desk(commune),
                    data={"applicant_name": "Lê Văn Tám", "applicant_national_id": "092123456780", "parcel": "12/3",
                          "land_address": "ấp 3", "area_m2": 120.5})
    land = Actor("land", "", {"land_officer", "registration_officer", "one_stop_officer"})
    for trigger in ("forward_to_commune", "post_publicly", "posting_complete"):
        clock.advance(timedelta(hours=2))
        who = Actor(f"land@{engine.get(d.id).custodian}", engine.get(d.id).custodian, land.roles)
        staff_of(engine).actors(who)  # an enrolled official of whichever agency holds the dossier
        engine.fire(d, trigger, who)
    events = engine.history(d.id)
    statuses = [(e.seq, e.status, e.handoff) for e in events]
    keys = [r["key"].rsplit(":", 1)[1] for r in sqlite_store.outbox()]
    expected = [str(seq) for seq, status, handoff in statuses
                if seq == 1 or handoff or status != events[seq - 2].status]
    assert keys == expected == ["1", "2", "4"]  # post_publicly (3): same status, same holder


def test_citizen_notices_payment_requests_and_result_documents(sqlite_store, registry, clock, commune):
    engine = engine_with(sqlite_store, registry, clock, notification_topic(), payment_topic(), document_topic())
    d = birth(engine, commune, clock, through=("accept", "request_supplement", "resubmit", "approve"))
    rows = sqlite_store.outbox()
    notices = [r["payload"] for r in rows if r["topic"] == "notify.citizen"]
    assert [n["status"] for n in notices] == [2, 5, 9]
    assert notices[0]["recipient"]["phone"] == {"$vault": f"{d.id}/1/parent_phone"}  # at rest: a reference
    assert engine.vault.resolve_json(notices[0])["recipient"]["phone"] == CHILD["parent_phone"]
    assert d.id in notices[1]["text_vi"]
    [doc] = [r for r in rows if r["topic"] == "documents.file"]
    assert doc["payload"]["title"] == "Kết quả giải quyết: Đăng ký khai sinh" and doc["key"].endswith(":5")
    assert not [r for r in rows if r["topic"] == "payment.request"]  # birth registration is free


def test_the_land_procedure_requests_payment_once_it_awaits_it(sqlite_store, registry, clock, commune):
    engine = engine_with(sqlite_store, registry, clock, payment_topic())
    d = engine.file("1.012751", version=1, filed_at=commune, actor=desk(commune),
                    data={"applicant_name": "Lê Văn Tám", "applicant_national_id": "092123456780", "parcel": "12/3",
                          "land_address": "ấp 3", "area_m2": 120.5})
    roles = {"land_officer", "registration_officer", "one_stop_officer", "tax_officer"}
    for trigger, data in (("forward_to_commune", None), ("post_publicly", None), ("posting_complete", None),
                          ("send_to_tax", {"documents_complete": True}), ("notify_obligation", None)):
        clock.advance(timedelta(hours=2))
        x = Actor(f"x@{engine.get(d.id).custodian}", engine.get(d.id).custodian, roles)
        staff_of(engine).actors(x)
        engine.fire(d, trigger, x, data=data)
    [row] = sqlite_store.outbox()
    assert row["topic"] == "payment.request" and row["payload"]["payer"] == {"$vault": f"{d.id}/1/applicant_name"}
    assert engine.vault.resolve_json(row["payload"])["payer"] == "Lê Văn Tám"
    assert engine.get(d.id).status == 6


PAYS = """
code = "t.pays"
version = 1
name_vi = "Thử nộp lệ phí"
level = "commune"
initial = "received"
applicant = { name = "parent_name" }
[sla]
working_days = 5
[[fields]]
name = "child_name"
personal = "name"
[[fields]]
name = "parent_name"
personal = "name"
[[states]]
name = "received"
portal_status = 2
[[states]]
name = "awaiting_payment"
portal_status = 6
clock = "citizen"
[[states]]
name = "done"
portal_status = 10
final = true
clock = "stopped"
[[transitions]]
trigger = "request_fee"
source = "received"
dest = "awaiting_payment"
roles = ["one_stop_officer"]
[[transitions]]
trigger = "finish"
source = "awaiting_payment"
dest = "done"
roles = ["one_stop_officer"]
"""


def test_the_payer_is_the_dossier_holder_not_the_first_name_field(sqlite_store, registry, clock, commune):
    """A child's name comes first in this definition; the person who files and pays is the parent, the
    dossier holder (``ProcedureDefinition.applicant_value``), and their name is at rest as a vault reference."""
    from procflow.definition.reader import parse_definition

    engine = engine_with(sqlite_store, registry, clock, payment_topic())
    engine.register(parse_definition(PAYS))
    d = engine.file("t.pays", filed_at=commune, actor=desk(commune),
                    data={"child_name": "Lê Thị Bé", "parent_name": "Lê Văn Tám"})
    clock.advance(timedelta(hours=1))
    engine.fire(d, "request_fee", desk(commune))
    [row] = sqlite_store.outbox()
    assert row["topic"] == "payment.request" and row["payload"]["payer"] == {"$vault": f"{d.id}/1/parent_name"}
    assert engine.vault.resolve_json(row["payload"])["payer"] == "Lê Văn Tám"
    assert "Lê" not in str(row["payload"])  # neither name in clear
