"""First land registration and land-use certificate (bundled, 1.012751): commune ↔ province ↔ tax.

The flow of Decree 151/2025/NĐ-CP (version 2, in force 1 July 2025 – 1 March 2027): the commune one-stop
desk (bộ phận một cửa) receives, the commune People's Committee where the land lies verifies and posts the
findings publicly for 15 days (not counted towards the limit), sends the financial-obligation information to
the tax authority (nghĩa vụ tài chính; the clock pauses while the citizen pays) and signs the certificate;
the provincial land registration office (văn phòng đăng ký đất đai) updates the cadastre, and the desk
returns the certificate. Each hand-off is an event; only the current custodian may act.

Run:  python examples/land_certificate/run.py [store.db]
"""

from __future__ import annotations

import sys
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from procflow import Actor, Engine, FakeClock, bundled_definitions, open_store
from procflow.privacy import Official

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def main(db: str = ":memory:") -> dict:
    clock = FakeClock(datetime(2026, 6, 1, 8, 0, tzinfo=VN))  # a Monday
    engine = Engine(open_store(db), clock=clock)
    for definition in bundled_definitions():
        engine.register(definition)

    commune = engine.registry.communes_of(engine.registry.province("Cần Thơ").code)[0].code
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", commune))
    engine.directory.add(admin, [Official("nv.motcua", "Lê Văn Một", commune, {"one_stop_officer"}),
                                 Official("cb.diachinh", "Ngô Văn Đất", commune, {"land_officer"})])
    desk = Actor("nv.motcua", commune)
    d = engine.file("1.012751", filed_at=commune, actor=desk, data={
        "applicant_name": "Trần Thị Hoa", "applicant_national_id": "092187654321", "parcel": "Thửa 125, tờ 7"})
    due_at_filing = d.sla.due_at
    office, tax = d.agencies["competent"], d.agencies["tax"]
    engine.directory.add(admin, [Official("vpdk.01", "Văn phòng đăng ký", office, {"registration_officer"}),
                                 Official("thue.01", "Cán bộ thuế", tax, {"tax_officer"})])
    land_officer, registrar = Actor("cb.diachinh", commune), Actor("vpdk.01", office)
    tax_officer = Actor("thue.01", tax)

    def later(working_days: int = 1, calendar_days: int = 0) -> None:
        """Move the clock to 9:00 on the n-th working day after today (+ some calendar days first)."""
        start = clock.now().date() + timedelta(days=calendar_days + 1)
        clock.set(datetime.combine(engine.calendar.add_working_days(start, working_days), time(9, 0), VN))

    def step(trigger: str, actor: Actor, **kwargs) -> None:
        before = d.custodian
        engine.fire(d, trigger, actor, **kwargs)
        hand_off = f"  hand-off {before} → {d.custodian}" if d.custodian != before else ""
        print(f"{clock.now():%Y-%m-%d %H:%M} {trigger:<18} → {d.state:<20} status {d.status:>2}{hand_off}")

    flow = engine.definition("1.012751", d.definition_version)
    print(f"received {d.id} under version {flow.version} (Decree 151/2025 flow), in force "
          f"{flow.effective_from} – {flow.effective_until}")
    print(f"received {d.id}: 20 working days, due {due_at_filing:%Y-%m-%d %H:%M}")
    for role in ("receiving", "location", "competent", "tax"):
        print(f"  {role:<9} {engine.registry.agency(d.agencies[role])}")
    step("forward_to_commune", desk)
    later(2)
    step("post_publicly", land_officer)        # public posting: the clock is excluded
    later(calendar_days=15)
    step("posting_complete", land_officer)     # the deadline moves later by the posting
    print(f"after the public posting the due date is {d.sla.due_at:%Y-%m-%d %H:%M}")
    later()
    step("send_to_tax", land_officer, data={"documents_complete": True})  # the commune informs tax
    later()
    step("notify_obligation", tax_officer)     # waiting for the citizen to pay: paused
    later(5)
    step("confirm_payment", land_officer, data={"obligation_paid": True})
    later()
    step("issue_certificate", land_officer)     # the commune People's Committee signs the certificate
    step("update_cadastre", registrar)         # the land registration office updates the cadastre
    step("return_result", desk)
    on_time = not d.sla.is_overdue(clock.now())
    print(f"certificate returned; due {d.sla.due_at:%Y-%m-%d %H:%M}, on time: {on_time}")
    print(f"replay reproduces the snapshot: {engine.replay(d.id) == d}")
    engine.store.close()
    return {"dossier": d, "due_at_filing": due_at_filing, "on_time": on_time, "office": office, "tax": tax,
            "commune": commune}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
