"""The officials directory's rows on both backends (``procflow.store.contracts.OfficialRecords``).

One mixin per backend, beside the store classes so the hot-path modules stay about dossiers. The directory
(``procflow.privacy.directory``) owns the meaning of each column; here they are opaque text. Writes join the caller's
transaction: an import of a province's staff, or a grant and its audit entry, commits as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from procflow.store.base import OfficialRow

__all__ = ["PostgresOfficials", "SQLiteOfficials"]

_COLUMNS = "id, name, agency, roles, valid_from, valid_to, acts_for, credential"


def _row(r: Sequence[Any]) -> OfficialRow:
    return (str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], r[5], str(r[6]), r[7])


class SQLiteOfficials:
    _db: Any  # the SQLiteStore's connection

    def transaction(self) -> Any: ...  # SQLiteStore's

    def save_officials(self, rows: Sequence[OfficialRow]) -> None:
        if rows:
            with self.transaction():
                self._db.executemany(f"INSERT OR REPLACE INTO officials ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                                     rows)

    def official_row(self, official_id: str) -> OfficialRow | None:
        r = self._db.execute(f"SELECT {_COLUMNS} FROM officials WHERE id=?", (official_id,)).fetchone()
        return None if r is None else _row(r)

    def official_rows(self) -> list[OfficialRow]:
        return [_row(r) for r in self._db.execute(f"SELECT {_COLUMNS} FROM officials ORDER BY id")]

    def official_count(self) -> int:
        # a store opened without upgrading (``upgrade=False``) may predate the directory: it has none
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='officials'").fetchone() is None:
            return 0
        return int(self._db.execute("SELECT count(*) FROM officials").fetchone()[0])


class PostgresOfficials:
    def _conn(self) -> Any: ...  # PostgresStore's (pinned, per thread)

    def transaction(self) -> Any: ...  # PostgresStore's

    def save_officials(self, rows: Sequence[OfficialRow]) -> None:
        if rows:
            with self.transaction():
                self._conn().cursor().executemany(
                    f"INSERT INTO officials ({_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO UPDATE "
                    "SET name=excluded.name, agency=excluded.agency, roles=excluded.roles, "
                    "valid_from=excluded.valid_from, valid_to=excluded.valid_to, acts_for=excluded.acts_for, "
                    "credential=excluded.credential", rows)

    def official_row(self, official_id: str) -> OfficialRow | None:
        rows = self._conn().execute(f"SELECT {_COLUMNS} FROM officials WHERE id=%s", (official_id,)).fetchall()
        return _row(rows[0]) if rows else None

    def official_rows(self) -> list[OfficialRow]:
        return [_row(r) for r in self._conn().execute(
            f'SELECT {_COLUMNS} FROM officials ORDER BY id COLLATE "C"').fetchall()]

    def official_count(self) -> int:
        # a schema opened without migrating (``migrate=False``) may predate the directory: it has none
        exists = self._conn().execute("SELECT to_regclass('officials') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = self._conn().execute("SELECT count(*) FROM officials").fetchone()
        return int(row[0]) if row else 0
