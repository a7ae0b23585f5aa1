"""Safe defaults for commands that delete or rewrite data, and ``procflow backup`` / ``procflow restore``.

Every command that rewrites or deletes stored data (``retention apply``, ``keys rotate``, ``migrate units``,
``migrate definition``) has ``--dry-run`` and asks before it acts: on a terminal it asks a yes/no question;
anywhere else (a script, cron, CI) it refuses unless ``--yes`` is given, so a typo never runs unattended.

    procflow backup --db procflow.db --to backups/2026-04-20      # store + its keyring, consistently
    procflow restore --from backups/2026-04-20 --db procflow.db   # refuses to overwrite without --overwrite

Both act as the machine's operator (``_common.as_operator``). A backup carries every sealed personal value and
the keys that open them, so it is taken only by an operator of the store, verified without a write (a backup
never takes the write lock, and a store older than this procflow can be backed up before its upgrade). A
restore is checked against the directory inside the backup — the data it puts back — read-only, before
anything is written; the restore is then recorded in the restored store's audit (when its schema is this
procflow's: an older store's audit table is not this procflow's to write before `procflow db upgrade`).

A SQLite store is copied with SQLite's online backup API (a consistent snapshot while other processes keep
writing); its keyring file is copied beside it (mode 0600). PostgreSQL is backed up with its own tools
(``pg_dump``); procflow then copies only the keyring and says how to dump the database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from procflow.cli._common import DB_ENV, DbOption, fail, out, require_db

if TYPE_CHECKING:
    from procflow.privacy.directory import Official

__all__ = ["backup_store", "confirm_destructive", "register", "require_keys", "restore_store"]

_out = out  # one console pair (procflow.cli._common): a path is never wrapped mid-line in a log

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run from a "
                                                              "terminal).")]
MANIFEST = "procflow-backup.json"


_fail = fail


def confirm_destructive(what: str, *, yes: bool, dry_run: bool = False) -> None:
    """Ask before ``what`` happens. ``--dry-run`` changes nothing, so it never asks; ``--yes`` answers yes.
    Without a terminal to ask on, refuse: a command that rewrites data never runs unattended by accident."""
    if dry_run or yes:
        return
    if sys.stdin.isatty() and sys.stdout.isatty():
        if typer.confirm(f"{what}. Continue?", default=False):
            return
        _fail("cancelled; nothing was changed")
    _fail(f"{what}: pass --yes to do it (or --dry-run to see what it would do); nothing was changed")


def require_keys(store: object, db: str, keys: str | None = None) -> None:
    """Refuse (one line, exit 1) a store whose sealed values need keys that are not available — before a
    command reads or writes anything, so a store copied without its keyring is never given a new one."""
    from procflow.errors import ProcflowError
    from procflow.privacy.keys import FileKeyProvider
    from procflow.privacy.vault import Vault

    try:
        Vault(store, FileKeyProvider(keys, create=False) if keys else None, location=db).check_keys()
    except ProcflowError as exc:
        close = getattr(store, "close", None)
        if close is not None:
            close()
        _fail(str(exc))


# -- backup / restore -----------------------------------------------------------------------------------------
def _sqlite_path(db: str) -> str:
    return db.removeprefix("sqlite:///").removeprefix("sqlite://")


def _keyring_for(db: str, keys: str | None) -> Path | None:
    from procflow.privacy.env_keys import default_key_provider
    from procflow.privacy.keys import FileKeyProvider

    if keys:
        return Path(keys)
    if os.environ.get("PROCFLOW_VAULT_KEYS"):
        return None  # keys from the environment: they are backed up wherever the environment is kept
    provider = default_key_provider(db)
    return provider.path if isinstance(provider, FileKeyProvider) else None


def _copy_keyring(src: Path, dest: Path) -> None:
    from procflow.privacy.files import write_private

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    write_private(tmp, src.read_bytes())  # keys: owner-only from the first byte, not chmod-ed after the copy
    os.replace(tmp, dest)


def backup_store(db: str, to: str | os.PathLike[str], *, keys: str | None = None,
                 check: Callable[[sqlite3.Connection], object] | None = None) -> dict[str, str]:
    """Copy a SQLite store (online backup: consistent while others write) and its keyring into ``to``.

    The keyring is copied after the database: a key made in between (a rotation) is then in the copy too,
    and a backup never holds a value whose key it lacks. Returns the manifest written beside the copies.
    ``check`` is called with a read-only connection to the store once it is known to be one, before anything
    is written (the command line's operator check)."""
    from procflow.errors import StoreError
    from procflow.store.sqlite import check_sqlite_path, sqlite_problem, sqlite_table_names

    if db.startswith(("postgresql://", "postgres://")):
        ring = _keyring_for(db, keys)
        raise StoreError("a PostgreSQL store is backed up with PostgreSQL's tools: `pg_dump --format=custom "
                         "--file=procflow.dump <URL>` (restore with `pg_restore --dbname=<URL> procflow.dump`), "
                         + (f"then copy its keyring {ring} with it" if ring is not None else
                            "with the PROCFLOW_VAULT_KEYS values kept beside it"))
    path = _sqlite_path(db)
    if not path or path == ":memory:" or not Path(path).exists():
        raise StoreError(f"no store at {db}")
    check_sqlite_path(path)
    target = Path(to)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StoreError(f"{target} is not empty; back up into a new directory")
    name = Path(path).name
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if "meta" not in sqlite_table_names(src):
                raise StoreError(f"{path} is not a procflow store")
            if check is not None:
                check(src)
            target.mkdir(parents=True, exist_ok=True)  # only once the source is known to be a store
            from procflow.privacy.files import write_private

            write_private(target / name, b"")  # the copy holds the dossiers: owner-only (0600) from the start
            dest = sqlite3.connect(target / name)
            try:
                src.backup(dest)
            finally:
                dest.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise StoreError(sqlite_problem(path, exc)) from exc
    manifest = {"format": "procflow-backup-1", "store": name, "taken_at": datetime.now(UTC).isoformat(),
                "keyring": ""}
    ring = _keyring_for(db, keys)
    if ring is not None and ring.exists():
        _copy_keyring(ring, target / (name + ".keys"))
        manifest["keyring"] = name + ".keys"
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def restore_store(source: str | os.PathLike[str], db: str, *, keys: str | None = None,
                  overwrite: bool = False, check: Callable[[sqlite3.Connection], object] | None = None
                  ) -> dict[str, str]:
    """Put a backup's store and keyring back at ``db`` (and its keyring place). Refuses to replace an existing
    store or keyring unless ``overwrite``. ``check`` is called with a read-only connection to the backup's copy
    of the store (immutable: never given a -wal or -shm file) once the backup is known to be whole, before
    anything is written (the command line's operator check)."""
    from procflow.errors import StoreError

    src = Path(source)
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{src} is not a procflow backup (no readable {MANIFEST})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != "procflow-backup-1":
        raise StoreError(f"{src}/{MANIFEST}: not a procflow backup manifest")
    if db.startswith(("postgresql://", "postgres://")):
        raise StoreError("restore a PostgreSQL store with `pg_restore`; this command restores SQLite backups")
    path = Path(_sqlite_path(db))
    if not str(path) or str(path) == ":memory:":
        raise StoreError("--db must name the SQLite file to restore into")
    ring = _keyring_for(str(path), keys)
    existing = [p for p in (path, Path(f"{path}-wal"), ring) if p is not None and p.exists()]
    if existing and not overwrite:
        raise StoreError(f"{', '.join(map(str, existing))} already exist(s); refusing to replace them — restore "
                         "elsewhere, or pass --overwrite")
    store_copy = src / manifest["store"]
    if not store_copy.exists():
        raise StoreError(f"{store_copy} is missing from the backup")
    if check is not None:
        try:
            copy = sqlite3.connect(f"file:{store_copy}?mode=ro&immutable=1", uri=True)
            try:
                check(copy)
            finally:
                copy.close()
        except sqlite3.Error as exc:
            raise StoreError(f"{store_copy}: not a readable procflow store ({exc}); nothing was restored") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".restoring")
    shutil.copyfile(store_copy, tmp)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    if manifest.get("keyring") and ring is not None:
        _copy_keyring(src / manifest["keyring"], ring)
    return manifest


