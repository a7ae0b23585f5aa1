"""Location-independent filing (phi địa giới hành chính): file in Hà Nội, decided in Cần Thơ.

A parent living in Hà Nội registers the birth of a child whose residence is a ward of Cần Thơ. The Hà Nội
ward's one-stop desk receives the dossier and stays the point of contact (đầu mối) that returns the result;
the competent agency (cơ quan có thẩm quyền) is the Cần Thơ ward, which alone may decide it.

Run:  python examples/location_independent/run.py [store.db]
"""

from __future__ import annotations

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from procflow import Actor, Engine, FakeClock, bundled_definitions, open_store
from procflow.errors import NotCustodian
from procflow.privacy import Official

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def main(db: str = ":memory:") -> dict:
    clock = FakeClock(datetime(2026, 4, 21, 10, 0, tzinfo=VN))
    engine = Engine(open_store(db), clock=clock)
    for definition in bundled_definitions():
        engine.register(definition)
    reg = engine.registry

    filed_at = reg.communes_of(reg.province("Hà Nội").code)[0].code  # where the citizen is today
    location = reg.communes_of(reg.province("Cần Thơ").code)[0].code  # where the child resides
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", filed_at))
    engine.directory.add(admin, [Official("nv.motcua.hn", "Lê Văn Một", filed_at, {"one_stop_officer"}),
                                 Official("cb.hotich.hn", "Đỗ Thị Hà", filed_at, {"civil_status_officer"}),
                                 Official("cb.hotich.ct", "Trần Thị Hộ", location, {"civil_status_officer"})])
    desk, officer = Actor("nv.motcua.hn", filed_at), Actor("cb.hotich.ct", location)

    d = engine.file("1.001193", filed_at=filed_at, location=location, actor=desk, data={
        "child_name": "Lê Minh Khôi", "child_birth_date": "2026-04-10", "parent_national_id": "001190000001"})
    print(f"{d.id}: location-independent: {d.location_independent}")
    print(f"  received at  {reg.agency(d.agencies['receiving'])}")
    print(f"  competent    {reg.agency(d.agencies['competent'])}")

    engine.fire(d, "accept", desk)  # hand-off to the competent ward
    print(f"accepted: custodian is now {reg.agency(d.custodian).name}")
    try:
        engine.fire(d, "approve", Actor("cb.hotich.hn", filed_at),
                    data={"documents_complete": True})
    except NotCustodian:
        print("the Hà Nội ward cannot decide it: refused with NotCustodian")
    engine.fire(d, "approve", officer, data={"documents_complete": True})
    print(f"approved: result back at {reg.agency(d.custodian).name} (status {d.status})")
    engine.fire(d, "return_result", desk)
    print(f"returned by the receiving ward: status {d.status}")
    custodians = [e.custodian for e in engine.history(d.id)]
    engine.store.close()
    return {"dossier": d, "filed_at": filed_at, "location": location, "custodians": custodians}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
