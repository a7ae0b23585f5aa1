"""Use the example adapter plugin: build an engine with it, run a dossier, deliver the notices.

Installed (``pip install -e examples/adapter_plugin``) the plugin is found through its entry point, and
``procflow plugins`` lists it. This script passes it explicitly instead, so it runs without installing.

Run:  python examples/adapter_plugin/run.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent / "src"))  # not needed once the package is installed

import procflow_sms_log

from procflow import Actor, FakeClock, open_store
from procflow.plugins import build_engine, describe_plugins, make_plugin_manager
from procflow.privacy import Official
from procflow.workers.delivery import DeliveryWorker

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def main(workdir: str | None = None) -> dict:
    workdir = Path(workdir or tempfile.mkdtemp())
    os.environ[procflow_sms_log.ENV] = str(workdir / "sms.jsonl")  # configure the adapter

    pm = make_plugin_manager(load_entrypoints=False, plugins=[procflow_sms_log])
    for info in describe_plugins(pm):
        print(f"plugin {info.name} ({info.source}): {', '.join(info.hooks)}")
    clock = FakeClock(datetime(2026, 4, 20, 9, 0, tzinfo=VN))
    store = open_store(str(workdir / "procflow.db"))
    engine = build_engine(store, pm=pm, clock=clock)  # the built-in plugin registers the bundled procedures
    assert "has_phone" in engine.guards  # contributed by the plugin

    ward = engine.registry.communes_of(engine.registry.province("Cần Thơ").code)[0].code
    # who may act, and with which roles: the officials directory (`procflow officials init/add` on a real store)
    admin, _ = engine.directory.init(Official("qt.vien", "Quản trị viên", ward))
    engine.directory.add(admin, [Official("nv.motcua", "Lê Văn Một", ward, {"one_stop_officer"}),
                                 Official("cb.hotich", "Trần Thị Hộ", ward, {"civil_status_officer"})])
    desk, officer = Actor("nv.motcua", ward), Actor("cb.hotich", ward)  # roles come from the directory
    d = engine.file("1.001193", filed_at=ward, actor=desk, data={
        "child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789",
        "parent_phone": "0912345678"})
    engine.fire(d, "accept", desk)
    engine.fire(d, "approve", officer, data={"documents_complete": True})

    worker = DeliveryWorker(store, pm, clock=clock)
    stats = worker.drain()  # outside any transaction, after the changes committed
    worker.close()
    print(f"delivered {stats.delivered} notice(s)")
    sent = (workdir / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    for line in sent:
        print(f"  sent: {json.loads(line)['text']}")
    store.close()
    return {"stats": stats, "sent": sent}


if __name__ == "__main__":
    main()
