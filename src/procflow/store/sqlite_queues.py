"""SQLite's work queues: the outbox (claimed, leased, completed by delivery workers) and the timers.

A mixin of SQLiteStore, kept apart so that the dossier tables' module stays small; every statement runs on the
store's own connection, inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from procflow.jsontext import dumps as _dumps
from procflow.store.base import OutboxMessage, TimerRecord

__all__ = ["SQLiteQueues"]


_OUTBOX_COLS = ("id, topic, key, dossier_id, payload, created_at, status, attempts, available_at, claimed_by,"
                " lease_until, last_error, delivered_at")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


_TIMER_COLS = "id, fire_us, dossier_id, name, armed_seq, keep"


_TIES = 1_000_000  # queue key = due millisecond × 10^6 + the order of the armings due in that millisecond


_ARM = ("INSERT INTO timers (id, fire_us, dossier_id, name, armed_seq, keep) VALUES (coalesce((SELECT max(id) + 1"
        " FROM timers WHERE id >= ?1 AND id < ?1 + 1000000), ?1), ?2, ?3, ?4, ?5, ?6)")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_US = timedelta(microseconds=1)


def _due_bound(now: datetime) -> tuple[int, int]:
    us = (now - _EPOCH) // _US
    return (us // 1000 + 1) * _TIES, us


def _timer(r: Sequence[Any]) -> TimerRecord:
    return TimerRecord(dossier_id=r[2], name=r[3], fire_at=_EPOCH + timedelta(microseconds=r[1]), armed_seq=r[4],
                       keep=bool(r[5]), id=r[0])


def _outbox_row(r: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_OUTBOX_COLS.split(", "), r, strict=True))
    row["payload"] = json.loads(row["payload"])
    return row


class SQLiteQueues:
    _db: sqlite3.Connection  # the SQLiteStore's
    _depth: int

    if TYPE_CHECKING:  # provided by the class this mixes into
        def transaction(self) -> AbstractContextManager[None]: ...

    # -- outbox (delivery workers claim, lease, complete, fail) -------------------------------------------
    # Times are compared with julianday(): rows carry the offset of the clock that wrote them, so plain
    # string comparison would be wrong as soon as two clocks disagree on the time zone.
    def outbox(self, *, status: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {_OUTBOX_COLS} FROM outbox" + (" WHERE status=?" if status else "") + " ORDER BY id"
        return [_outbox_row(r) for r in self._db.execute(sql, (status,) if status else ())]

    def claim_outbox(self, worker: str, *, now: datetime, limit: int = 100, lease_seconds: float = 60.0,
                     topics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Take up to ``limit`` due rows nobody holds (BEGIN IMMEDIATE makes claims of concurrent
        processes on the same file take turns, so two workers never get the same row)."""
        where = ("status='pending' AND julianday(available_at) <= julianday(?)"
                 " AND (lease_until IS NULL OR julianday(lease_until) <= julianday(?))")
        params: list[Any] = [now.isoformat(), now.isoformat()]
        if topics:
            where += f" AND topic IN ({','.join('?' * len(topics))})"
            params += list(topics)
        lease = (now + timedelta(seconds=lease_seconds)).isoformat()
        with self.transaction():
            ids = [r[0] for r in self._db.execute(
                f"SELECT id FROM outbox WHERE {where} ORDER BY julianday(available_at), id LIMIT ?",
                [*params, limit])]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._db.execute(f"UPDATE outbox SET claimed_by=?, lease_until=? WHERE id IN ({marks})",
                             [worker, lease, *ids])
            rows = [_outbox_row(r) for r in self._db.execute(
                f"SELECT {_OUTBOX_COLS} FROM outbox WHERE id IN ({marks})", ids)]
        rows.sort(key=lambda r: (datetime.fromisoformat(r["available_at"]), r["id"]))
        return rows

    def complete_outbox(self, message_id: int, worker: str, *, now: datetime) -> bool:
        with self.transaction():
            return self._db.execute(
                "UPDATE outbox SET status='delivered', delivered_at=?, lease_until=NULL"
                " WHERE id=? AND claimed_by=? AND status='pending'", (now.isoformat(), message_id, worker)
            ).rowcount == 1

    def fail_outbox(self, message_id: int, worker: str, *, now: datetime, error: str,
                    retry_at: datetime | None) -> bool:
        with self.transaction():
            return self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, claimed_by=NULL, lease_until=NULL,"
                " status=CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END, available_at=COALESCE(?, available_at)"
                " WHERE id=? AND claimed_by=? AND status='pending'",
                (error, _iso(retry_at), _iso(retry_at), message_id, worker)).rowcount == 1

    def release_outbox(self, worker: str, message_ids: Sequence[int] | None = None) -> int:
        """Give back claimed, undelivered rows at once (graceful shutdown) instead of waiting out the lease."""
        sql = "UPDATE outbox SET claimed_by=NULL, lease_until=NULL WHERE claimed_by=? AND status='pending'"
        params: list[Any] = [worker]
        if message_ids is not None:
            sql += f" AND id IN ({','.join('?' * len(message_ids))})"
            params += list(message_ids)
        with self.transaction():
            return self._db.execute(sql, params).rowcount

    def requeue_dead(self, message_ids: Sequence[int] | None, *, now: datetime) -> int:
        sql = ("UPDATE outbox SET status='pending', attempts=0, available_at=?, claimed_by=NULL, lease_until=NULL"
               " WHERE status='dead'")
        params: list[Any] = [now.isoformat()]
        if message_ids is not None:
            sql += f" AND id IN ({','.join('?' * len(message_ids))})"
            params += list(message_ids)
        with self.transaction():
            return self._db.execute(sql, params).rowcount

    def enqueue_outbox(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """Add messages that no state change caused (reconciliation corrections). A key already present is
        skipped, not an error: enqueueing the same correction twice must not deliver it twice."""
        at = now.isoformat()
        with self.transaction():
            return sum(self._db.execute(
                "INSERT OR IGNORE INTO outbox (topic, key, dossier_id, payload, created_at, available_at)"
                " VALUES (?,?,?,?,?,?)", (m.topic, m.key, m.dossier_id, _dumps(m.payload), at, at)).rowcount
                for m in messages)

    def outbox_counts(self) -> dict[str, int]:
        """Rows per status ('pending', 'delivered', 'dead'), for dashboards and ``procflow outbox``."""
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        counts.update({s: n for s, n in self._db.execute("SELECT status, count(*) FROM outbox GROUP BY status")})
        return counts

    @property
    def in_transaction(self) -> bool:
        """True inside ``transaction()``/``batch()``: delivery refuses to run there (invariant 5)."""
        return self._depth > 0

    # -- timers (schema version 2; procflow.timers / procflow.scheduler) -----------------------------------
    def save_timers(self, dossier_id: str, *, seq: int, state: str,
                    arm: Sequence[tuple[str, datetime, bool]] = (), cancel: Sequence[str] = (),
                    pause: Sequence[str] = ()) -> None:
        """One insert per arming (near the right edge of the due-ordered queue); cancelling and pausing write
        nothing (see ``Store.save_timers``), which keeps a state change that leaves a timer's state free."""
        for name, when, keep in arm:
            us = (when - _EPOCH) // _US
            self._db.execute(_ARM, (us // 1000 * _TIES, us, dossier_id, name, seq, keep))

    def due_timers(self, *, now: datetime, limit: int = 500) -> list[TimerRecord]:
        """Inside the caller's ``transaction()``: SQLite's write lock (BEGIN IMMEDIATE) keeps schedulers in
        other processes out until this one commits, so nobody else takes these rows."""
        return [_timer(r) for r in self._db.execute(
            f"SELECT {_TIMER_COLS} FROM timers WHERE id < ? AND fire_us <= ? ORDER BY id LIMIT ?",
            (*_due_bound(now), limit))]

    def finish_timer(self, timer: TimerRecord, *, outcome: str, action: str, at: datetime, worker: str,
                     detail: str = "") -> None:
        with self.transaction():
            self._db.execute("DELETE FROM timers WHERE id=?", (timer.id,))
            self._db.execute("INSERT INTO timer_log (dossier_id, name, armed_seq, action, fire_at, fired_at,"
                             " outcome, detail, worker) VALUES (?,?,?,?,?,?,?,?,?)",
                             (timer.dossier_id, timer.name, timer.armed_seq, action, timer.fire_at.isoformat(),
                              at.isoformat(), outcome, detail, worker))

    def finish_timers(self, items: Sequence[tuple[TimerRecord, str, str, datetime, str]], *, worker: str) -> None:
        """``finish_timer`` for a scheduler batch, ``(timer, outcome, action, at, detail)`` each: two statements."""
        with self.transaction():
            self._db.executemany("DELETE FROM timers WHERE id=?", [(t.id,) for t, *_ in items])
            self._db.executemany(
                "INSERT INTO timer_log (dossier_id, name, armed_seq, action, fire_at, fired_at, outcome, detail,"
                " worker) VALUES (?,?,?,?,?,?,?,?,?)",
                [(t.dossier_id, t.name, t.armed_seq, action, t.fire_at.isoformat(), at.isoformat(), outcome, detail,
                  worker) for t, outcome, action, at, detail in items])

    def timers(self, *, dossier_id: str | None = None, statuses: Sequence[str] | None = ("armed", "paused"),
               due_before: datetime | None = None, limit: int | None = None) -> list[TimerRecord]:
        if statuses is not None and "armed" not in statuses:
            return []
        where: list[str] = []
        params: list[Any] = []
        if dossier_id is not None:
            where.append("dossier_id=?")
            params.append(dossier_id)
        if due_before is not None:
            where.append("id < ? AND fire_us <= ?")
            params += _due_bound(due_before)
        if dossier_id is None and limit is not None:
            # the first ``limit`` armings lie in the due milliseconds of the first ``limit`` rows of the
            # clustered queue: bound the scan there, so the scheduler's "next due" stays one short range
            # read, not a sort of the whole queue (cancelled armings included) on every call
            last = self._db.execute(
                "SELECT max(id) FROM (SELECT id FROM timers" + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY id LIMIT ?)", [*params, limit]).fetchone()[0]
            if last is None:
                return []
            where.append("id < ?")
            params.append((last // _TIES + 1) * _TIES)
        sql = f"SELECT {_TIMER_COLS} FROM timers" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY fire_us, dossier_id, name, armed_seq" + (" LIMIT ?" if limit is not None else "")
        return [_timer(r) for r in self._db.execute(sql, [*params, limit] if limit is not None else params)]

    def timer_log(self, *, dossier_id: str | None = None) -> list[dict[str, Any]]:
        cols = "dossier_id, name, armed_seq, action, fire_at, fired_at, outcome, detail, worker"
        sql = f"SELECT {cols} FROM timer_log" + (" WHERE dossier_id=?" if dossier_id else "") + " ORDER BY id"
        rows = self._db.execute(sql, (dossier_id,) if dossier_id else ())
        out = []
        for r in rows:
            row = dict(zip(cols.split(", "), r, strict=True))
            row["fire_at"], row["fired_at"] = datetime.fromisoformat(r[4]), datetime.fromisoformat(r[5])
            out.append(row)
        return out

    def timer_counts(self) -> dict[tuple[str, str, str], int]:
        return {(n, a, o): c for n, a, o, c in self._db.execute(
            "SELECT name, action, outcome, count(*) FROM timer_log GROUP BY name, action, outcome")}
