"""SQLite's side of the feature sub-contracts (``procflow.store.base``): bundle records and the simulator's
checkpoint and backlog samples; and the checks of a store file the CLI runs before opening one (is it a
store, what kind, why SQLite refused it). Kept beside ``sqlite.py`` (a mixin of ``SQLiteStore``) so the hot-path
module stays about the dossier tables; every statement runs on the store's own connection, inside the
caller's transaction."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from procflow.errors import StoreError
from procflow.store.base import BundleEventRow, SimSample

__all__ = [
    "SQLiteRecords",
    "sqlite_has_checkpoint",
    "sqlite_is_store",
    "sqlite_store_kind",
    "sqlite_table_count",
    "sqlite_table_names",
    "sqlite_table_rows",
]


class SQLiteRecords:
    _db: sqlite3.Connection  # the SQLiteStore's connection

    # -- liên thông bundles (BundleRecords) -------------------------------------------------------------
    def bundle_definition_sources(self) -> list[tuple[str, int, str]]:
        return [tuple(r) for r in self._db.execute(
            "SELECT code, version, source FROM bundle_definitions ORDER BY code, version")]

    def bundle_definition_hash(self, code: str, version: int) -> str | None:
        row = self._db.execute("SELECT content_hash FROM bundle_definitions WHERE code=? AND version=?",
                               (code, version)).fetchone()
        return None if row is None else str(row[0])

    def add_bundle_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        self._db.execute("INSERT INTO bundle_definitions VALUES (?,?,?,?)", (code, version, content_hash, source))

    def bundle_record(self, bundle_id: str) -> str | None:
        row = self._db.execute("SELECT record FROM bundles WHERE id=?", (bundle_id,)).fetchone()
        return None if row is None else str(row[0])

    def bundle_records(self) -> Iterator[str]:
        for (text,) in self._db.execute("SELECT record FROM bundles ORDER BY id").fetchall():
            yield text

    def save_bundle(self, bundle_id: str, record: str, *, status: int, revision: int, event: BundleEventRow,
                    members: Mapping[str, str]) -> None:
        if revision == 1:
            if self._db.execute("INSERT INTO bundles VALUES (?,?,?,?) ON CONFLICT (id) DO NOTHING RETURNING id",
                                (bundle_id, record, status, revision)).fetchone() is None:
                raise StoreError(f"bundle {bundle_id} already exists (filed concurrently); retry")
        elif self._db.execute("UPDATE bundles SET record=?, status=?, revision=? WHERE id=? AND revision=? "
                              "RETURNING id", (record, status, revision, bundle_id, revision - 1)).fetchone() is None:
            raise StoreError(f"bundle {bundle_id} changed concurrently (expected revision {revision - 1}); retry")
        self._db.execute("INSERT INTO bundle_events VALUES (?,?,?,?,?,?,?)", (bundle_id, *event))
        self._db.executemany("INSERT INTO bundle_members VALUES (?,?,?)",
                             [(did, bundle_id, name) for name, did in members.items()])

    def bundle_events(self, bundle_id: str) -> list[BundleEventRow]:
        return [tuple(r) for r in self._db.execute(
            "SELECT seq, at, kind, status, actor, effects FROM bundle_events WHERE bundle_id=? ORDER BY seq",
            (bundle_id,))]

    def bundle_member_of(self, dossier_id: str) -> tuple[str, str] | None:
        row = self._db.execute("SELECT bundle_id, member FROM bundle_members WHERE dossier_id=?",
                               (dossier_id,)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def bundle_membership(self, bundle_ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
        out: dict[str, tuple[int, tuple[str, ...]]] = {}
        for bundle_id in bundle_ids:
            row = self._db.execute("SELECT status FROM bundles WHERE id=?", (bundle_id,)).fetchone()
            if row is not None:
                members = self._db.execute("SELECT dossier_id FROM bundle_members WHERE bundle_id=? "
                                           "ORDER BY dossier_id", (bundle_id,))
                out[bundle_id] = (int(row[0]), tuple(r[0] for r in members))
        return out

    # -- simulator checkpoint and backlog samples (SimulationRecords) ---------------------------------
    def save_sim_checkpoint(self, fingerprint: str, state: str) -> None:
        self._db.execute("INSERT INTO sim_checkpoint VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                         "fingerprint=excluded.fingerprint, state=excluded.state", (fingerprint, state))

    def load_sim_checkpoint(self) -> tuple[str, str] | None:
        row = self._db.execute("SELECT fingerprint, state FROM sim_checkpoint WHERE id = 1").fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def add_sim_samples(self, rows: Sequence[SimSample]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO sim_backlog VALUES (?,?,?,?,?)", rows)

    def sim_samples(self) -> list[SimSample]:
        return [tuple(r) for r in self._db.execute(
            "SELECT at, agency, open, overdue, paused FROM sim_backlog ORDER BY at, agency")]

    def add_sim_online(self, dossier_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO sim_online VALUES (?)", (dossier_id,))

    def sim_online_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT dossier_id FROM sim_online ORDER BY dossier_id")]

    def unreturned_dossier_ids(self) -> list[str]:
        """Dossiers whose result is not yet processed or returned (portal status not 9 or 10)."""
        return [r[0] for r in self._db.execute("SELECT id FROM dossiers WHERE status NOT IN (9, 10) ORDER BY id")]

    # -- personal-data vault (VaultRecords) ------------------------------------------------------------
    def put_vault_value(self, dossier_id: str, seq: int, key_id: str, blob: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO vault (dossier_id, seq, key_id, value, erased_at) "
                         "VALUES (?,?,?,?,NULL)", (dossier_id, seq, key_id, blob))

    def add_vault_index(self, digest: str, dossier_id: str, field: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO vault_index (digest, dossier_id, field) VALUES (?,?,?)",
                         (digest, dossier_id, field))

    def vault_values(self, dossier_id: str, seqs: Sequence[int]) -> list[tuple[int, str, bytes | None]]:
        marks = ",".join("?" * len(seqs))
        return [(int(seq), key_id, blob) for seq, key_id, blob in self._db.execute(
            f"SELECT seq, key_id, value FROM vault WHERE dossier_id=? AND seq IN ({marks})", (dossier_id, *seqs))]

    def vault_index_lookup(self, digest: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT dossier_id FROM vault_index WHERE digest=? "
                                               "ORDER BY dossier_id", (digest,))]

    def vault_live_entries(self, dossier_id: str) -> int:
        return int(self._db.execute("SELECT count(*) FROM vault WHERE dossier_id=? AND value IS NOT NULL",
                                    (dossier_id,)).fetchone()[0])

    def vault_live_owners(self, prefix: str) -> list[str]:
        # a range on the (dossier_id, seq) index: SQLite compares text bytewise
        rows = self._db.execute("SELECT DISTINCT dossier_id FROM vault WHERE dossier_id >= ? AND dossier_id < ? "
                                "AND value IS NOT NULL ORDER BY dossier_id",
                                (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)))
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def erase_vault(self, dossier_id: str, *, key_id: str, at: datetime) -> None:
        self._db.execute("UPDATE vault SET value=NULL, key_id=?, erased_at=? WHERE dossier_id=? AND value IS NOT NULL",
                         (key_id, at.isoformat(), dossier_id))
        self._db.execute("DELETE FROM vault_index WHERE dossier_id=?", (dossier_id,))

    def vault_key_usage(self) -> dict[str, int]:
        return {k: int(n) for k, n in self._db.execute(
            "SELECT key_id, count(*) FROM vault WHERE value IS NOT NULL GROUP BY key_id ORDER BY key_id")}

    def vault_rows_under(self, key_ids: Sequence[str], *, after: tuple[str, int],
                         limit: int) -> list[tuple[str, int, str, bytes]]:
        marks = ",".join("?" * len(key_ids))
        return [(did, int(seq), key_id, blob) for did, seq, key_id, blob in self._db.execute(
            f"SELECT dossier_id, seq, key_id, value FROM vault WHERE (dossier_id, seq) > (?, ?) "
            f"AND key_id IN ({marks}) AND value IS NOT NULL ORDER BY dossier_id, seq LIMIT ?",
            (*after, *key_ids, limit))]

    def reseal_vault_value(self, dossier_id: str, seq: int, *, old_key_id: str, key_id: str, blob: bytes) -> None:
        self._db.execute("UPDATE vault SET key_id=?, value=? WHERE dossier_id=? AND seq=? AND key_id=?",
                         (key_id, blob, dossier_id, seq, old_key_id))

    def record_vault_key(self, key_id: str) -> None:
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name='vault_keys'").fetchone() is not None:
            self._db.execute("INSERT INTO vault_keys (key_id) VALUES (?) ON CONFLICT DO NOTHING", (key_id,))

    def vault_key_ids(self, *, exclude: Sequence[str] = ()) -> list[str]:
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name='vault_keys'").fetchone() is not None:
            return [r[0] for r in self._db.execute("SELECT key_id FROM vault_keys ORDER BY key_id")]
        # a store from before the table (read without migrating): the values themselves say
        marks = ",".join("?" * len(exclude)) or "NULL"
        return [r[0] for r in self._db.execute(
            f"SELECT DISTINCT key_id FROM vault WHERE key_id NOT IN ({marks}) ORDER BY key_id", tuple(exclude))]

    def forget_vault_key(self, key_id: str) -> None:
        self._db.execute("DELETE FROM vault_keys WHERE key_id=?", (key_id,))

    def has_vault_index(self) -> bool:
        return self._db.execute("SELECT 1 FROM vault_index LIMIT 1").fetchone() is not None

    # -- hash-chain head (HashChainHead) ------------------------------------------------------------------
    def event_hash(self, dossier_id: str, seq: int) -> bytes | None:
        row = self._db.execute("SELECT hash FROM events WHERE dossier_id=? AND seq=?", (dossier_id, seq)).fetchone()
        return bytes(row[0]) if row is not None and row[0] else None

    def logged_dossier_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT dossier_id FROM events ORDER BY dossier_id")]

    # -- exchange replay log (ReplayLog) -----------------------------------------------------------------
    def record_received(self, message_id: str, *, at: datetime, sender: str | None = None,
                        dossier_id: str | None = None) -> bool:
        return self._db.execute(
            "INSERT INTO exchange_received (message_id, received_at, sender, dossier_id) VALUES (?,?,?,?) "
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            (message_id, at.isoformat(), sender, dossier_id)).fetchone() is not None

    def is_received(self, message_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM exchange_received WHERE message_id=?",
                                (message_id,)).fetchone() is not None

    def received_messages(self, dossier_id: str | None = None) -> list[tuple[str, str | None, str | None]]:
        sql, params = "SELECT message_id, sender, dossier_id FROM exchange_received", ()
        if dossier_id is not None:
            sql, params = sql + " WHERE dossier_id=?", (dossier_id,)  # type: ignore[assignment]
        return [tuple(r) for r in self._db.execute(sql + " ORDER BY message_id", params)]

    def forget_received_before(self, when: datetime) -> int:
        return len(self._db.execute("DELETE FROM exchange_received WHERE received_at < ? RETURNING message_id",
                                    (when.isoformat(),)).fetchall())

    # -- secure erase (SecureErase) ----------------------------------------------------------------------
    @contextmanager
    def secure_erase(self) -> Iterator[None]:
        """SQLite leaves an overwritten value's bytes in the page's free space unless ``secure_delete`` is
        on: turn it on for the scope and restore the previous setting after."""
        before = int(self._db.execute("PRAGMA secure_delete").fetchone()[0])
        self._db.execute("PRAGMA secure_delete=ON")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA secure_delete={'FAST' if before == 2 else before}")


def sqlite_has_checkpoint(path: str) -> bool:
    """Whether a SQLite file holds a simulator checkpoint: a read-only look that creates nothing (a missing,
    foreign or corrupt file has none)."""
    import os
    import sqlite3

    if path == ":memory:" or not os.path.isfile(path):
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return db.execute("SELECT 1 FROM sqlite_master WHERE name='sim_checkpoint'").fetchone() is not None and \
            db.execute("SELECT 1 FROM sim_checkpoint").fetchone() is not None
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()


def sqlite_is_store(path: str) -> bool:
    """Whether an existing file is a procflow SQLite store (read-only look; a foreign or corrupt file is not)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


