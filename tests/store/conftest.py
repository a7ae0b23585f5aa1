"""Store fixtures: every contract test runs once on SQLite and once on a real PostgreSQL.

PostgreSQL tests isolate themselves in a fresh schema per test session (``procflow_test_<random>``),
emptied before each test and dropped at the end. They skip, saying why, only when no server answers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest

from procflow.store.base import Store
from procflow.store.sqlite import SQLiteStore

PG_URL = os.environ.get("PROCFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_url() -> str:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({str(exc).strip()}); start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
                    "or set PROCFLOW_TEST_PG_URL")
    return PG_URL


@pytest.fixture(scope="session")
def pg_schema(pg_url: str) -> Iterator[str]:
    name = f"procflow_test_{secrets.token_hex(4)}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def empty_pg_schema(url: str, schema: str) -> None:
    from procflow.store.postgres import PostgresStore

    store = PostgresStore(url, schema=schema, pool_size=1)  # creates and migrates the schema on first use
    try:
        tables = [r[0] for r in store._execute("SELECT tablename FROM pg_tables WHERE schemaname = %s"
                                              " AND tablename <> 'procflow_migrations'", (schema,))]
        store._execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    finally:
        store.close()


@pytest.fixture
def pg_empty(pg_url: str, pg_schema: str) -> tuple[str, str]:
    """(url, schema) of the session's PostgreSQL schema, migrated and emptied for this test."""
    empty_pg_schema(pg_url, pg_schema)
    return pg_url, pg_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store_factory(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens stores on ONE database: call it twice for two independent connections (two engines)."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = str(tmp_path / "contract.db")

        def factory() -> Store:
            opened.append(SQLiteStore(path))
            return opened[-1]
    else:
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
        empty_pg_schema(url, schema)
        from procflow.store.postgres import PostgresStore

        def factory() -> Store:
            opened.append(PostgresStore(url, schema=schema, pool_size=2))
            return opened[-1]
    yield factory
    for s in opened:
        s.close()


@pytest.fixture(params=["sqlite", "postgresql", "partition"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """One store of each kind: SQLite, PostgreSQL, and the parallel simulator's partition store (process 0
    of 2 over PostgreSQL, so both its owned and its not-owned paths are taken)."""
    if request.param == "sqlite":
        opened: Store = SQLiteStore(str(tmp_path / "contract.db"))
    else:
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
        empty_pg_schema(url, schema)
        from procflow.store.postgres import PostgresStore

        opened = PostgresStore(url, schema=schema, pool_size=2)
        if request.param == "partition":
            from procflow.simulate.parallel import PartitionStore

            opened = PartitionStore(opened, 0, 2)  # type: ignore[assignment]
    yield opened
    opened.close()
