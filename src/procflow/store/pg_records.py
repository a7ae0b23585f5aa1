"""PostgreSQL's side of the feature sub-contracts (``procflow.store.base``): bundle records and the
simulator's checkpoint and backlog samples, the same tables as SQLite's (migration 6). A mixin of
``PostgresStore``; statements run on this thread's connection, inside the caller's transaction. Expected
refusals never raise inside the database (``ON CONFLICT DO NOTHING`` / an empty ``RETURNING``), so a
refused bundle save leaves the caller's transaction usable, as on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from procflow.errors import StoreError
from procflow.store.base import BundleEventRow, SimSample

__all__ = ["PostgresRecords", "postgres_table_count"]


class PostgresRecords:
    def _conn(self) -> Any: ...  # PostgresStore's (pinned, per thread)

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn().execute(query, params)
        return cur.fetchall() if cur.description else []

    # -- liên thông bundles (BundleRecords) -------------------------------------------------------------
    def bundle_definition_sources(self) -> list[tuple[str, int, str]]:
        return [tuple(r) for r in self._rows(
            "SELECT code, version, source FROM bundle_definitions ORDER BY code, version")]

    def bundle_definition_hash(self, code: str, version: int) -> str | None:
        rows = self._rows("SELECT content_hash FROM bundle_definitions WHERE code=%s AND version=%s", (code, version))
        return str(rows[0][0]) if rows else None

    def add_bundle_definition(self, code: str, version: int, content_hash: str, source: str) -> None:
        if not self._rows("INSERT INTO bundle_definitions VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING RETURNING 1",
                          (code, version, content_hash, source)):
            raise StoreError(f"bundle {code} version {version} is already registered (concurrently); retry")

    def bundle_record(self, bundle_id: str) -> str | None:
        rows = self._rows("SELECT record FROM bundles WHERE id=%s", (bundle_id,))
        return str(rows[0][0]) if rows else None

    def bundle_records(self) -> Iterator[str]:
        for (text,) in self._rows("SELECT record FROM bundles ORDER BY id COLLATE \"C\""):
            yield text

    def save_bundle(self, bundle_id: str, record: str, *, status: int, revision: int, event: BundleEventRow,
                    members: Mapping[str, str]) -> None:
        if revision == 1:
            if not self._rows("INSERT INTO bundles VALUES (%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING RETURNING id",
                              (bundle_id, record, status, revision)):
                raise StoreError(f"bundle {bundle_id} already exists (filed concurrently); retry")
        elif not self._rows("UPDATE bundles SET record=%s, status=%s, revision=%s WHERE id=%s AND revision=%s "
                            "RETURNING id", (record, status, revision, bundle_id, revision - 1)):
            raise StoreError(f"bundle {bundle_id} changed concurrently (expected revision {revision - 1}); retry")
        self._rows("INSERT INTO bundle_events VALUES (%s,%s,%s,%s,%s,%s,%s)", (bundle_id, *event))
        for name, did in members.items():
            self._rows("INSERT INTO bundle_members VALUES (%s,%s,%s)", (did, bundle_id, name))

    def bundle_events(self, bundle_id: str) -> list[BundleEventRow]:
        return [tuple(r) for r in self._rows(
            "SELECT seq, at, kind, status, actor, effects FROM bundle_events WHERE bundle_id=%s ORDER BY seq",
            (bundle_id,))]

    def bundle_member_of(self, dossier_id: str) -> tuple[str, str] | None:
        rows = self._rows("SELECT bundle_id, member FROM bundle_members WHERE dossier_id=%s", (dossier_id,))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def bundle_membership(self, bundle_ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
        out: dict[str, tuple[int, tuple[str, ...]]] = {}
        for bundle_id in bundle_ids:
            rows = self._rows("SELECT status FROM bundles WHERE id=%s", (bundle_id,))
            if rows:
                members = self._rows("SELECT dossier_id FROM bundle_members WHERE bundle_id=%s "
                                     "ORDER BY dossier_id COLLATE \"C\"", (bundle_id,))
                out[bundle_id] = (int(rows[0][0]), tuple(r[0] for r in members))
        return out

    # -- simulator checkpoint and backlog samples (SimulationRecords) ---------------------------------
    def save_sim_checkpoint(self, fingerprint: str, state: str) -> None:
        self._rows("INSERT INTO sim_checkpoint VALUES (1, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                   "fingerprint=excluded.fingerprint, state=excluded.state", (fingerprint, state))

    def load_sim_checkpoint(self) -> tuple[str, str] | None:
        rows = self._rows("SELECT fingerprint, state FROM sim_checkpoint WHERE id = 1")
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def add_sim_samples(self, rows: Sequence[SimSample]) -> None:
        if rows:
            self._conn().cursor().executemany(
                "INSERT INTO sim_backlog VALUES (%s,%s,%s,%s,%s) ON CONFLICT (at, agency) DO UPDATE SET "
                "open=excluded.open, overdue=excluded.overdue, paused=excluded.paused", rows)

    def sim_samples(self) -> list[SimSample]:
        return [tuple(r) for r in self._rows(
            "SELECT at, agency, open, overdue, paused FROM sim_backlog"
            " ORDER BY at COLLATE \"C\", agency COLLATE \"C\"")]

    def add_sim_online(self, dossier_id: str) -> None:
        self._rows("INSERT INTO sim_online VALUES (%s) ON CONFLICT DO NOTHING", (dossier_id,))

    def sim_online_ids(self) -> list[str]:
        return [r[0] for r in self._rows('SELECT dossier_id FROM sim_online ORDER BY dossier_id COLLATE "C"')]

    def unreturned_dossier_ids(self) -> list[str]:
        """Dossiers whose result is not yet processed or returned (portal status not 9 or 10)."""
        return [r[0] for r in self._rows(
            "SELECT id FROM dossiers WHERE status NOT IN (9, 10) ORDER BY id COLLATE \"C\"")]

    # -- personal-data vault (VaultRecords) ------------------------------------------------------------
    def put_vault_value(self, dossier_id: str, seq: int, key_id: str, blob: bytes) -> None:
        self._rows("INSERT INTO vault (dossier_id, seq, key_id, value, erased_at) VALUES (%s,%s,%s,%s,NULL) "
                   "ON CONFLICT (dossier_id, seq) DO UPDATE SET key_id=EXCLUDED.key_id, value=EXCLUDED.value, "
                   "erased_at=NULL", (dossier_id, seq, key_id, blob))

    def add_vault_index(self, digest: str, dossier_id: str, field: str) -> None:
        self._rows("INSERT INTO vault_index (digest, dossier_id, field) VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
                   (digest, dossier_id, field))

    def vault_values(self, dossier_id: str, seqs: Sequence[int]) -> list[tuple[int, str, bytes | None]]:
        return [(int(seq), key_id, blob) for seq, key_id, blob in self._rows(
            "SELECT seq, key_id, value FROM vault WHERE dossier_id=%s AND seq = ANY(%s)", (dossier_id, list(seqs)))]

    def vault_index_lookup(self, digest: str) -> list[str]:
        return [r[0] for r in self._rows('SELECT DISTINCT dossier_id COLLATE "C" FROM vault_index WHERE digest=%s '
                                         "ORDER BY 1", (digest,))]

    def vault_live_entries(self, dossier_id: str) -> int:
        return int(self._rows("SELECT count(*) FROM vault WHERE dossier_id=%s AND value IS NOT NULL",
                              (dossier_id,))[0][0])

    def vault_live_owners(self, prefix: str) -> list[str]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"  # LIKE, escaped
        rows = self._rows('SELECT DISTINCT dossier_id COLLATE "C" FROM vault WHERE dossier_id LIKE %s '
                          "AND value IS NOT NULL ORDER BY 1", (pattern,))
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def erase_vault(self, dossier_id: str, *, key_id: str, at: datetime) -> None:
        self._rows("UPDATE vault SET value=NULL, key_id=%s, erased_at=%s WHERE dossier_id=%s AND value IS NOT NULL",
                   (key_id, at.isoformat(), dossier_id))
        self._rows("DELETE FROM vault_index WHERE dossier_id=%s", (dossier_id,))

    def vault_key_usage(self) -> dict[str, int]:
        return {k: int(n) for k, n in self._rows(
            "SELECT key_id, count(*) FROM vault WHERE value IS NOT NULL GROUP BY key_id ORDER BY key_id")}

    def vault_rows_under(self, key_ids: Sequence[str], *, after: tuple[str, int],
                         limit: int) -> list[tuple[str, int, str, bytes]]:
        return [(did, int(seq), key_id, blob) for did, seq, key_id, blob in self._rows(
            "SELECT dossier_id, seq, key_id, value FROM vault WHERE (dossier_id, seq) > (%s, %s) "
            "AND key_id = ANY(%s) AND value IS NOT NULL ORDER BY dossier_id, seq LIMIT %s",
            (*after, list(key_ids), limit))]

    def reseal_vault_value(self, dossier_id: str, seq: int, *, old_key_id: str, key_id: str, blob: bytes) -> None:
        self._rows("UPDATE vault SET key_id=%s, value=%s WHERE dossier_id=%s AND seq=%s AND key_id=%s",
                   (key_id, blob, dossier_id, seq, old_key_id))

    def record_vault_key(self, key_id: str) -> None:
        self._rows("INSERT INTO vault_keys (key_id) VALUES (%s) ON CONFLICT DO NOTHING", (key_id,))

    def vault_key_ids(self, *, exclude: Sequence[str] = ()) -> list[str]:
        return [r[0] for r in self._rows("SELECT key_id FROM vault_keys ORDER BY key_id")]

    def forget_vault_key(self, key_id: str) -> None:
        self._rows("DELETE FROM vault_keys WHERE key_id=%s", (key_id,))

    def has_vault_index(self) -> bool:
        return bool(self._rows("SELECT 1 FROM vault_index LIMIT 1"))

    # -- hash-chain head (HashChainHead) ------------------------------------------------------------------
    def event_hash(self, dossier_id: str, seq: int) -> bytes | None:
        rows = self._rows("SELECT hash FROM events WHERE dossier_id=%s AND seq=%s", (dossier_id, seq))
        return bytes(rows[0][0]) if rows and rows[0][0] else None

    def logged_dossier_ids(self) -> list[str]:
        return [r[0] for r in self._rows('SELECT DISTINCT dossier_id COLLATE "C" FROM events ORDER BY 1')]

    # -- exchange replay log (ReplayLog) -----------------------------------------------------------------
    def record_received(self, message_id: str, *, at: datetime, sender: str | None = None,
                        dossier_id: str | None = None) -> bool:
        return bool(self._rows(
            "INSERT INTO exchange_received (message_id, received_at, sender, dossier_id) VALUES (%s,%s,%s,%s) "
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id", (message_id, at, sender, dossier_id)))

    def is_received(self, message_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM exchange_received WHERE message_id=%s", (message_id,)))

    def received_messages(self, dossier_id: str | None = None) -> list[tuple[str, str | None, str | None]]:
        sql, params = "SELECT message_id, sender, dossier_id FROM exchange_received", ()
        if dossier_id is not None:
            sql, params = sql + " WHERE dossier_id=%s", (dossier_id,)  # type: ignore[assignment]
        return [tuple(r) for r in self._rows(sql + " ORDER BY message_id COLLATE \"C\"", params)]

    def forget_received_before(self, when: datetime) -> int:
        return len(self._rows("DELETE FROM exchange_received WHERE received_at < %s RETURNING message_id", (when,)))

    # -- secure erase (SecureErase) ----------------------------------------------------------------------
    @contextmanager
    def secure_erase(self) -> Iterator[None]:
        """Nothing to switch on PostgreSQL: an erased value's old row version stays in the table file until
        VACUUM reclaims it (autovacuum does; run ``VACUUM vault`` after retention to be sure)."""
        yield

    # -- a simulation's fresh start (``procflow simulate --overwrite`` on PostgreSQL) ---------------------
    def used_rows(self) -> int:
        """Dossier and receipt-number rows: zero means no run and no application has written here."""
        return int(self._rows("SELECT (SELECT count(*) FROM dossiers) + (SELECT count(*) FROM sequences)")[0][0])

    def empty_all_tables(self) -> None:
        """Empty every procflow table of this schema (later migrations add some), not the version record.
        Only for a simulation told to start over a used store (``--overwrite``)."""
        tables = [r[0] for r in self._rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                                           " AND tablename <> 'procflow_migrations'")]
        self._rows(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")


def postgres_table_count(url: str, table: str, *, schema: str | None = None) -> int:
    """Rows in ``table`` of a PostgreSQL database (``schema``, when given) that another process may be
    writing: 0 until the table exists or while the server does not answer (a crash-test probe)."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    query = sql.SQL("SELECT count(*) FROM {}").format(name)
    try:
        with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return 0
