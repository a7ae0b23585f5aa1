"""``procflow migrate units MAP.csv`` and ``procflow migrate definition CODE --to VERSION``.

Mounted by ``procflow.cli.app`` through ``register(app)``. Both commands print what they moved and, when some
in-flight dossiers cannot be moved, list each with the reason and exit 1 having moved none (``--partial``
moves the others). ``--dry-run`` only reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from procflow.cli._common import DbOption, as_operator, fail, open_store_or_fail, out, require_db

if TYPE_CHECKING:
    from procflow.engine.core import Engine

__all__ = ["register"]

migrate_app = typer.Typer(help="Move in-flight dossiers to merged units or to a new definition version.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(migrate_app, name="migrate")


def _open(db: str, action: str | None, detail: str) -> Engine:
    """The engine on ``db``; ``action``: the move acts as the machine's operator (``_common.as_operator``),
    verified and audited before any dossier is touched (a dry run moves nothing and needs no credential)."""
    from procflow.engine.core import Engine
    from procflow.errors import ProcflowError

    store = open_store_or_fail(db)
    try:
        if action is not None:
            as_operator(store, action, detail)
        return Engine(store)
    except ProcflowError as exc:
        store.close()
        fail(str(exc))
    except typer.Exit:
        store.close()
        raise


_fail = fail


def _show(report, as_json: bool, what: str) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    verb = "would move" if report.dry_run else "moved"
    out.print(f"{what}: {verb} {len(report.moved):,} in-flight dossier(s)"
              + (f" and {len(report.bundles):,} liên thông bundle(s)" if report.bundles else ""), highlight=False)
    if report.sealed:
        out.print(f"  sealed {report.sealed:,} value(s) of newly personal fields in the vault", highlight=False)
    for r in report.refused:
        out.print(f"  [yellow]not moved[/] {r}", highlight=False)


@migrate_app.command("units")
def units(
    map_csv: Annotated[Path, typer.Argument(help="CSV of old,new agency codes (new may be a 5-digit ward code).")],
    db: DbOption = None,
    dry_run: Annotated[bool, typer.Option(help="Report what would move; change nothing.")] = False,
    partial: Annotated[bool, typer.Option(help="Move what can be moved even if some dossiers cannot.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run from a "
                                                           "terminal).")] = False,
) -> None:
    """Re-home in-flight dossiers after administrative units merged (one 'migrated' event each)."""
    db = require_db(db)
    from procflow.cli.safety import confirm_destructive

    confirm_destructive(f"move the in-flight dossiers of {db} to the units in {map_csv}", yes=yes, dry_run=dry_run)
    from procflow.errors import MigrationRefused, ProcflowError
    from procflow.migrate import migrate_units, read_unit_map

    engine = _open(db, None if dry_run else "migrate:units", f"unit map {map_csv.name}")
    try:
        mapping = read_unit_map(map_csv, engine)
        from procflow.bundle.records import keeps_bundles

        bundles = None  # liên thông bundles live beside the dossiers (both backends): they follow their commune
        if keeps_bundles(engine.store):
            from procflow.bundle import BundleCoordinator

            bundles = BundleCoordinator(engine, definitions=())
        report = migrate_units(engine, mapping, dry_run=dry_run, partial=partial, bundles=bundles)
    except MigrationRefused as exc:
        _fail(str(exc))
    except (ProcflowError, OSError) as exc:
        _fail(str(exc))
    finally:
        engine.store.close()
    _show(report, as_json, f"units ({len(mapping)} mapped)")
    if report.refused and not partial:
        raise typer.Exit(1)


@migrate_app.command("definition")
def definition(
    code: Annotated[str, typer.Argument(help="Procedure code, e.g. 1.001193.")],
    to: Annotated[int, typer.Option("--to", help="The definition version to move in-flight dossiers to.")],
    db: DbOption = None,
    file: Annotated[Path | None, typer.Option(help="Register this TOML (the new version) first.")] = None,
    map_state: Annotated[list[str] | None, typer.Option(
        "--map-state", metavar="OLD=NEW", help="A state of the old version and its counterpart (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Report what would move; change nothing.")] = False,
    partial: Annotated[bool, typer.Option(help="Move what can be moved even if some dossiers cannot.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run from a "
                                                           "terminal).")] = False,
) -> None:
    """Move in-flight dossiers of a procedure to another definition version (one 'migrated' event each)."""
    db = require_db(db)
    from procflow.cli.safety import confirm_destructive
    from procflow.definition.reader import load_definition
    from procflow.errors import MigrationRefused, ProcflowError
    from procflow.migrate import migrate_definition

    pairs = [m.partition("=") for m in map_state or ()]
    if any(not eq or not a or not b for a, eq, b in pairs):
        _fail("--map-state takes OLD=NEW")
    if not 1 <= to <= 2**31 - 1:
        _fail(f"--to: a definition version is 1 … 2147483647, got {to}")
    confirm_destructive(f"move the in-flight dossiers of {code} in {db} to version {to}", yes=yes, dry_run=dry_run)
    # a dry run moves nothing, but --file registers the new version: that is a write, by the operator
    engine = _open(db, None if dry_run and file is None else "migrate:definition", f"{code} to version {to}")
    try:
        if file is not None:
            new = load_definition(file, known_guards=set(engine.guards))
            if (new.code, new.version) != (code, to):
                _fail(f"{file} is {new.code} v{new.version}, not {code} v{to}")
            engine.register(new)
        report = migrate_definition(engine, code, to, state_map={a: b for a, _, b in pairs}, dry_run=dry_run,
                                    partial=partial)
    except MigrationRefused as exc:
        _fail(str(exc))
    except ProcflowError as exc:
        _fail(str(exc))
    finally:
        engine.store.close()
    _show(report, as_json, f"{code} → v{to}")
    if report.refused and not partial:
        raise typer.Exit(1)
