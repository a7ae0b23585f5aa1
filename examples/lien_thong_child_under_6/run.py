"""Liên thông for a child under 6 (Decree 63/2024/NĐ-CP): birth registration, then permanent residence
(police) and the health-insurance card (social insurance) in parallel, joined into one result that the
receiving commune returns; the whole bundle is due 3 working days from the complete dossier.

Run:  python examples/lien_thong_child_under_6/run.py [store.db]
"""

from __future__ import annotations

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from procflow import Actor, Engine, FakeClock, bundled_definitions, open_store
from procflow.bundle import BundleCoordinator
from procflow.errors import NotCustodian
from procflow.privacy import Official

VN = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS = {2: "received", 4: "processing", 5: "supplement requested", 9: "joined, result at the desk",
          10: "result returned"}


def main(db: str = ":memory:") -> dict:
    clock = FakeClock(datetime(2026, 4, 20, 9, 0, tzinfo=VN))  # a Monday
    engine = Engine(open_store(db), clock=clock)
    for definition in bundled_definitions():
        engine.register(definition)
    bundles = BundleCoordinator(engine)  # the shipped bundle: procflow/procedures/bundles/child_under_6.toml

    ward = engine.registry.communes_of(engine.registry.province("Cần Thơ").code)[0]
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", ward.code))
    engine.directory.add(admin, [Official("nv.motcua", "Lê Văn Một", ward.code, {"one_stop_officer"})])
    desk = Actor("nv.motcua", ward.code)  # roles come from the directory
    b = bundles.file("LT.KS-TT-BHYT", filed_at=ward.code, actor=desk, data={
        "child_name": "Nguyễn Thị Mai", "child_birth_date": "2026-04-15", "parent_national_id": "092123456789",
        "residence_address": "Số 12, đường 30/4"})
    print(f"bundle {b.id}: status {b.status} ({STATUS[b.status]}), due {b.sla.due_at:%Y-%m-%d %H:%M} "
          f"({b.sla.working_days} working days)")

    def officer(d, role):
        """The agency's official for ``role``, added to the directory by the administrator when first needed."""
        official_id = f"{role}@{d.custodian}"
        if engine.directory.get(official_id) is None:
            engine.directory.add(admin, [Official(official_id, role, d.custodian, {role})])
        return Actor(official_id, d.custodian)

    birth = engine.get(b.members["birth"])
    bundles.fire(birth, "accept", desk)
    fired = bundles.fire(birth, "approve", officer(birth, "civil_status_officer"), data={"documents_complete": True})
    residence, insurance = fired.started  # the electronic birth certificate feeds both agencies at once
    print(f"birth registered the same day; started in parallel: residence at "
          f"{engine.registry.agency(residence.custodian).name}, health insurance at "
          f"{engine.registry.agency(insurance.custodian).name}")

    clock.advance(hours=4)
    bundles.fire(insurance, "accept", officer(insurance, "insurance_officer"))
    b = bundles.fire(insurance, "approve", officer(insurance, "insurance_officer"),
                     data={"documents_complete": True}).bundle
    print(f"health-insurance card issued: bundle status {b.status} ({STATUS[b.status]})")

    police = officer(residence, "residence_officer")
    clock.advance(days=1)  # Tuesday: the police verify the residence first
    bundles.fire(residence, "accept", police)
    bundles.fire(residence, "request_verification", police)
    clock.advance(days=1)
    bundles.fire(residence, "verification_done", police)
    b = bundles.fire(residence, "approve", police, data={"documents_complete": True}).bundle
    on_time = b.sla.stopped_at <= b.sla.due_at
    print(f"residence registered: bundle status {b.status} ({STATUS[b.status]}), on time: {on_time}")

    other = engine.registry.communes_of(ward.province_code)[1]
    try:
        engine.directory.add(admin, [Official("nv.khac", "Phạm Văn Khác", other.code, {"one_stop_officer"})])
        bundles.return_result(b.id, Actor("nv.khac", other.code))
    except NotCustodian:
        print(f"refused: NotCustodian — the joined result is returned at {ward.name}")
    b = bundles.return_result(b.id, desk)
    members = {name: engine.get(i).status for name, i in b.members.items()}
    print(f"returned (trả kết quả) at {ward.name}: status {b.status}, members: "
          + ", ".join(f"{n} {s}" for n, s in members.items()))
    print(f"bundle replay reproduces the record: {bundles.replay(b.id) == b}")
    engine.store.close()
    return {"bundle": b, "members": members, "on_time": on_time}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ":memory:")
