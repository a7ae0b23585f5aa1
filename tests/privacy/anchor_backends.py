"""The stores the tamper matrix runs on: a SQLite file, and a schema of a real PostgreSQL (127.0.0.1:5432, or
``PROCFLOW_TEST_PG_URL``). Each names its store as the command line does (``--db``), keeps its keyring in a file
named by ``PROCFLOW_KEYS_FILE``, copies itself (a copy of the file; a new schema filled from the old one) and
runs an attacker's raw SQL on its tables — what someone with write access to the database can do."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

PG_URL = os.environ.get("PROCFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def pg_reachable() -> str | None:
    """None when PostgreSQL answers, else why not (the skip reason)."""
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return (f"PostgreSQL not reachable at {PG_URL} ({str(exc).strip()}); start it with `pg_ctlcluster "
                "--skip-systemctl-redirect $(ls /etc/postgresql) main start` or set PROCFLOW_TEST_PG_URL")
    return None


class Backend:
    """One store: ``db`` as ``--db`` names it, ``keys`` its keyring file."""

    def __init__(self, kind: str, where: Path, schemas: list[str]) -> None:
        self.kind = kind
        self.keys = str(where / "keys.json")
        self._schemas = schemas
        if kind == "sqlite":
            self.db = self.path = str(where / "a.db")
            self.keys = self.path + ".keys"  # where the default provider looks: no environment needed
        else:
            self.schema = f"procflow_anchor_{secrets.token_hex(4)}"
            schemas.append(self.schema)
            self.db = f"{PG_URL}?options={quote(f'-c search_path={self.schema}')}"
        self.env = {"PROCFLOW_KEYS_FILE": self.keys}

    @property
    def postgres(self) -> bool:
        return self.kind == "postgresql"

    def create(self) -> None:
        """An empty store at the current schema version."""
        self.open().close()

    def open(self) -> Any:
        if self.postgres:
            from procflow.store.postgres import PostgresStore

            return PostgresStore(PG_URL, schema=self.schema, pool_size=2)
        from procflow.store.sqlite import SQLiteStore

        return SQLiteStore(self.path)

    def provider(self) -> Any:
        from procflow.privacy.keys import FileKeyProvider

        return FileKeyProvider(self.keys)

    def sql(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Raw SQL (``?`` placeholders on both), each statement committed on its own."""
        if self.postgres:
            with psycopg.connect(PG_URL, autocommit=True, options=f"-c search_path={self.schema}") as conn:
                for stmt, params in statements:
                    conn.execute(stmt.replace("?", "%s"), params)  # type: ignore[arg-type]
            return
        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            for stmt, params in statements:
                con.execute(stmt, params)
        finally:
            con.close()

    def columns(self, table: str) -> list[str]:
        if self.postgres:
            with psycopg.connect(PG_URL, autocommit=True, options=f"-c search_path={self.schema}") as conn:
                cur = conn.execute(f"SELECT * FROM {table} LIMIT 0")
                return [d.name for d in cur.description or ()]
        con = sqlite3.connect(self.path)
        try:
            return [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
        finally:
            con.close()

    def copy(self, where: Path) -> Backend:
        """An independent copy of the store and its keyring."""
        where.mkdir(parents=True, exist_ok=True)
        dst = Backend(self.kind, where, self._schemas)
        shutil.copy(self.keys, dst.keys)
        if not self.postgres:
            shutil.copy(self.path, dst.path)
            return dst
        with psycopg.connect(PG_URL, autocommit=True) as conn, conn.transaction():
            conn.execute(f"CREATE SCHEMA {dst.schema}")  # tables as they are (no migration run): fast
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)).fetchall()
            for (t,) in tables:
                conn.execute(f"CREATE TABLE {dst.schema}.{t} (LIKE {self.schema}.{t} INCLUDING ALL)")
                conn.execute(f"INSERT INTO {dst.schema}.{t} OVERRIDING SYSTEM VALUE SELECT * FROM {self.schema}.{t}")
            for t, col in conn.execute("SELECT table_name, column_name FROM information_schema.columns WHERE "
                                       "table_schema = %s AND is_identity = 'YES'", (dst.schema,)).fetchall():
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{dst.schema}.{t}', '{col}'), "
                             f"coalesce((SELECT max({col}) FROM {dst.schema}.{t}), 0) + 1, false)")
        return dst


@pytest.fixture(scope="module")
def pg_schemas() -> Iterator[list[str]]:
    """The schemas this module's PostgreSQL stores made, dropped at its end."""
    made: list[str] = []
    yield made
    if made:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for name in made:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def backend_for(kind: str, where: Path, schemas: list[str]) -> Backend:
    if kind == "postgresql":
        why = pg_reachable()
        if why is not None:
            pytest.skip(why)
    return Backend(kind, where, schemas)
