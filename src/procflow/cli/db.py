"""``procflow db upgrade`` / ``procflow db status``: schema migrations for SQLite and PostgreSQL stores.

Stores upgrade themselves when opened (the embedded default must just work), but a production database
is usually upgraded once, on purpose, by whoever deploys: these commands do that and show where a store
stands. (``procflow migrate`` is something else: it moves dossiers between definition versions.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from procflow.cli._common import DbOption, fail, out, require_db
from procflow.errors import ProcflowError, StoreError
from procflow.store import migrations

__all__ = ["register"]


SchemaOption = Annotated[str | None, typer.Option(help="PostgreSQL schema (default: the search_path's first).")]


def _is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


@contextmanager
def _connect(db: str, schema: str | None, *, create: bool) -> Iterator[tuple[str, Any]]:
    """(backend, connection) for ``db``; a PostgreSQL schema named with ``--schema`` is created on upgrade."""
    if _is_postgres(db):
        import psycopg

        from procflow.store.pg_codec import IDENT, create_schema, redact

        if schema is not None and not IDENT.match(schema):
            raise StoreError(f"--schema must be a lower-case SQL identifier, got {schema!r}")
        options: dict[str, Any] = {"options": f"-c search_path={schema}"} if schema else {}
        try:
            pg_conn = psycopg.connect(db, autocommit=True, connect_timeout=10, **options)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {redact(db)}: {exc}") from exc
        try:
            if schema and create:
                create_schema(pg_conn, schema)
            yield "postgres", pg_conn
        finally:
            pg_conn.close()
        return
    from procflow.store.sqlite import check_sqlite_path, sqlite_problem, sqlite_table_names

    if not db.strip():
        raise StoreError("--db is empty: name the store (a SQLite file or a postgresql:// URL)")
    path = db.removeprefix("sqlite:///").removeprefix("sqlite://") or ":memory:"
    if not create and path != ":memory:" and not Path(path).exists():
        raise StoreError(f"no store at {path}")
    check_sqlite_path(path)
    try:
        conn = sqlite3.connect(path if create or path == ":memory:" else f"file:{path}?mode=ro",
                               isolation_level=None, uri=not create and path != ":memory:", timeout=30.0)
    except sqlite3.Error as exc:
        raise StoreError(sqlite_problem(path, exc)) from exc
    try:
        tables = sqlite_table_names(conn)
        if tables and "meta" not in tables and "procflow_migrations" not in tables:
            raise StoreError(f"{path} is a SQLite database but not a procflow store; choose another --db")
        yield "sqlite", conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(sqlite_problem(path, exc, 30.0)) from exc
    finally:
        conn.close()


def upgrade(db: str, schema: str | None = None) -> tuple[list[int], migrations.MigrationStatus]:
    """Apply pending migrations; returns the versions applied now and the resulting status."""
    with _connect(db, schema, create=True) as (backend, conn):
        if backend == "postgres":
            ran = migrations.upgrade_postgres(conn, where=db)
            return ran, migrations.postgres_status(conn)
        ran = migrations.upgrade_sqlite_file(conn, path=db)
        return ran, migrations.sqlite_status(conn)


def status(db: str, schema: str | None = None) -> migrations.MigrationStatus:
    with _connect(db, schema, create=False) as (backend, conn):
        return migrations.postgres_status(conn) if backend == "postgres" else migrations.sqlite_status(conn)


def _recount(db: str, schema: str | None) -> Any:
    """Recount the deadlines of dossiers stored before the Civil Code counting (``procflow.recount``)."""
    from procflow.plugins import build_engine
    from procflow.recount import recount_due_dates
    from procflow.store.base import open_store

    store = open_store(db, **({"schema": schema} if schema else {}))
    try:
        if not store.due_recount_pending():
            return None
        # with the installed plugins' outbox topics, so the portal adapter is sent each new NgayHenTra
        return recount_due_dates(build_engine(store, register_procedures=False))
    finally:
        store.close()


def _show(st: migrations.MigrationStatus) -> None:
    state = "[green]up to date[/]" if st.up_to_date else f"[yellow]{len(st.pending)} pending[/]"
    out.print(f"{st.backend} store at schema version {st.current} of {st.latest}: {state}")
    for a in st.applied:
        out.print(f"  [green]✓[/] {a.version:>3}  {a.name}" + (f"  ({a.applied_at})" if a.applied_at else ""))
    for m in st.pending:
        out.print(f"  [yellow]·[/] {m.version:>3}  {m.name}  (pending)")


def _log_key_hint(db: str) -> None:
    """The upgrade point of the keyed log is explicit (``procflow keys init``): say so, never do it."""
    from procflow.privacy.env_keys import default_key_provider
    from procflow.privacy.keys import KeysUnavailable, signing_keys

    try:
        keyed = signing_keys(default_key_provider(db), "chain")[0] is not None
    except KeysUnavailable:
        return
    if not keyed:
        out.print("the event log is not keyed yet: `procflow keys init --db … --checkpoint` keys it from now on "
                   "(the upgrade point is recorded in the audit chain) and anchors it with signed checkpoints")


def register(app: typer.Typer) -> None:
    """Mount ``procflow db`` on the main command."""
    db_app = typer.Typer(help="Store schema: upgrade and status (versioned migrations).", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade_cmd(db: DbOption = None, schema: SchemaOption = None) -> None:
        """Bring the store's schema to this procflow's version (safe to run again; one transaction)."""
        db = require_db(db)
        try:
            ran, st = upgrade(db, schema)
        except StoreError as exc:
            fail(f"{exc}")
        if ran:
            out.print(f"applied migration(s) {', '.join(map(str, ran))}; schema version {st.current}")
        else:
            out.print(f"nothing to do: schema version {st.current} is current")
        try:
            report = _recount(db, schema)
        except ProcflowError as exc:
            fail(f"{exc}")
        if report is not None and report.total:
            out.print(f"due dates recounted (Civil Code 2015 art. 147, receipt day not counted): "
                       f"{report.recounted:,} open dossier(s) moved one working day later, each recorded as an "
                       f"event; {report.unchanged:,} same-day and {report.closed:,} closed needed nothing")
        _log_key_hint(db)

    @db_app.command("status")
    def status_cmd(db: DbOption = None, schema: SchemaOption = None,
                   check: Annotated[bool, typer.Option(help="Exit 1 when migrations are pending.")] = False) -> None:
        """Show the store's schema version and which migrations are applied or pending."""
        db = require_db(db)
        try:
            st = status(db, schema)
        except StoreError as exc:
            fail(f"{exc}")
        _show(st)
        if check and not st.up_to_date:
            raise typer.Exit(1)

    app.add_typer(db_app, name="db")