# A restore asks the backup's directory: granting the role in a live store would not change what the backup says.
_RESTORE_FIX = ("the backup's officials directory decides: restore with the credential of an operator who held it "
                "when the backup was taken (the first administrator, from procflow officials init, does)")


def _operator_on(conn: sqlite3.Connection, action: str, db: str, role: str | None = None) -> Official:
    """The operator as the officials rows on ``conn`` (read-only) know them; a refusal is recorded in the store
    at ``db`` when there is one of this procflow's schema, and ends in one line."""
    from procflow.cli.db import operator_of, record_pending

    try:
        operator, _ = operator_of("sqlite", conn, action, role=role, db=db,
                                  fix=_RESTORE_FIX if action == "restore" else None)
    except typer.Exit as exc:
        record_pending(db, getattr(exc, "pending", []))
        raise
    return operator


def register(app: typer.Typer) -> None:
    """Mount ``procflow backup`` and ``procflow restore``."""

    @app.command("backup")
    def backup_cmd(
        to: Annotated[Path, typer.Option("--to", help="A new (or empty) directory for the copies.")],
        db: DbOption = None,
        keys: Annotated[str | None, typer.Option(help="Its keyring file (default: the one the store uses).")]
        = None,
    ) -> None:
        """Copy a store and its keyring consistently (SQLite online backup; PostgreSQL: pg_dump guidance)."""
        from procflow.errors import ProcflowError

        db = require_db(db)
        try:  # PostgreSQL: pg_dump guidance, nothing copied, no credential asked
            m = backup_store(db, to, keys=keys, check=lambda conn: _operator_on(conn, "backup", db))
        except (ProcflowError, OSError) as exc:
            _fail(str(exc))
        _out.print(f"backed up {db} to {to}/{m['store']}"
                   + (f" with its keyring ({m['keyring']})" if m["keyring"] else
                      " [yellow](no keyring file: the store has none yet, or keys come from the environment)[/]"))

    @app.command("restore")
    def restore_cmd(
        source: Annotated[Path, typer.Option("--from", help="A directory written by `procflow backup`.")],
        db: Annotated[str | None, typer.Option("--db", envvar=DB_ENV, metavar="STORE",
                                               help=f"Where to put the store back (default ${DB_ENV}).")] = None,
        keys: Annotated[str | None, typer.Option(help="Where to put the keyring (default: beside the store, or "
                                                       "$PROCFLOW_KEYS_FILE).")] = None,
        overwrite: Annotated[bool, typer.Option(help="Replace an existing store and keyring.")] = False,
    ) -> None:
        """Put a backed-up store and its keyring back (refuses to replace existing files without --overwrite)."""
        from procflow.cli.db import record_allowed
        from procflow.errors import ProcflowError
        from procflow.privacy.directory import STORE_ADMIN_ROLE

        db = require_db(db)
        operators = []
        try:
            m = restore_store(source, db, keys=keys, overwrite=overwrite,
                              check=lambda copy: operators.append(_operator_on(copy, "restore", db, STORE_ADMIN_ROLE)))
        except (ProcflowError, OSError) as exc:
            _fail(str(exc))
        record_allowed(db, operators[0], "restore", f"backup {m['store']} taken {m['taken_at'][:19]}")
        _out.print(f"restored {m['store']} (taken {m['taken_at'][:19]}) to {db}"
                   + (" with its keyring" if m["keyring"] else ""))
