"""Birth registration (đăng ký khai sinh, 1.001193) at a commune one-stop desk, end to end.

A citizen files at a ward of Cần Thơ; the desk hands the dossier to the civil-status officer, who asks for
a supplement (yêu cầu bổ sung); the citizen comes back, the officer approves, the desk returns the result.
Another ward's official tries to act on it and is refused: one custodian at a time.

Run:  python examples/birth_registration/run.py [store.db]
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
    clock = FakeClock(datetime(2026, 4, 20, 9, 0, tzinfo=VN))  # a Monday
    engine = Engine(open_store(db), clock=clock)
    for definition in bundled_definitions():
        engine.register(definition)

    province = engine.registry.province("Cần Thơ").code
    ward, other_ward = (c.code for c in engine.registry.communes_of(province)[:2])
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", ward))
    engine.directory.add(admin, [Official("nv.motcua", "Lê Văn Một", ward, {"one_stop_officer"}),
                                 Official("cb.hotich", "Trần Thị Hộ", ward, {"civil_status_officer"}),
                                 Official("cb.khac", "Phạm Văn Khác", other_ward, {"civil_status_officer"})])
    desk, officer = Actor("nv.motcua", ward), Actor("cb.hotich", ward)  # roles come from the directory

    d = engine.file("1.001193", filed_at=ward, actor=desk, data={
        "child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789"})
    print(f"received (tiếp nhận) {d.id}: status {d.status}, due {d.sla.due_at:%Y-%m-%d %H:%M}")

    engine.fire(d, "accept", desk)
    engine.fire(d, "request_supplement", officer, note="missing the birth notice (giấy chứng sinh)")
    print(f"supplement requested: status {d.status}, clock paused: {d.sla.paused}")

    clock.advance(days=1, hours=5)  # the citizen comes back Tuesday 14:00 ...
    engine.fire(d, "resubmit", desk)  # ... and the same-day limit counts again (restart policy)
    print(f"resubmitted: status {d.status}, due {d.sla.due_at:%Y-%m-%d %H:%M}")

    try:
        engine.fire(d, "approve", Actor("cb.khac", other_ward))
    except NotCustodian as exc:
        audited = len(engine.store.audit(dossier_id=d.id))
        print(f"refused: {type(exc).__name__}, dossier untouched (status {d.status}), audit entries: {audited}")

    clock.advance(hours=1)
    engine.fire(d, "approve", officer, data={"documents_complete": True})
    engine.fire(d, "return_result", desk)
    on_time = not d.sla.is_overdue(clock.now())
    print(f"returned (trả kết quả): status {d.status}, on time: {on_time}")
    history = engine.history(d.id)
    print(f"events: {len(history)}; replay reproduces the snapshot: {engine.replay(d.id) == d}")
    engine.store.close()
    return {"dossier": d, "events": history, "on_time": on_time}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
