"""Fixtures for the personal-data tests: an engine on a SQLite file with an explicit keyring beside it."""

from __future__ import annotations

import pytest

from procflow.engine.core import Engine
from procflow.privacy.keys import FileKeyProvider
from procflow.privacy.vault import Vault


@pytest.fixture
def communes(registry) -> list[str]:
    return [c.code for c in registry.communes_of("92")[:3]]


@pytest.fixture(autouse=True)
def operator(sqlite_store, tmp_path, monkeypatch) -> dict[str, str]:
    """This machine's operator, enrolled in the test store with a 0600 credential named by
    ``PROCFLOW_OPERATOR_FILE``: commands that write or show personal data act as them (a test that passes its
    own ``env=`` acts as whoever that names). They administer the store (``store:admin``: keys, retention,
    restore, db upgrade); tests of an operator without the role enrol their own."""
    from operator_support import use_operator

    from procflow.privacy.directory import STORE_ADMIN_ROLE

    return use_operator(monkeypatch, sqlite_store, tmp_path, roles={STORE_ADMIN_ROLE})


@pytest.fixture
def keyring(tmp_path) -> FileKeyProvider:
    return FileKeyProvider(tmp_path / "keys.json")


@pytest.fixture
def pengine(sqlite_store, registry, clock, keyring, communes) -> Engine:
    """The engine, its directory listing each commune's one-stop officer and civil-status officer
    (``privacy_support.desk`` / ``civil``); a test enrols anyone else it names."""
    from privacy_support import civil, desk

    from procflow.definition.reader import bundled_definitions
    from procflow.testing.directory import staff_of

    e = Engine(sqlite_store, registry=registry, clock=clock, vault=Vault(sqlite_store, keyring))
    for d in bundled_definitions():
        e.register(d)
    staff_of(e).actors(*(f(c) for c in communes for f in (desk, civil)))
    return e


@pytest.fixture
def filed_db(pengine, communes, monkeypatch) -> str:
    """The path of ``pengine``'s store holding one accepted birth registration, its keyring named in the
    environment as a command line finds it: what the operator commands are run against."""
    from privacy_support import BIRTH, CHILD, desk

    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    pengine.fire(d, "accept", desk(communes[0]))
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(pengine.vault.keys.path))
    return str(pengine.store.path)
