"""Helpers for the safety tests: a real application store (SQLite file, sealed personal values, its keyring
beside it as ``<db>.keys``), and a fingerprint of every file of a store to prove a command changed nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

VN = ZoneInfo("Asia/Ho_Chi_Minh")
BIRTH = "1.001193"
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789",
         "parent_phone": "0912345678"}


def desk(code: str) -> Actor:
    return Actor(id=f"desk@{code}", agency=code, roles={"one_stop_officer"})


def civil(code: str) -> Actor:
    return Actor(id=f"civil@{code}", agency=code, roles={"civil_status_officer"})


def make_app_store(path: Path, registry, n: int = 3) -> list[str]:
    """An application's store (made through the API, not by ``procflow simulate``) with sealed values."""
    store = SQLiteStore(str(path))
    engine = Engine(store, registry=registry, clock=FakeClock(datetime(2026, 4, 20, 8, tzinfo=VN)))
    for d in bundled_definitions():
        engine.register(d)
    a = registry.communes_of("92")[0].code
    staff_of(engine).actors(desk(a), civil(a))
    ids = []
    for _ in range(n):
        d = engine.file(BIRTH, filed_at=a, actor=desk(a), data=CHILD)
        engine.fire(d, "accept", desk(a))
        ids.append(d.id)
    store.close()
    return ids


def fingerprint(path: Path) -> dict[str, str]:
    """Content of a store's files (and its keyring) as the database sees it: the main file after a WAL
    checkpoint would be the same, so hash the logical content of every table plus the keyring's bytes."""
    out: dict[str, str] = {}
    if path.exists() and path.is_file():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
                rows = db.execute(f'SELECT * FROM "{name}"').fetchall()
                out[name] = hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()
        except sqlite3.DatabaseError:
            out["<raw>"] = hashlib.sha256(path.read_bytes()).hexdigest()
        finally:
            db.close()
    keys = Path(str(path) + ".keys")
    out["<keys>"] = hashlib.sha256(keys.read_bytes()).hexdigest() if keys.exists() else "absent"
    return out
