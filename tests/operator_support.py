"""The command line's operator in tests: commands that write data or show personal data act as the operator
whose 0600 credential the machine holds (``procflow.privacy.credential``), enrolled in the store's directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from procflow.testing.directory import enrol_operator

OPERATOR = "van.hanh"  # the operator's official id in every test store
AGENCY = "999.00.00.H92"  # the people's committee of province 92 (Cần Thơ)


def operator_env(store: Any, where: Path | str | None = None, *, official: str = OPERATOR,
                 agency: str = AGENCY, roles: Iterable[str] = ()) -> dict[str, str]:
    """Enrol the operator in ``store`` (a store, or its path/URL) and write their credential beside it (or in
    ``where``); returns ``{"PROCFLOW_OPERATOR_FILE": …}`` for a subprocess or a ``CliRunner``."""
    db = store if isinstance(store, str) else getattr(store, "path", None)
    folder = Path(where) if where is not None else Path(db).parent if db and "://" not in db else None
    if folder is None:
        raise ValueError("name a folder for the credential (the store has no file)")
    name = Path(db).name if db and "://" not in db else "store"  # one credential per store: each holds its digest
    return enrol_operator(store, folder / f"{name}.{official}.operator.toml", official, agency, roles)


def use_operator(monkeypatch: pytest.MonkeyPatch, store: Any, where: Path | str | None = None, *,
                 roles: Iterable[str] = ()) -> dict[str, str]:
    """``operator_env``, set in this test's environment (subprocesses inherit it)."""
    env = operator_env(store, where, roles=roles)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def all_rows(path: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a SQLite store, read-only: what a refused command must leave as it was."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        con.close()
