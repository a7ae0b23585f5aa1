"""``procflow db upgrade`` / ``procflow db status``: schema migrations for SQLite and PostgreSQL stores.

Stores opened through the library upgrade themselves (the embedded default must just work), but a production
database is upgraded once, on purpose, by whoever deploys: ``db upgrade`` is the only command that does it
(every other command refuses an older schema in one line naming it: ``_common.open_store_or_fail``), and
``db status`` shows where a store stands. (``procflow migrate`` is something else: it moves dossiers between
definition versions.)

``db upgrade`` acts as the machine's operator (``_common.as_operator``). The store it upgrades may be older
than this procflow, which refuses to open it as a store, so the credential is checked against the officials
rows read directly (``OfficialsReader``, read-only) before anything is written, and the audit entry is
written after the upgrade, when the audit table has this procflow's shape. A database with no procflow
schema yet (a new deployment) has no directory to ask: it is created without a credential, and its first
operator is set up next (``procflow officials init``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from procflow.cli._common import DbOption, as_operator, fail, out, require_db
from procflow.errors import ProcflowError, StoreError
from procflow.store import migrations
from procflow.store.officials_rows import PostgresOfficials, SQLiteOfficials

if TYPE_CHECKING:
    from procflow.privacy.directory import Official
    from procflow.store.base import AuditEntry, Store

__all__ = ["OfficialsReader", "operator_of", "record_allowed", "record_pending", "register"]


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


class OfficialsReader:
    """The officials rows of a database this procflow may not open as a store (a schema to upgrade, a backup's
    copy), read-only; audit entries are held in ``pending`` for the caller to write where it can."""

    def __init__(self, backend: str, conn: Any) -> None:
        self.pending: list[AuditEntry] = []
        rows: SQLiteOfficials | PostgresOfficials
        if backend == "postgres":
            rows = PostgresOfficials()
            rows._conn = lambda: conn  # type: ignore[method-assign]  # one connection, not a store's pool
        else:
            rows = SQLiteOfficials()
            rows._db = conn
        self._rows = rows

    def official_row(self, official_id: str) -> Any:
        return self._rows.official_row(official_id)

    def official_rows(self) -> Any:
        return self._rows.official_rows()

    def official_count(self) -> int:
        return self._rows.official_count()

    def record_audit(self, entry: AuditEntry) -> None:
        self.pending.append(entry)


def operator_of(backend: str, conn: Any, action: str, *, role: str | None = None, db: str | None = None,
                fix: str | None = None) -> tuple[Official, list[AuditEntry]]:
    """The operator (``_common.as_operator``, nothing written) as the officials rows on ``conn`` know them, and
    the refusals to record; on a refusal the entries are on the exception (``typer.Exit.pending``)."""
    reader = OfficialsReader(backend, conn)
    try:
        # the directory reads officials and records audit entries only: the reader is all of the store it uses
        return as_operator(cast("Store", reader), action, record=False, role=role, db=db, fix=fix), reader.pending
    except typer.Exit as exc:
        exc.pending = reader.pending  # type: ignore[attr-defined]  # for the caller, after the connection closes
        raise


def record_pending(db: str, entries: list[AuditEntry], schema: str | None = None) -> bool:
    """Write audit entries into the store at ``db`` when it opens at this procflow's schema without an
    upgrade; False when it does not (an old schema's audit table is not ours to write before its upgrade)."""
    from procflow.store.base import open_store

    if not entries:
        return True
    postgres = _is_postgres(db)
    options: dict[str, Any] = {"migrate": False} if postgres else {"upgrade": False}
    if schema:
        options["schema"] = schema
    try:
        store = open_store(db, **options)
    except ProcflowError:
        return False
    try:
        for entry in entries:
            store.record_audit(entry)
    finally:
        store.close()
    return True


def _operator_before_upgrade(db: str, schema: str | None) -> Official | None:
    """The operator upgrading ``db``, checked before anything is written; None for a database with no procflow
    schema yet. A refusal is recorded in the store when its schema is current, and ends in one line."""
    if not _is_postgres(db):
        path = db.removeprefix("sqlite:///").removeprefix("sqlite://")
        if path in ("", ":memory:") or not Path(path).exists():
            return None  # a new store: created by the upgrade, no directory yet
    try:
        with _connect(db, schema, create=False) as (backend, conn):
            st = migrations.postgres_status(conn) if backend == "postgres" else migrations.sqlite_status(conn)
            if st.current == 0:
                return None
            from procflow.privacy.directory import STORE_ADMIN_ROLE

            operator, _ = operator_of(backend, conn, "db:upgrade", role=STORE_ADMIN_ROLE, db=db)
    except StoreError as exc:
        fail(f"{exc}")
    except typer.Exit as exc:
        record_pending(db, getattr(exc, "pending", []), schema)
        raise
    return operator


def record_allowed(db: str, operator: Official, action: str, detail: str, schema: str | None = None) -> bool:
    """Record a command the operator ran on a store it could not open as one beforehand (``cli:<action>``,
    allowed), once the store is at this procflow's schema (``record_pending``)."""
    from datetime import UTC, datetime

    from procflow.store.base import AuditEntry

    return record_pending(db, [AuditEntry(at=datetime.now(UTC), actor=operator.id, agency=operator.agency,
                                          dossier_id=None, action=f"cli:{action}", outcome="allowed",
                                          detail=detail, purpose="command line")], schema)


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
        operator = _operator_before_upgrade(db, schema)  # before anything is written
        try:
            ran, st = upgrade(db, schema)
        except StoreError as exc:
            fail(f"{exc}")
        if operator is not None:  # after the upgrade: the audit table has this procflow's shape now
            record_allowed(db, operator, "db:upgrade", f"schema version {st.current}"
                           + (f" (applied {', '.join(map(str, ran))})" if ran else " (nothing to do)"), schema)
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
