"""Marriage registration (đăng ký kết hôn, 1.000894) at the commune, a bundled procedure since issue 15.

Runs two couples through the shipped definition (``procflow/procedures/marriage_registration.toml``; the
example wrote it from scratch before it was promoted): one registered the same day, one whose conditions need
verifying — at most 5 working days that do not count towards the same-day limit (Luật Hộ tịch 2014, Điều 18).

Run:  python examples/marriage_registration/run.py [store.db]
"""

from __future__ import annotations

import sys
from datetime import datetime, time
from zoneinfo import ZoneInfo

from procflow import Actor, Engine, FakeClock, bundled_definitions, open_store
from procflow.privacy import Official

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def main(db: str = ":memory:") -> dict:
    definition = next(d for d in bundled_definitions() if d.code == "1.000894")
    clock = FakeClock(datetime(2026, 5, 4, 9, 0, tzinfo=VN))  # Monday after the 30/4 and 1/5 holidays
    engine = Engine(open_store(db), clock=clock)
    engine.register(definition)
    print(f"registered {definition.code} v{definition.version}: {definition.name}")
    print(f"checked against: {definition.catalogue_source}")
    print(f"unconfirmed: {', '.join(definition.unconfirmed) or 'nothing'}")

    commune = engine.registry.communes_of(engine.registry.province("Huế").code)[0].code
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", commune))
    engine.directory.add(admin, [Official("nv.motcua", "Lê Văn Một", commune, {"one_stop_officer"}),
                                 Official("cb.hotich", "Trần Thị Hộ", commune, {"civil_status_officer"})])
    desk, registrar = Actor("nv.motcua", commune), Actor("cb.hotich", commune)  # roles come from the directory
    couple = {"groom_name": "Phạm Văn Bình", "groom_national_id": "046095000123",
              "bride_name": "Hoàng Thị Mai", "bride_national_id": "046197000456"}

    quick = engine.file("1.000894", filed_at=commune, actor=desk, data=couple)
    engine.fire(quick, "accept", desk)
    print(f"{quick.id}: due {quick.sla.due_at:%Y-%m-%d %H:%M} (the same working day)")
    engine.fire(quick, "approve", registrar, data={"documents_complete": True})
    engine.fire(quick, "return_result", desk)
    print(f"{quick.id}: registered the same day, status {quick.status}")

    slow = engine.file("1.000894", filed_at=commune, actor=desk, data=couple)
    engine.fire(slow, "accept", desk)
    engine.fire(slow, "request_verification", registrar, note="xác minh tình trạng hôn nhân")
    print(f"{slow.id}: verifying, step due {slow.step_due_at:%Y-%m-%d %H:%M} (5 working days, not counted)")
    clock.set(datetime.combine(engine.calendar.add_working_days(clock.now().date(), 4), time(10, 0), VN))
    engine.fire(slow, "verification_done", registrar)
    engine.fire(slow, "approve", registrar, data={"documents_complete": True})
    engine.fire(slow, "return_result", desk)
    on_time = slow.sla.stopped_at is not None and slow.sla.stopped_at <= slow.sla.due_at
    print(f"{slow.id}: registered on {clock.now():%Y-%m-%d} after verification, on time: {on_time}")
    engine.store.close()
    return {"definition": definition, "quick": quick, "slow": slow, "on_time": on_time}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
