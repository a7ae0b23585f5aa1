"""Making a store look as an older procflow left it, for the tests of what commands do with an old schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def unapply_latest_migration(path: str | Path) -> int:
    """Mark the store's latest SQLite migration as not applied (the tables stay: every migration's SQL is
    idempotent or checked) and return the schema version the store now reports."""
    con = sqlite3.connect(str(path))
    try:
        latest = con.execute("SELECT max(version) FROM procflow_migrations").fetchone()[0]
        con.execute("DELETE FROM procflow_migrations WHERE version = ?", (latest,))
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(latest - 1),))
        con.commit()
    finally:
        con.close()
    return int(latest) - 1