def sqlite_table_count(path: str, table: str) -> int:
    """Rows in ``table`` of a SQLite file another process may be writing (0 while absent or locked)."""
    import os
    import sqlite3

    if not os.path.exists(path):
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def sqlite_table_rows(path: str, ignore: Mapping[str, frozenset[str]]) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows of a SQLite file, sorted, without the ``ignore``d columns (read-only)."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out: dict[str, list[tuple[object, ...]]] = {}
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for table in tables:
            cols = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')
                    if r[1] not in ignore.get(table, frozenset())]
            rows = db.execute(f"SELECT {', '.join(cols) or 'count(*)'} FROM \"{table}\"").fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        db.close()


def sqlite_store_kind(path: str) -> str:
    """``simulation`` for a store ``procflow simulate`` created; ``foreign`` for a file that is no procflow store;
    otherwise a short description of the application store (marker absent: made before it, so an application's).
    A read-only look."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in names:
                return "foreign"
            row = db.execute("SELECT value FROM meta WHERE key='created_by'").fetchone()
            if row is not None and row[0] == "simulation":
                return "simulation"
            n = db.execute("SELECT count(*) FROM dossiers").fetchone()[0] if "dossiers" in names else 0
            return f"{n:,} dossier(s)" + ("" if row is not None else ", created before stores recorded their maker")
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return "foreign"


def sqlite_table_names(conn: Any) -> set[str]:
    """The tables of a SQLite database, on a connection the caller opened (``db``, ``backup`` commands)."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def check_sqlite_path(path: str) -> None:
    """Refuse paths that can never be a store file (a directory), before SQLite says something vaguer."""
    if path != ":memory:" and not path.startswith("file:") and os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a SQLite store file")


def sqlite_problem(path: str, exc: BaseException, timeout: float | None = None) -> str:
    """One line a person can act on, for what sqlite3 raised."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        waited = f" (waited {timeout:g} s)" if timeout is not None else ""
        return (f"{path}: the store is locked by another process writing to it{waited}; try again when it has "
                "finished")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"{path} is not a readable SQLite store (corrupt, or another kind of file): {text}"
    if "readonly" in text or "read-only" in text:
        return f"{path}: the store file is read-only for this user ({text})"
    return f"{path}: SQLite error: {text}"
