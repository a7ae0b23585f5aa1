"""Shared fixtures for procflow's own tests (users get theirs from the procflow.testing plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Engine
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
    procflow_directory,
    procflow_engine,
    procflow_memory_store,
    procflow_plugins,
    procflow_registry,
    procflow_store,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="session", autouse=True)
def hermetic_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the suite out of the user's home and keyrings: a PostgreSQL store's default keyring lives under
    ``$XDG_CONFIG_HOME/procflow/keys/`` (``procflow.privacy.env_keys.default_key_provider``), so point it at a temporary
    directory, and ignore keys configured in the caller's shell. Subprocesses inherit this environment; a test
    that sets these variables itself (``monkeypatch``) wins for its duration."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        mp.delenv("PROCFLOW_KEYS_FILE", raising=False)
        mp.delenv("PROCFLOW_VAULT_KEYS", raising=False)
        yield


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
