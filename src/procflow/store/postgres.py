"""The scale-out store: PostgreSQL through psycopg 3, for many worker processes on many hosts.

Same contract as ``SQLiteStore``; what differs is how it is kept fast and safe under concurrency:

* A transition outside an explicit ``transaction()`` is ONE statement in autocommit mode: the revision-
  checked UPDATE, the event INSERT and the outbox INSERTs are data-modifying CTEs of a single prepared
  statement, so a durable fire costs one round trip and PostgreSQL's implicit transaction makes it atomic.
  A stale revision makes the UPDATE match nothing, so nothing else is inserted either.
* Statements never fail for expected refusals (``ON CONFLICT DO NOTHING`` + an empty result), because a
  failed statement aborts the whole PostgreSQL transaction, where SQLite would carry on: a refusal inside
  ``batch()`` must leave the rest of the batch usable, as it does on SQLite.
* Outbox rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so workers never wait on each other
  and a killed worker's claims pass to another once ``lease_until`` is behind the claimer's ``now``.

Instants are ``timestamptz`` read back in the session ``TimeZone`` (Asia/Ho_Chi_Minh unless told), so
``.date()`` on a returned timestamp means the same day as on SQLite; structured values are ``jsonb``.
Each thread pins one pooled connection for its lifetime; open the store after ``fork()``, never before.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from procflow.dossier import Dossier, DossierEvent, sla_to_dict
from procflow.errors import ConcurrencyConflict, DossierNotFound, StoreError
from procflow.store import migrations
from procflow.store.base import AuditEntry, OutboxMessage
from procflow.store.officials_rows import PostgresOfficials
from procflow.store.pg_anchor import PostgresAnchor
from procflow.store.pg_codec import IDENT, configure, create_schema, dossier_row, dumps, event_row, outbox_rows, redact
from procflow.store.pg_queues import PostgresQueues
from procflow.store.pg_records import PostgresRecords

__all__ = ["PostgresStore"]

_DOSSIER_COLS = ("id, procedure, definition_version, state, status, custodian, agencies, location_independent,"
                 " received_at, updated_at, sla, step_due_at, data, revision")
_EVENT_COLS = ("dossier_id, seq, at, kind, trigger, from_state, to_state, status, actor, agency, custodian,"
               " definition_version, effects, note, prev_hash, hash")
# casts make every parameter's type explicit: INSERT … SELECT cannot infer them from the target columns
_EVENT_VALUES = ("%s::text, %s::int, %s::timestamptz, %s::text, %s::text, %s::text, %s::text, %s::smallint,"
                 " %s::text, %s::text, %s::text, %s::int, %s::jsonb, %s::text, %s::bytea, %s::bytea")
_OUTBOX_CTE = (", o AS (INSERT INTO outbox (topic, key, dossier_id, payload, created_at, available_at)"
               " SELECT m->>'t', m->>'k', m->>'d', m->'p', %s::timestamptz, %s::timestamptz"
               " FROM jsonb_array_elements(%s::jsonb) AS m WHERE EXISTS (SELECT 1 FROM w))")
# a state change's timer armings ride in the same statement (one round trip), only if the snapshot was written
_TIMERS_CTE = (", a AS (INSERT INTO timers (fire_at, dossier_id, name, armed_seq, keep)"
               " SELECT t.f, %s::text, t.n, %s::int, t.k FROM unnest(%s::timestamptz[], %s::text[], %s::boolean[])"
               " AS t(f, n, k) WHERE EXISTS (SELECT 1 FROM w) ON CONFLICT DO NOTHING)")
_OPTIONAL = ("sla", "step_due_at", "data", "agencies")
_OPTIONAL_CAST = {"sla": "jsonb", "step_due_at": "timestamptz", "data": "jsonb", "agencies": "jsonb"}
_PAGE = 5000


class _Lease:
    """One thread's hold on a pooled connection, given back when released or when the thread ends."""

    __slots__ = ("conn", "pool")

    def __init__(self, pool: ConnectionPool[Any], conn: psycopg.Connection[Any]) -> None:
        self.pool: ConnectionPool[Any] | None = pool
        self.conn = conn

    def release(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None and not pool.closed:
            pool.putconn(self.conn)

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown: the pool may be half gone; its close() ends the connection
            pass


class PostgresStore(PostgresRecords, PostgresOfficials, PostgresAnchor, PostgresQueues):
    """A PostgreSQL database (optionally one schema of it). Safe to share between threads."""

    def __init__(self, url: str, *, pool_size: int = 4, schema: str | None = None,
                 timezone: str = "Asia/Ho_Chi_Minh", migrate: bool = True, connect_timeout: float = 10.0) -> None:
        if schema is not None and not IDENT.match(schema):
            raise StoreError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        self.url = url
        self.schema = schema
        params = conninfo_to_dict(url)
        options = [str(params.pop("options", "") or ""), f"-c TimeZone={timezone}"]
        if schema is not None:
            options.append(f"-c search_path={schema}")
        params["options"] = " ".join(o for o in options if o)
        params.setdefault("connect_timeout", max(1, int(connect_timeout)))
        params.setdefault("application_name", "procflow")
        self._local = threading.local()
        self._update_sql: dict[tuple[frozenset[str], bool, bool], str] = {}
        self._pool = ConnectionPool(kwargs={**params, "autocommit": True}, min_size=1, max_size=pool_size,
                                    timeout=connect_timeout, open=False, name="procflow",
                                    configure=configure)
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL at {redact(url)}: {exc}") from exc
        try:
            self._prepare_schema(migrate)
        except BaseException:
            self.close()
            raise

    # -- connections and schema -------------------------------------------------------------------------
    def _conn(self) -> psycopg.Connection[Any]:
        """This thread's connection (pinned: a pool checkout per statement would cost more than the work)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            if conn is not None:  # broken (server restart, network): the pool discards it and reconnects
                self._local.lease.release()
            conn = self._pool.getconn()
            # the lease lives in this thread's local storage: when the thread ends, it hands the connection
            # back to the pool (short-lived threads would otherwise drain it)
            self._local.lease = _Lease(self._pool, conn)
            self._local.conn = conn
            self._local.cur = conn.cursor()
            self._local.depth = 0
        return conn

    def _cur(self) -> psycopg.Cursor[Any]:
        """This thread's reusable cursor for the hot path (a new cursor per statement costs ~10 µs)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            self._conn()
        return self._local.cur  # type: ignore[no-any-return]

    def _prepare_schema(self, migrate: bool) -> None:
        conn = self._conn()
        if self.schema is not None:
            create_schema(conn, self.schema)
        where = f"{redact(self.url)}" + (f" schema {self.schema}" if self.schema else "")
        if migrate:
            migrations.upgrade_postgres(conn, where=where)
            return
        status = migrations.postgres_status(conn)
        if status.current > status.latest:  # a later procflow's schema: db upgrade cannot help, a newer procflow can
            raise StoreError(f"{where}: schema version {status.current} is newer than this procflow understands "
                             f"({status.latest}); upgrade procflow")
        if not status.up_to_date:
            upgrade = f"procflow db upgrade --db {redact(self.url)}"
            if self.schema:
                upgrade += f" --schema {self.schema}"
            raise StoreError(f"{where}: schema version {status.current}, this procflow needs {status.latest}; "
                             f"run `{upgrade}` first")

    @property
    def schema_version(self) -> int:
        return migrations.postgres_status(self._conn()).current

    # -- transactions -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested scopes join the outermost one, as on SQLite: only the outermost commits or rolls back."""
        conn = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        self._local.depth = 1
        try:
            with conn.transaction():
                yield
                if conn.info.transaction_status == TransactionStatus.INERROR:
                    # a statement failed and the caller carried on: PostgreSQL has aborted the transaction,
                    # so committing would silently roll back; say so instead
                    raise StoreError("a statement failed inside this transaction, so PostgreSQL rolled all of "
                                     "it back; nothing in it was committed")
        except _CONNECTION_ERRORS as exc:  # the commit (or rollback) itself met a lost connection
            raise self._lost(exc) from exc
        finally:
            self._local.depth = 0

    batch = transaction

    # -- definitions ------------------------------------------------------------------------------------
    def register_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        conn = self._conn()
        conn.execute("INSERT INTO definitions (code, version, content_hash, source) VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT (code, version) DO NOTHING", (code, version, content_hash, source))
        row = conn.execute("SELECT content_hash FROM definitions WHERE code=%s AND version=%s",
                           (code, version)).fetchone()
        if row is not None and row[0] != content_hash:
            raise StoreError(f"procedure {code} version {version} is already registered with different "
                             f"content (hash {row[0][:12]}… vs {content_hash[:12]}…); give the new "
                             "content a new version number")

    def definition_sources(self) -> list[tuple[str, int, str]]:
        return [tuple(r) for r in
                self._conn().execute("SELECT code, version, source FROM definitions ORDER BY code, version")]

    # -- dossiers ---------------------------------------------------------------------------------------
    def next_sequence(self, agency: str, day: str) -> int:
        row = self._cur().execute(
            "INSERT INTO sequences VALUES (%s, %s, 1) ON CONFLICT (agency, day) DO UPDATE "
            "SET last = sequences.last + 1 RETURNING last", (agency, day), prepare=True).fetchone()
        return int(row[0])  # type: ignore[index]

    # A store that takes a state change's timer armings with its snapshot (``arm=``) writes them in the same
    # statement; ``procflow.engine.eventwriter`` uses it instead of a transaction around ``save_timers``.
    writes_armings = True

    def insert_dossier(self, dossier: Dossier, event: DossierEvent, outbox: Sequence[OutboxMessage], *,
                       arm: Sequence[tuple[str, datetime, bool]] = ()) -> None:
        d = dossier
        query = ("WITH w AS (INSERT INTO dossiers (" + _DOSSIER_COLS + ") VALUES (%s, %s, %s, %s, %s, %s, "
                 "%s::jsonb, %s, %s, %s, %s::jsonb, %s, %s::jsonb, %s) ON CONFLICT (id) DO NOTHING RETURNING 1)"
                 + (_OUTBOX_CTE if outbox else "") + (_TIMERS_CTE if arm else "")
                 + f" INSERT INTO events ({_EVENT_COLS}) SELECT {_EVENT_VALUES} FROM w")
        params: list[Any] = [d.id, d.procedure, d.definition_version, d.state, d.status, d.custodian,
                             dumps(d.agencies), d.location_independent, d.received_at, d.updated_at,
                             dumps(sla_to_dict(d.sla)), d.step_due_at, dumps(d.data), d.revision]
        if outbox:
            params += _outbox_params(event, outbox)
        if arm:
            params += _arm_params(event, arm)
        params += _event_params(event)
        if self._write(query, params) != 1:
            raise StoreError(f"dossier {d.id} already exists")

    def _write(self, query: str, params: Sequence[Any]) -> int:
        try:
            return self._cur().execute(query, params, prepare=True).rowcount
        except psycopg.IntegrityError as exc:  # e.g. an outbox idempotency key used twice
            raise StoreError(f"the store refused the write: {exc.diag.message_primary or exc}") from exc

    def _apply_statement(self, changed: frozenset[str], has_outbox: bool, has_arm: bool = False) -> str:
        key = (changed, has_outbox, has_arm)
        query = self._update_sql.get(key)
        if query is None:
            sets = ["state=%s", "status=%s", "custodian=%s", "definition_version=%s", "updated_at=%s", "revision=%s"]
            sets += [f"{c}=%s::{_OPTIONAL_CAST[c]}" for c in _OPTIONAL if c in changed]
            query = (f"WITH w AS (UPDATE dossiers SET {', '.join(sets)} WHERE id=%s AND revision=%s RETURNING 1)"
                     + (_OUTBOX_CTE if has_outbox else "") + (_TIMERS_CTE if has_arm else "")
                     + f" INSERT INTO events ({_EVENT_COLS}) SELECT {_EVENT_VALUES} FROM w")
            self._update_sql[key] = query
        return query

    def apply(self, dossier: Dossier, expected_revision: int, event: DossierEvent,
              outbox: Sequence[OutboxMessage], changed: frozenset[str], *,
              arm: Sequence[tuple[str, datetime, bool]] = ()) -> None:
        d = dossier
        params: list[Any] = [d.state, d.status, d.custodian, d.definition_version, event.at, d.revision]
        if changed:
            if "sla" in changed:
                params.append(dumps(sla_to_dict(d.sla)))
            if "step_due_at" in changed:
                params.append(d.step_due_at)
            if "data" in changed:
                params.append(dumps(d.data))
            if "agencies" in changed:
                params.append(dumps(d.agencies))
        params += (d.id, expected_revision)
        if outbox:
            params += _outbox_params(event, outbox)
        if arm:
            params += _arm_params(event, arm)
        params += _event_params(event)
        if self._write(self._apply_statement(changed, bool(outbox), bool(arm)), params) != 1:
            row = self._conn().execute("SELECT revision FROM dossiers WHERE id=%s", (d.id,)).fetchone()
            if row is None:
                raise DossierNotFound(d.id)
            raise ConcurrencyConflict(dossier_id=d.id, expected_version=expected_revision, actual_version=row[0])

    def get(self, dossier_id: str) -> Dossier:
        return self.get_with_head(dossier_id)[0]

    def get_with_head(self, dossier_id: str) -> tuple[Dossier, bytes | None]:
        """The record and its hash-chain head, read together (see ``SQLiteStore.get_with_head``)."""
        row = self._cur().execute(
            f"SELECT {_DOSSIER_COLS}, (SELECT hash FROM events e WHERE e.dossier_id = dossiers.id"
            " AND e.seq = dossiers.revision) FROM dossiers WHERE id=%s", (dossier_id,), prepare=True).fetchone()
        if row is None:
            raise DossierNotFound(dossier_id)
        return dossier_row(row[:-1]), None if row[-1] is None else bytes(row[-1])

    def iter_dossiers(self) -> Iterator[Dossier]:
        """Keyset pages, so a long iteration holds no transaction open (and writes may run beside it)."""
        last = ""
        while True:
            rows = self._conn().execute(f"SELECT {_DOSSIER_COLS} FROM dossiers WHERE id > %s ORDER BY id LIMIT %s",
                                        (last, _PAGE)).fetchall()
            for r in rows:
                yield dossier_row(r)
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def dossier_ids(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT id FROM dossiers ORDER BY id")]

    def count_dossiers(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM dossiers").fetchone()[0])  # type: ignore[index]

    def events(self, dossier_id: str) -> list[DossierEvent]:
        rows = self._conn().execute(f"SELECT {_EVENT_COLS} FROM events WHERE dossier_id=%s ORDER BY seq",
                                    (dossier_id,), prepare=True)
        return [event_row(r) for r in rows]

    # -- audit ------------------------------------------------------------------------------------------
    def record_audit(self, entry: AuditEntry) -> None:
        self._insert_audit(entry)  # linked to the previous row (procflow.store.pg_anchor)

    def audit(self, *, dossier_id: str | None = None, actor: str | None = None) -> list[AuditEntry]:
        where, params = [], []
        if dossier_id is not None:
            where.append("dossier_id=%s")
            params.append(dossier_id)
        if actor is not None:
            where.append("actor=%s")
            params.append(actor)
        query = "SELECT at, actor, agency, dossier_id, action, outcome, detail, purpose FROM audit"
        if where:
            query += " WHERE " + " AND ".join(where)
        return [AuditEntry(*r) for r in self._conn().execute(query + " ORDER BY id", params)]

    def _execute(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """SQL on this thread's connection, inside any open transaction: for this backend's own modules and
        tests only. Features use the named methods of the contracts in ``procflow.store.base``."""
        cur = self._conn().execute(query, params)
        return cur.fetchall() if cur.description else []

    def _lost(self, exc: BaseException) -> StoreError:
        """A typed, one-line error for a connection-level failure (server restart, ``pg_terminate_backend``,
        network): the broken connection is dropped, so the next call reconnects through the pool."""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or isinstance(exc, psycopg.InterfaceError | PoolTimeout):
            return StoreError(f"lost the connection to PostgreSQL at {redact(self.url)} ({first}); the next call "
                              "reconnects — anything not committed was rolled back, retry it")
        return StoreError(f"PostgreSQL at {redact(self.url)}: {first}")

    def close(self) -> None:
        lease = getattr(self._local, "lease", None)
        if lease is not None:
            with suppress(Exception):  # a connection the server already closed
                lease.release()
        self._local.conn = None
        self._pool.close()


_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _typed_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Convert psycopg's connection-level errors into ``StoreError`` at the library boundary."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(self, *args, **kwargs)
            except _CONNECTION_ERRORS as exc:
                raise self._lost(exc) from exc
        return gen

    @functools.wraps(fn)
    def call(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            raise self._lost(exc) from exc
    return call


# Every public method, the mixins' included (records, officials, anchors, queues): a caller sees StoreError
# whichever part of the store lost the connection.
for _name in dir(PostgresStore):
    _fn = inspect.getattr_static(PostgresStore, _name)
    if (not _name.startswith("_") and inspect.isfunction(_fn) and _name not in ("transaction", "batch", "close")):
        setattr(PostgresStore, _name, _typed_errors(_fn))


def _event_params(e: DossierEvent) -> list[Any]:
    return [e.dossier_id, e.seq, e.at, e.kind, e.trigger, e.from_state, e.to_state, e.status, e.actor, e.agency,
            e.custodian, e.definition_version, e.effects_json(), e.note, e.prev_hash, e.hash]


def _arm_params(e: DossierEvent, arm: Sequence[tuple[str, datetime, bool]]) -> list[Any]:
    return [e.dossier_id, e.seq, [a[1] for a in arm], [a[0] for a in arm], [bool(a[2]) for a in arm]]


def _outbox_params(e: DossierEvent, outbox: Sequence[OutboxMessage]) -> list[Any]:
    return [e.at, e.at, outbox_rows(outbox)]
