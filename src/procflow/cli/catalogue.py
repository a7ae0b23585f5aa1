"""``procflow catalogue import``: a province's catalogue file to versioned definitions (a directory or a store)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from procflow.cli._common import as_operator, fail, open_store_or_fail

__all__ = ["app"]

app = typer.Typer(help="A province's procedure catalogue (danh mục thủ tục hành chính) as procflow definitions.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


_fail = fail


@app.command(name="import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Catalogue file: .csv (with a header row) or .json.")],
    out: Annotated[Path | None, typer.Option(help="Write definitions here as <code>.v<version>.toml.")] = None,
    db: Annotated[str | None, typer.Option(help="Register the definitions in this store (SQLite path or "
                                                "PostgreSQL URL) instead of writing files.")] = None,
    overrides: Annotated[Path | None, typer.Option(help="Directory of hand-written TOMLs; one with a record's "
                                                        "code replaces the generated definition.")] = None,
    bundled: Annotated[bool, typer.Option(help="Let procflow's bundled procedures override records of the "
                                               "same code.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Import a catalogue: every row checked first (row and column of each problem), nothing written unless
    all pass; a changed record becomes the next version, an unchanged one is left alone."""
    from procflow.catalogue import import_catalogue
    from procflow.catalogue.importer import plan_summary
    from procflow.errors import CatalogueError, DefinitionError, ProcflowError

    if (out is None) == (db is None):
        _fail("give exactly one of --out DIR or --db STORE")
    if not file.exists():
        _fail(f"{file}: no such file")
    if out is not None and out.exists() and not out.is_dir():
        _fail(f"--out {out}: exists and is not a directory")
    store = None
    if db is not None:  # definitions written into a store: by its operator, checked before anything is written
        store = open_store_or_fail(db, check_keys=False)
        try:
            as_operator(store, "catalogue:import", file.name)
        except typer.Exit:
            store.close()
            raise
    try:
        plan = import_catalogue(file, out=out, store=store, overrides=overrides, bundled=bundled)
    except CatalogueError as exc:
        _fail(exc.one_line())
    except DefinitionError as exc:  # an invalid hand-written override
        _fail("override refused, nothing imported: " + "; ".join(str(p) for p in exc.problems[:5]))
    except (ProcflowError, OSError) as exc:
        _fail(" ".join(str(exc).split()))
    finally:
        if store is not None:
            store.close()
    summary = plan_summary(plan)
    if as_json:
        sys.stdout.write(json.dumps({"file": str(file), "target": str(out or db), **summary,
                                     "definitions": [{"code": p.code, "version": p.definition.version,
                                                      "status": p.status, "override": p.override}
                                                     for p in plan.planned]}, ensure_ascii=False, indent=2) + "\n")
        return
    where = f"{out}" if out is not None else f"store {db}"
    sys.stdout.write(f"{file}: {plan.summary()} → {where}\n")


@app.command(name="sample")
def sample_command(
    target: Annotated[Path, typer.Argument(help="Where to write the sample catalogue (CSV).")] = Path("catalogue.csv"),
    overwrite: Annotated[bool, typer.Option(help="Replace TARGET if it exists.")] = False,
) -> None:
    """Write procflow's sample catalogue (real commune- and province-level procedures, sources per row) to
    TARGET, to read, edit and import."""
    from procflow.catalogue import sample_catalogue

    if target.exists() and not overwrite:
        _fail(f"{target} exists; choose another path or pass --overwrite")
    try:
        target.write_bytes(sample_catalogue().read_bytes())
    except OSError as exc:
        _fail(f"{target}: {exc.strerror or exc}")
    sys.stdout.write(f"wrote {target}\n")
