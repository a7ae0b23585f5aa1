"""The second liên thông group of Decree 63/2024/NĐ-CP (catalogue code 1.011537): death registration at the
commune, then deregistration of permanent residence (commune police) and the funeral allowance (social
insurance) in parallel, joined into one result that the receiving commune returns.

Time limits (see docs/procedures/bundled.md): death registration the same working day (Luật Hộ tịch 2014,
Điều 33); deregistration 5 working days as published by the provincial police; the funeral allowance's and
the whole group's limits were not found in a public source — 5 working days is procflow's assumption,
marked unconfirmed in the TOML.

Run:  python examples/lien_thong_death/run.py [store.db]
"""

from __future__ import annotations

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from procflow import Actor, Engine, FakeClock, bundled_definitions, open_store
from procflow.bundle import BundleCoordinator
from procflow.privacy import Official

VN = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS = {2: "received", 4: "processing", 9: "joined, result at the desk", 10: "result returned"}


def main(db: str = ":memory:") -> dict:
    clock = FakeClock(datetime(2026, 4, 20, 9, 0, tzinfo=VN))  # a Monday
    engine = Engine(open_store(db), clock=clock)
    for definition in bundled_definitions():
        engine.register(definition)
    bundles = BundleCoordinator(engine)  # the shipped bundle: procflow/procedures/bundles/death_group.toml
    bdef = bundles.definition("1.011537")
    print(f"bundle {bdef.code}: {bdef.name}; unconfirmed: {', '.join(bdef.unconfirmed)}")

    ward = engine.registry.communes_of(engine.registry.province("Cần Thơ").code)[0]
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", ward.code))
    engine.directory.add(admin, [Official("nv.motcua", "Lê Văn Một", ward.code, {"one_stop_officer"})])
    desk = Actor("nv.motcua", ward.code)  # roles come from the directory
    b = bundles.file("1.011537", filed_at=ward.code, actor=desk, data={
        "deceased_name": "Trần Văn Ba", "deceased_national_id": "092050000111", "date_of_death": "2026-04-18",
        "declarant_national_id": "092080000222", "declarant_name": "Trần Văn Năm",
        "beneficiary_name": "Trần Thị Tư"})
    print(f"group {b.id}: status {b.status} ({STATUS[b.status]}), due {b.sla.due_at:%Y-%m-%d %H:%M} "
          f"({b.sla.working_days} working days)")

    def officer(d, role):
        """The agency's official for ``role``, added to the directory by the administrator when first needed."""
        official_id = f"{role}@{d.custodian}"
        if engine.directory.get(official_id) is None:
            engine.directory.add(admin, [Official(official_id, role, d.custodian, {role})])
        return Actor(official_id, d.custodian)

    death = engine.get(b.members["death"])
    bundles.fire(death, "accept", desk)
    fired = bundles.fire(death, "approve", officer(death, "civil_status_officer"), data={"documents_complete": True})
    dereg, allowance = fired.started  # the electronic death extract feeds both agencies at once
    print(f"death registered the same day (due {death.sla.due_at:%Y-%m-%d %H:%M}); started in parallel: "
          f"deregistration at {engine.registry.agency(dereg.custodian).name}, funeral allowance at "
          f"{engine.registry.agency(allowance.custodian).name}")

    clock.advance(days=1)
    police = officer(dereg, "residence_officer")
    bundles.fire(dereg, "accept", police)
    bundles.fire(dereg, "approve", police, data={"documents_complete": True})
    clock.advance(days=1)
    insurer = officer(allowance, "insurance_officer")
    bundles.fire(allowance, "accept", insurer)
    b = bundles.fire(allowance, "approve", insurer, data={"documents_complete": True}).bundle
    on_time = b.sla.stopped_at <= b.sla.due_at
    print(f"deregistered and allowance decided: group status {b.status} ({STATUS[b.status]}), on time: {on_time}")
    b = bundles.return_result(b.id, desk)
    members = {name: engine.get(i).status for name, i in b.members.items()}
    print(f"returned at {ward.name}: status {b.status}, members: " + ", ".join(f"{n} {s}" for n, s in members.items()))
    print(f"group replay reproduces the record: {bundles.replay(b.id) == b}")
    engine.store.close()
    return {"bundle": b, "members": members, "on_time": on_time}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
