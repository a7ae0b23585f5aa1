"""Fixtures for the exchange tests: a small federation of agency nodes with a test PKI (made once)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from exchange_support import AGENCIES, PROVINCE, T0, Inbox, make_inbox
from handoff_support import Federation, make_federation

from procflow.exchange import NodeKeys, TrustStore, generate_test_pki


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    generate_test_pki(AGENCIES, directory, now=T0 - timedelta(days=30))
    return directory


@pytest.fixture(scope="session")
def pki(pki_dir: Path) -> dict[str, NodeKeys]:
    """Each node's keys, loaded once from the files, as a node does at start-up."""
    return {code: NodeKeys.load(code, pki_dir / f"{code}.key.pem", pki_dir / f"{code}.cert.pem") for code in AGENCIES}


@pytest.fixture(scope="session")
def trust(pki_dir: Path) -> TrustStore:
    return TrustStore.load(pki_dir)


@pytest.fixture
def inbox_factory(trust: TrustStore) -> Callable[..., Inbox]:
    def factory(me: str = PROVINCE, **kwargs: object) -> Inbox:
        return make_inbox(trust, me, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def federation(tmp_path: Path, registry: object) -> Iterator[Federation]:
    """Two nodes on two SQLite files: a commune in Cần Thơ and the provincial land registration office."""
    fed = make_federation(tmp_path, registry)  # type: ignore[arg-type]
    yield fed
    fed.close()
