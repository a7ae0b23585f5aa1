"""A dossier follows the version of its procedure that is the law on the day it is filed.

First land registration ships two versions: v1 (the flow before the two-level local government) and v2,
effective 1 July 2025 until 1 March 2027 (Decree 151/2025/ND-CP). Filing used to take the latest registered
version whatever the day.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.privacy.keys import StaticKeyProvider
from procflow.privacy.vault import Vault
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import StaffDirectory

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LAND = "1.012751"
REGISTRY = Registry.default()
COMMUNE = REGISTRY.communes_of("92")[0].code
DATA = {"applicant_name": "Lê Văn Minh", "applicant_national_id": "092123456789", "parcel": "12/345"}


@pytest.fixture
def engine(tmp_path):
    store = SQLiteStore(str(tmp_path / "v.db"))
    eng = Engine(store, registry=REGISTRY, clock=FakeClock(datetime(2025, 6, 30, 9, tzinfo=VN)),
                 vault=Vault(store, StaticKeyProvider.generate()))
    for d in bundled_definitions():
        if d.code == LAND:
            eng.register(d)
    StaffDirectory(eng).staff("92")
    yield eng
    store.close()


def _file(engine: Engine, day: datetime) -> int:
    engine.clock.set(day)  # type: ignore[attr-defined]
    desk = Actor(id=f"one_stop_officer@{COMMUNE}", agency=COMMUNE)
    return engine.file(LAND, filed_at=COMMUNE, actor=desk, data=DATA).definition_version


@pytest.mark.filterwarnings("ignore::procflow.errors.CalendarWarning")  # 2027 is past the shipped day-off schedule
def test_the_version_in_force_on_the_filing_day_is_followed(engine, caplog, monkeypatch):
    import procflow.engine.compiled as compiled

    monkeypatch.setattr(compiled, "_LAPSED_TOLD", set())
    assert _file(engine, datetime(2025, 6, 30, 16, tzinfo=VN)) == 1  # the day before Decree 151 took effect
    assert _file(engine, datetime(2025, 7, 1, 8, tzinfo=VN)) == 2
    assert _file(engine, datetime(2027, 2, 26, 8, tzinfo=VN)) == 2
    assert engine.file(LAND, filed_at=COMMUNE, actor=Actor(id=f"one_stop_officer@{COMMUNE}", agency=COMMUNE),
                       data=DATA, version=1).definition_version == 1  # asked for by number: as asked
    with caplog.at_level(logging.WARNING, logger="procflow.engine.core"):
        assert _file(engine, datetime(2027, 3, 1, 8, tzinfo=VN)) == 2  # lapsed, nothing later: goes on, says so
        assert _file(engine, datetime(2027, 3, 2, 8, tzinfo=VN)) == 2
    told = [r.getMessage() for r in caplog.records if "stopped being the law" in r.getMessage()]
    assert len(told) == 1 and "v2 stopped being the law on 2027-03-01" in told[0]  # once, not per filing
