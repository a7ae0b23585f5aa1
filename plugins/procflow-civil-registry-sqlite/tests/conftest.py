"""Fixtures: a real SQLite citizen table and the conformance harness over it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from procflow_civil_registry_sqlite import CivilRegistry, create_registry

from procflow.testing.conformance import AdapterHarness

LAN = {"national_id": "092123456789", "full_name": "Nguyễn Thị Lan", "date_of_birth": "1990-05-17",
       "gender": "nữ", "address": "12 Nguyễn Trãi, Ninh Kiều, Cần Thơ", "phone": "0912345678"}
HUNG = {"national_id": "079201000123", "full_name": "Trần Văn Hùng", "date_of_birth": "1985-01-02",
        "gender": "nam", "address": "", "phone": None}


@pytest.fixture(scope="session", autouse=True)
def hermetic_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the tests out of the user's home and keyrings (as procflow's own suite does): the default keyring
    of a PostgreSQL store lives under ``$XDG_CONFIG_HOME``; keys configured in the caller's shell are ignored."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        mp.delenv("PROCFLOW_KEYS_FILE", raising=False)
        mp.delenv("PROCFLOW_VAULT_KEYS", raising=False)
        yield


@pytest.fixture
def registry_db(tmp_path) -> Path:
    return create_registry(tmp_path / "citizens.db", [LAN, HUNG])


@contextmanager
def registry_fault(path: Path, kind: str) -> Iterator[None]:
    """``unavailable``: the file is gone (a lost mount); ``hang``: another process holds it locked."""
    if kind == "unavailable":
        away = path.with_suffix(".away")
        os.rename(path, away)
        try:
            yield
        finally:
            os.rename(away, path)
    elif kind == "hang":
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    else:
        raise ValueError(f"the registry fake cannot simulate {kind!r}")


@pytest.fixture
def procflow_adapter(registry_db: Path) -> AdapterHarness:
    return AdapterHarness(
        plugin=CivilRegistry(registry_db),
        fault=lambda kind: registry_fault(registry_db, kind),
        citizens={LAN["national_id"]: {k: v for k, v in LAN.items() if k != "national_id"},
                  HUNG["national_id"]: {"full_name": HUNG["full_name"], "date_of_birth": HUNG["date_of_birth"]}},
        timeout=0.3,
        supports=frozenset({"unavailable", "hang"}),
    )
