"""PostgreSQL's work queues: the outbox (claimed with SKIP LOCKED, leased, completed) and the timers.

A mixin of PostgresStore, kept apart so that the dossier tables' module stays small; every statement runs on
the store's pinned connection, inside the caller's transaction."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from procflow.errors import StoreError
from procflow.store.base import OutboxMessage, TimerRecord
from procflow.store.pg_codec import outbox_rows

__all__ = ["PostgresQueues"]


_OUTBOX_COLS = ("id, topic, key, dossier_id, payload, created_at, status, attempts, available_at, claimed_by,"
                " lease_until, last_error, delivered_at")


_PG_TIMER_COLS = "t.dossier_id, t.name, t.fire_at, t.armed_seq, t.keep"


def _pg_timer(r: Sequence[Any]) -> TimerRecord:
    return TimerRecord(dossier_id=r[0], name=r[1], fire_at=r[2], armed_seq=r[3], keep=r[4])


class PostgresQueues:
    _local: threading.local

    if TYPE_CHECKING:  # provided by the class this mixes into
        def _conn(self) -> psycopg.Connection[Any]: ...
        def _cur(self) -> psycopg.Cursor[Any]: ...
        def transaction(self) -> AbstractContextManager[None]: ...

    # -- outbox -----------------------------------------------------------------------------------------
    def outbox(self, *, status: str | None = None) -> list[dict[str, Any]]:
        query = f"SELECT {_OUTBOX_COLS} FROM outbox" + (" WHERE status=%s" if status else "") + " ORDER BY id"
        with self._conn().cursor(row_factory=dict_row) as cur:
            return cur.execute(query, (status,) if status else ()).fetchall()

    def claim_outbox(self, worker: str, *, now: datetime, limit: int = 100, lease_seconds: float = 60.0,
                     topics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Take up to ``limit`` due rows nobody holds; rows locked by a concurrent claim are skipped, not
        waited for, so N workers claim N disjoint batches in parallel."""
        topic_filter = " AND topic = ANY(%s::text[])" if topics else ""
        query = (f"WITH c AS (SELECT id FROM outbox WHERE status = 'pending' AND available_at <= %s"
                 f" AND (lease_until IS NULL OR lease_until <= %s){topic_filter}"
                 " ORDER BY available_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
                 " UPDATE outbox o SET claimed_by = %s, lease_until = %s FROM c WHERE o.id = c.id"
                 f" RETURNING {', '.join('o.' + c.strip() for c in _OUTBOX_COLS.split(','))}")
        params: list[Any] = [now, now]
        if topics:
            params.append(list(topics))
        params += [limit, worker, now + timedelta(seconds=lease_seconds)]
        with self._conn().cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, params, prepare=True).fetchall()
        rows.sort(key=lambda r: (r["available_at"], r["id"]))
        return rows

    def complete_outbox(self, message_id: int, worker: str, *, now: datetime) -> bool:
        cur = self._conn().execute(
            "UPDATE outbox SET status = 'delivered', delivered_at = %s, lease_until = NULL"
            " WHERE id = %s AND claimed_by = %s AND status = 'pending'", (now, message_id, worker), prepare=True)
        return cur.rowcount == 1

    def fail_outbox(self, message_id: int, worker: str, *, now: datetime, error: str,
                    retry_at: datetime | None) -> bool:
        cur = self._conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s, claimed_by = NULL, lease_until = NULL,"
            " status = CASE WHEN %s::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,"
            " available_at = COALESCE(%s::timestamptz, available_at)"
            " WHERE id = %s AND claimed_by = %s AND status = 'pending'",
            (error, retry_at, retry_at, message_id, worker), prepare=True)
        return cur.rowcount == 1

    def release_outbox(self, worker: str, message_ids: Sequence[int] | None = None) -> int:
        """Give back claimed, undelivered rows at once (graceful shutdown) instead of waiting out the lease."""
        query = ("UPDATE outbox SET claimed_by = NULL, lease_until = NULL"
                 " WHERE claimed_by = %s AND status = 'pending'")
        params: list[Any] = [worker]
        if message_ids is not None:
            query += " AND id = ANY(%s::bigint[])"
            params.append(list(message_ids))
        return self._conn().execute(query, params).rowcount

    def enqueue_outbox(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """Add messages no state change caused (reconciliation); a key already present is skipped, so the
        same correction enqueued twice is delivered once."""
        if not messages:
            return 0
        return self._conn().execute(
            "INSERT INTO outbox (topic, key, dossier_id, payload, created_at, available_at)"
            " SELECT m->>'t', m->>'k', m->>'d', m->'p', %s, %s FROM jsonb_array_elements(%s::jsonb) AS m"
            " ON CONFLICT (key) DO NOTHING", (now, now, outbox_rows(messages))).rowcount

    def outbox_counts(self) -> dict[str, int]:
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        counts.update(dict(self._conn().execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()))
        return counts

    @property
    def in_transaction(self) -> bool:
        """True inside ``transaction()``/``batch()`` on this thread: delivery refuses to run there."""
        return bool(getattr(self._local, "depth", 0))

    def requeue_dead(self, message_ids: Sequence[int] | None, *, now: datetime) -> int:
        query = ("UPDATE outbox SET status = 'pending', attempts = 0, available_at = %s, claimed_by = NULL,"
                 " lease_until = NULL WHERE status = 'dead'")
        params: list[Any] = [now]
        if message_ids is not None:
            query += " AND id = ANY(%s::bigint[])"
            params.append(list(message_ids))
        return self._conn().execute(query, params).rowcount

    # -- timers (schema version 2; procflow.timers / procflow.scheduler) -----------------------------------
    def save_timers(self, dossier_id: str, *, seq: int, state: str,
                    arm: Sequence[tuple[str, datetime, bool]] = (), cancel: Sequence[str] = (),
                    pause: Sequence[str] = ()) -> None:
        """Queue the armings (cancelling and pausing write nothing: see ``Store.save_timers``)."""
        if arm:
            self._cur().execute(
                "INSERT INTO timers (fire_at, dossier_id, name, armed_seq, keep)"
                " SELECT a.f, %s, a.n, %s, a.k FROM unnest(%s::timestamptz[], %s::text[], %s::boolean[])"
                " AS a(f, n, k) ON CONFLICT DO NOTHING",
                (dossier_id, seq, [a[1] for a in arm], [a[0] for a in arm], [bool(a[2]) for a in arm]),
                prepare=True)

    def due_timers(self, *, now: datetime, limit: int = 500) -> list[TimerRecord]:
        """Lock each due arming together with its dossier, skipping rows another transaction holds: a
        scheduler never waits for another, and a human's fire in flight on the dossier is never overtaken
        (the timer is skipped until it commits). Lock order is dossier-with-timer, as in a fire."""
        if not getattr(self._local, "depth", 0):
            raise StoreError("due_timers() takes row locks: call it inside store.transaction()")
        rows = self._cur().execute(
            f"SELECT {_PG_TIMER_COLS} FROM timers t JOIN dossiers d ON d.id = t.dossier_id WHERE t.fire_at <= %s"
            " ORDER BY t.fire_at, t.dossier_id, t.name, t.armed_seq LIMIT %s FOR UPDATE OF t, d SKIP LOCKED",
            (now, limit), prepare=True).fetchall()
        return [_pg_timer(r) for r in rows]

    def finish_timer(self, timer: TimerRecord, *, outcome: str, action: str, at: datetime, worker: str,
                     detail: str = "") -> None:
        key = (timer.fire_at, timer.dossier_id, timer.name, timer.armed_seq)
        self._cur().execute(
            "WITH x AS (DELETE FROM timers WHERE fire_at = %s AND dossier_id = %s AND name = %s AND armed_seq = %s)"
            " INSERT INTO timer_log (dossier_id, name, armed_seq, action, fire_at, fired_at, outcome, detail, worker)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (*key, timer.dossier_id, timer.name, timer.armed_seq, action, timer.fire_at, at, outcome, detail, worker),
            prepare=True)

    def finish_timers(self, items: Sequence[tuple[TimerRecord, str, str, datetime, str]], *, worker: str) -> None:
        """``finish_timer`` for a scheduler batch, ``(timer, outcome, action, at, detail)`` each: two statements."""
        timers = [t for t, *_ in items]
        logged = list(items)
        cur = self._cur()
        cur.execute("DELETE FROM timers t USING unnest(%s::timestamptz[], %s::text[], %s::text[], %s::int[])"
                    " AS k(f, d, n, s) WHERE t.fire_at = k.f AND t.dossier_id = k.d AND t.name = k.n"
                    " AND t.armed_seq = k.s", ([t.fire_at for t in timers], [t.dossier_id for t in timers],
                                               [t.name for t in timers], [t.armed_seq for t in timers]), prepare=True)
        if logged:
            cur.execute("INSERT INTO timer_log (dossier_id, name, armed_seq, action, fire_at, fired_at, outcome,"
                        " detail, worker) SELECT d, n, s, a, f, w, o, x, %s FROM unnest(%s::text[], %s::text[],"
                        " %s::int[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[])"
                        " AS l(d, n, s, a, f, w, o, x)",
                        (worker, [i[0].dossier_id for i in logged], [i[0].name for i in logged],
                         [i[0].armed_seq for i in logged], [i[2] for i in logged], [i[0].fire_at for i in logged],
                         [i[3] for i in logged], [i[1] for i in logged], [i[4] for i in logged]), prepare=True)

    def due_recount_pending(self) -> list[str]:
        return [r[0] for r in self._conn().execute(
            "SELECT dossier_id FROM due_recount WHERE done_at IS NULL ORDER BY dossier_id")]

    def mark_due_recounted(self, dossier_id: str, *, at: datetime) -> None:
        with self.transaction():
            self._conn().execute("UPDATE due_recount SET done_at=%s WHERE dossier_id=%s",
                                 (at.isoformat(), dossier_id))

    def timers(self, *, dossier_id: str | None = None, statuses: Sequence[str] | None = ("armed", "paused"),
               due_before: datetime | None = None, limit: int | None = None) -> list[TimerRecord]:
        if statuses is not None and "armed" not in statuses:
            return []
        where: list[str] = []
        params: list[Any] = []
        if dossier_id is not None:
            where.append("t.dossier_id = %s")
            params.append(dossier_id)
        if due_before is not None:
            where.append("t.fire_at <= %s")
            params.append(due_before)
        query = f"SELECT {_PG_TIMER_COLS} FROM timers t" + (" WHERE " + " AND ".join(where) if where else "")
        query += " ORDER BY t.fire_at, t.dossier_id, t.name, t.armed_seq" + (" LIMIT %s" if limit is not None else "")
        if limit is not None:
            params.append(limit)
        return [_pg_timer(r) for r in self._conn().execute(query, params)]

    def timer_log(self, *, dossier_id: str | None = None) -> list[dict[str, Any]]:
        query = ("SELECT dossier_id, name, armed_seq, action, fire_at, fired_at, outcome, detail, worker FROM timer_log"
                 + (" WHERE dossier_id = %s" if dossier_id else "") + " ORDER BY id")
        with self._conn().cursor(row_factory=dict_row) as cur:
            return cur.execute(query, (dossier_id,) if dossier_id else ()).fetchall()

    def timer_counts(self) -> dict[tuple[str, str, str], int]:
        return {(n, a, o): c for n, a, o, c in self._conn().execute(
            "SELECT name, action, outcome, count(*) FROM timer_log GROUP BY name, action, outcome")}
