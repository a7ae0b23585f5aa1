"""Form 04 on both stores: the extension is one event, replay reproduces it, a second one is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor, replay
from procflow.engine.core import Engine
from procflow.errors import ExtensionRefused
from procflow.forms import build_form, render_html
from procflow.testing.directory import staff_of

HOUSEHOLD_BUSINESS = next(x.code for x in bundled_definitions()
                          if str(x.file).endswith("household_business_registration.toml"))  # 3 working days


def test_extension_and_forms_on_each_store(store):
    clock = FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    engine = Engine(store, clock=clock)
    for d in bundled_definitions():
        engine.register(d)
    a = engine.registry.communes_of("92")[0].code
    desk = Actor(f"desk@{a}", a, {"one_stop_officer"})
    staff_of(engine).actors(desk, Actor(f"lanh.dao@{a}", a))
    d = engine.file(HOUSEHOLD_BUSINESS, filed_at=a, actor=desk, data={
        "business_name": "Tạp hóa Bình An", "owner_name": "Trần Thị Bình", "owner_national_id": "092198765432",
        "business_address": "12 đường 30/4, Ninh Kiều"})
    engine.fire(d, "accept", desk)
    clock.advance(hours=3)
    new_due = d.sla.due_at + timedelta(days=7)
    while not engine.calendar.is_working_day(new_due.astimezone(engine.calendar.tz).date()):
        new_due += timedelta(days=1)
    head = Actor(f"lanh.dao@{d.custodian}", d.custodian)
    engine.extend(d.id, head, reason="Hồ sơ cần lấy ý kiến cơ quan thuế", new_due=new_due)
    stored = engine.get(d.id)
    assert stored.sla.extended_due_at == new_due and stored.sla.due_at == d.sla.due_at
    assert replay(engine.history(d.id)) == stored
    with pytest.raises(ExtensionRefused):
        engine.extend(d.id, head, reason="Hồ sơ cần lấy ý kiến cơ quan thuế", new_due=new_due + timedelta(days=1))
    assert engine.get(d.id) == stored
    page = render_html(build_form(engine, d.id, "06", desk))
    assert "xin lỗi, gia hạn (mẫu 04)" in page and "092198765432" not in page
