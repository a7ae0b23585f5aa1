"""Fixtures for the timer tests: an engine with the test procedures on SQLite, and on a real PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest
import timerdefs

from procflow.clock import FakeClock
from procflow.engine.core import Engine
from procflow.store.base import Store
from procflow.store.sqlite import SQLiteStore

PG_URL = os.environ.get("PROCFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def tclock() -> FakeClock:
    return FakeClock(timerdefs.T0)


@pytest.fixture
def tstore(tmp_path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "timers.db"))
    yield store
    store.close()


@pytest.fixture
def tengine(tstore, registry, tclock) -> Engine:
    return timerdefs.make_engine(tstore, tclock, registry)


@pytest.fixture(scope="session")
def timers_pg() -> Iterator[tuple[str, str]]:
    """(url, schema): a schema of its own for this session's timer tests; skipped without a server."""
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({str(exc).strip()}); set PROCFLOW_TEST_PG_URL")
    schema = f"procflow_timers_{secrets.token_hex(4)}"
    yield PG_URL, schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens stores on one (emptied) database of either backend; call it again for another connection."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = str(tmp_path / "b.db")

        def factory() -> Store:
            opened.append(SQLiteStore(path))
            return opened[-1]
    else:
        from procflow.store.postgres import PostgresStore

        url, schema = request.getfixturevalue("timers_pg")
        first = PostgresStore(url, schema=schema, pool_size=1)
        first._execute("TRUNCATE definitions, sequences, dossiers, events, outbox, audit, timers, timer_log "
                      "RESTART IDENTITY")
        first.close()

        def factory() -> Store:
            opened.append(PostgresStore(url, schema=schema, pool_size=2))
            return opened[-1]
    yield factory
    for s in opened:
        s.close()
