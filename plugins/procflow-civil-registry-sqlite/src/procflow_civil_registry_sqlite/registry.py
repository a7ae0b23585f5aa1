"""Prefill from a local citizen table: the one-stop desk types a national ID, the form fills itself.

The table is read-only to this adapter (opened with ``mode=ro``), so a bug here can never edit the
registry. Lookups are logged for the registry's access trail, always with the identifier masked
(``0792******67``): the log is read by people who have no business seeing whole IDs.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from procflow.errors import PermanentAdapterError, RetryableAdapterError
from procflow.hookspecs import hookimpl
from procflow.privacy.masking import mask_value

__all__ = ["COLUMNS", "CivilRegistry", "create_registry", "default"]

log = logging.getLogger("procflow_civil_registry_sqlite")

COLUMNS = ("full_name", "date_of_birth", "gender", "address", "phone", "email")
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS citizens (national_id TEXT PRIMARY KEY, "
           f"{', '.join(c + ' TEXT' for c in COLUMNS)})")


def create_registry(path: str | os.PathLike[str], citizens: Iterable[Mapping[str, Any]]) -> Path:
    """Write (or extend) a citizen table: each row needs ``national_id`` and any of ``COLUMNS``."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(_SCHEMA)
            db.executemany(
                f"INSERT OR REPLACE INTO citizens (national_id, {', '.join(COLUMNS)}) "
                f"VALUES (?{', ?' * len(COLUMNS)})",
                [(c["national_id"], *(c.get(k) for k in COLUMNS)) for c in citizens])
    finally:
        db.close()
    return Path(path)


class CivilRegistry:
    """``CivilRegistry(path)``; the installed entry point reads ``PROCFLOW_CIVIL_REGISTRY_DB`` when used."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 environ: Mapping[str, str] | None = None) -> None:
        self._path = None if path is None else str(path)
        self._environ = environ

    @property
    def path(self) -> str | None:
        if self._path is not None:
            return self._path
        env = self._environ if self._environ is not None else os.environ
        return env.get("PROCFLOW_CIVIL_REGISTRY_DB") or None

    @hookimpl
    def procflow_resolve_citizen(self, national_id: str, purpose: str, timeout: float) -> dict[str, str] | None:
        path = self.path
        if path is None:
            return None  # not configured: let another plugin answer
        masked = mask_value(national_id, "national_id")
        if not (isinstance(national_id, str) and len(national_id) == 12 and national_id.isdigit()):
            raise PermanentAdapterError(f"civil registry: {masked!r} is not a 12-digit personal identification "
                                        "number")
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=max(timeout, 0.001))
        except sqlite3.Error as exc:
            raise RetryableAdapterError(f"civil registry {Path(path).name}: cannot open: {exc}") from exc
        try:
            row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM citizens WHERE national_id = ?",
                             (national_id,)).fetchone()
        except sqlite3.OperationalError as exc:  # locked past the timeout, file gone, disk error
            raise RetryableAdapterError(f"civil registry {Path(path).name}: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # not a registry at all: no retry will fix that
            raise PermanentAdapterError(f"civil registry {Path(path).name}: {exc}") from exc
        finally:
            db.close()
        log.info("civil registry lookup %s for %s: %s", masked, purpose, "found" if row else "not found")
        if row is None:
            return None
        return {k: v for k, v in zip(COLUMNS, row, strict=True) if v not in (None, "")}


default = CivilRegistry()
"""The instance the ``procflow`` entry point registers (configured by ``PROCFLOW_CIVIL_REGISTRY_DB``)."""
