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

# The plugin's fixtures, whether or not the pytest11 entry point is installed in this environment (an
# installed plugin provides the same fixtures; these definitions simply win).
from procflow.testing.plugin import (  # noqa: F401
    dossier_story,
    procflow_adapters,
    procflow_bundles,
    procflow_calendar,
    procflow_clock,
    procflow_deliver,
    procflow_engine,
    procflow_memory_store,
    procflow_plugins,
    procflow_registry,
    procflow_store,
)

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
