"""Shared fixtures for procflow's own tests (users get theirs from the procflow.testing plugin)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from procflow.clock import FakeClock
from procflow.definition import bundled_definitions
from procflow.engine import Engine
from procflow.jurisdiction import Registry
from procflow.store.sqlite import SQLiteStore

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.default()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=VN))  # a Monday


@pytest.fixture
def sqlite_store(tmp_path):
    store = SQLiteStore(str(tmp_path / "procflow.db"))
    yield store
    store.close()


@pytest.fixture
def engine(sqlite_store, registry, clock) -> Engine:
    e = Engine(sqlite_store, registry=registry, clock=clock)
    for d in bundled_definitions():
        e.register(d)
    return e
