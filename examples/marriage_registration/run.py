"""A new procedure written from scratch: marriage registration (đăng ký kết hôn) at the commune.

Loads ``marriage_registration.toml`` next to this file (``procflow validate`` checks the same file from the
shell), registers it beside the bundled procedures and runs two couples through it: one registered the same
day, one whose conditions need verifying (at most 5 working days, Luật Hộ tịch 2014, Điều 18).

Run:  python examples/marriage_registration/run.py [store.db]
"""

from __future__ import annotations

import sys
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from procflow import Actor, Engine, FakeClock, load_definition, open_store

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TOML = Path(__file__).with_name("marriage_registration.toml")


def main(db: str = ":memory:") -> dict:
    definition = load_definition(TOML)  # raises DefinitionError listing every problem
    clock = FakeClock(datetime(2026, 5, 4, 9, 0, tzinfo=VN))  # Monday after the 30/4 and 1/5 holidays
    engine = Engine(open_store(db), clock=clock)
    engine.register(definition)
    print(f"registered {definition.code} v{definition.version}: {definition.name}")

    commune = engine.registry.communes_of(engine.registry.province("Huế").code)[0].code
    desk = Actor("nv.motcua", commune, {"one_stop_officer"})
    registrar = Actor("cb.hotich", commune, {"civil_status_officer"})
    couple = {"groom_name": "Phạm Văn Bình", "groom_national_id": "046095000123",
              "bride_name": "Hoàng Thị Mai", "bride_national_id": "046197000456"}

    quick = engine.file("1.000894", filed_at=commune, actor=desk, data=couple)
    engine.fire(quick, "accept", desk)
    print(f"{quick.id}: step due {quick.step_due_at:%Y-%m-%d %H:%M}, whole limit due {quick.sla.due_at:%Y-%m-%d}")
    engine.fire(quick, "register", registrar, data={"documents_complete": True})
    engine.fire(quick, "return_result", desk)
    print(f"{quick.id}: registered the same day, status {quick.status}")

    slow = engine.file("1.000894", filed_at=commune, actor=desk, data=couple)
    engine.fire(slow, "accept", desk)
    engine.fire(slow, "verify_conditions", registrar, note="xác minh tình trạng hôn nhân")
    print(f"{slow.id}: verifying, step due {slow.step_due_at:%Y-%m-%d %H:%M}")
    clock.set(datetime.combine(engine.calendar.add_working_days(clock.now().date(), 4), time(10, 0), VN))
    engine.fire(slow, "register", registrar, data={"documents_complete": True})
    engine.fire(slow, "return_result", desk)
    on_time = not slow.sla.is_overdue(clock.now())
    print(f"{slow.id}: registered on {clock.now():%Y-%m-%d} after verification, on time: {on_time}")
    engine.store.close()
    return {"definition": definition, "quick": quick, "slow": slow, "on_time": on_time}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
