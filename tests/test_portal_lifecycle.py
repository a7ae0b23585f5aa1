"""The national portal's lifecycle: online filings start at status 1 and count from the desk's receipt;
the desk receives (2), refuses (3) or asks for a supplement (5) before receiving; the sync payload carries
the sector code, the applicant type and the applicant (not the subject) with NgayHenTra = the due date."""

from __future__ import annotations

from datetime import datetime

import pytest
from procflow_portal_http.shape import dossier_record, portal_time

from procflow.definition.reader import parse_definition
from procflow.dossier import Actor, replay
from procflow.engine.outbox import status_payload
from procflow.errors import DefinitionError
from procflow.officehours import VN_TZ

ONLINE = """
code = "9.000001"
version = 1
name_vi = "Thủ tục thử nghiệm nộp trực tuyến"
level = "commune"
competent_kind = "commune"
sector_code = "G13-HT"
applicant_kind = "citizen"
initial = "received"
online_initial = "submitted"
[applicant]
name = "requester_name"
national_id = "requester_id"
[sla]
working_days = 3
[[fields]]
name = "requester_name"
personal = "name"
[[fields]]
name = "requester_id"
personal = "national_id"
[[fields]]
name = "subject_name"
personal = "name"
[[states]]
name = "submitted"
portal_status = 1
holder = "receiving"
clock = "excluded"
[[states]]
name = "supplement_before_receipt"
portal_status = 5
holder = "receiving"
clock = "excluded"
[[states]]
name = "received"
portal_status = 2
holder = "receiving"
[[states]]
name = "processing"
portal_status = 4
[[states]]
name = "not_received"
portal_status = 3
holder = "receiving"
clock = "stopped"
final = true
[[states]]
name = "returned"
portal_status = 10
holder = "receiving"
clock = "stopped"
final = true
[[transitions]]
trigger = "receive"
source = "submitted"
dest = "received"
[[transitions]]
trigger = "refuse_receipt"
source = ["submitted", "received"]
dest = "not_received"
[[transitions]]
trigger = "request_supplement"
source = "submitted"
dest = "supplement_before_receipt"
[[transitions]]
trigger = "resubmit"
source = "supplement_before_receipt"
dest = "submitted"
[[transitions]]
trigger = "accept"
source = "received"
dest = "processing"
[[transitions]]
trigger = "finish"
source = "processing"
dest = "returned"
"""

def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


DATA = {"requester_name": "Trần Thị Bình", "requester_id": "092123456789", "subject_name": "Trần Văn Cường"}


@pytest.fixture
def online(engine, registry):
    engine.register(parse_definition(ONLINE))
    commune = registry.communes_of("92")[0].code
    return engine, commune, Actor(f"desk@{commune}", commune, {"one_stop_officer"})


def test_online_filing_is_status_1_then_2_on_receipt_with_the_clock_from_receipt(online, clock):
    engine, commune, desk = online
    clock.set(vn(2026, 4, 24, 20, 0))  # Friday evening, online
    d = engine.file("9.000001", filed_at=commune, actor=desk, data=DATA, online=True)
    assert (d.state, d.status) == ("submitted", 1)
    assert d.sla.paused and not d.sla.is_overdue(clock.now())
    clock.set(vn(2026, 5, 4, 9, 0))  # the desk receives it on Monday 4 May (after the 30/4–1/5 holidays)
    engine.fire(d, "receive", desk)
    assert (d.state, d.status) == ("received", 2)
    assert d.sla.running and d.sla.started_at == clock.now()
    assert d.sla.due_at == engine.calendar.due_at(clock.now(), 3)
    assert d.sla.due_at.isoformat() == "2026-05-07T17:00:00+07:00"  # Mon + 3 → Thu, not from the Friday
    assert replay(engine.history(d.id)) == engine.get(d.id)


def test_online_filing_refused_at_the_desk_is_status_1_then_3(online, clock):
    engine, commune, desk = online
    d = engine.file("9.000001", filed_at=commune, actor=desk, data=DATA, online=True)
    clock.advance(hours=2)
    engine.fire(d, "refuse_receipt", desk)
    assert (d.status, d.state) == (3, "not_received")
    assert d.sla.stopped and not d.sla.is_overdue(clock.now())
    statuses = [e.status for e in engine.history(d.id)]
    assert statuses == [1, 3]


def test_supplement_before_receipt_keeps_the_clock_unstarted(online, clock):
    engine, commune, desk = online
    d = engine.file("9.000001", filed_at=commune, actor=desk, data=DATA, online=True)
    engine.fire(d, "request_supplement", desk)
    assert d.status == 5 and d.sla.paused
    clock.advance(days=10)
    engine.fire(d, "resubmit", desk)
    assert d.status == 1 and d.sla.paused
    clock.set(vn(2026, 5, 12, 16, 0))  # Tuesday after the cut-off: received Wednesday
    engine.fire(d, "receive", desk)
    assert d.sla.due_at.isoformat() == "2026-05-18T17:00:00+07:00"  # Thu 14, Fri 15, Mon 18


def test_a_procedure_without_online_intake_refuses_an_online_filing(engine, registry):
    commune = registry.communes_of("92")[0].code
    desk = Actor(f"desk@{commune}", commune, {"one_stop_officer"})
    with pytest.raises(DefinitionError, match="online"):  # the land flow as the previous release froze it
        engine.file("1.012751", version=1, filed_at=commune, actor=desk, online=True,
                    data={"applicant_name": "A", "applicant_national_id": "092123456789", "parcel": "1/2",
                          "land_address": "Thửa 1"})


def test_sync_payload_carries_sector_applicant_kind_holder_and_due_date(online, clock):
    engine, commune, desk = online
    d = engine.file("9.000001", filed_at=commune, actor=desk, data=DATA, online=True)
    engine.fire(d, "receive", desk)
    defn = engine.definition("9.000001")
    payload = status_payload(d, defn)
    record = dossier_record(payload)
    assert record["MaLinhVuc"] == "G13-HT"
    assert record["LoaiDoiTuong"] == "1"
    assert record["ChuHoSo"] == "Trần Thị Bình"  # the applicant, not the subject of the dossier
    assert record["NgayHenTra"] == portal_time(d.sla.due_at) == portal_time(engine.calendar.due_at(d.sla.started_at, 3))


@pytest.mark.parametrize(("patch", "message"), [
    (("online_initial = \"submitted\"", "online_initial = \"nowhere\""), "online_initial"),
    (("online_initial = \"submitted\"", "online_initial = \"received\""), "online_initial"),
    (("applicant_kind = \"citizen\"", "applicant_kind = \"alien\""), "applicant_kind"),
    (("name = \"requester_name\"\nnational_id", "name = \"nobody\"\nnational_id"), "applicant.name"),
])
def test_bad_portal_keys_are_refused_with_their_path(patch, message):
    with pytest.raises(DefinitionError, match=message):
        parse_definition(ONLINE.replace(*patch))
