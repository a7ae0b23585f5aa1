"""``procflow officials``: the officials directory — who may act, for which agency, with which roles.

Every change is made by the operator this machine's credential names (``procflow.privacy.credential``), who must
hold ``officials:admin``; each change and each refusal is audited. ``init`` sets up the first administrator
on an empty directory and writes their credential (0600); they also hold ``store:admin`` (keys, retention,
restore, schema upgrades), so a new store is set up and keyed in two commands.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from procflow.cli._common import DbOption, fail, open_store_or_fail, out
from procflow.errors import ProcflowError

if TYPE_CHECKING:
    from procflow.privacy.directory import Directory
    from procflow.store.base import Store

__all__ = ["officials_app", "register"]

officials_app = typer.Typer(help="The officials directory: who may act, for which agency, with which roles.",
                            no_args_is_help=True)

_ROLES = Annotated[list[str] | None, typer.Option("--role", help="A role (repeatable), e.g. civil_status_officer, "
                                                                   "oversight:92, personal_data:unmask, "
                                                                   "store:admin.")]
_ACTS_FOR = Annotated[list[str] | None, typer.Option("--act-for", help="An official this one (an operator) may act "
                                                                        "for with --actor (repeatable).")]


def _directory(store: Store) -> Directory:
    from procflow.clock import SystemClock
    from procflow.jurisdiction import Registry
    from procflow.privacy.directory import Directory

    return Directory(store, SystemClock(), registry=Registry.default())


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ProcflowError(f"{option} {text!r}: expected a date YYYY-MM-DD") from None


def _run(db: str | None, body: Any, *, create: bool = False) -> Any:
    """Open the store, run ``body(directory)``, close; any refusal is one line."""
    store = None
    try:
        store = open_store_or_fail(db, create=create)  # one line when missing or foreign
        return body(_directory(store))
    except (ProcflowError, OSError) as exc:
        fail(str(exc))
    finally:
        if store is not None:
            store.close()


def _show(o: Any) -> None:
    roles, acts_for = ", ".join(sorted(o.roles)) or "-", ", ".join(sorted(o.acts_for)) or "-"
    out.print(f"{o.id}: roles {roles}; acts for {acts_for}", highlight=False)


@officials_app.command()
def init(
    official_id: Annotated[str, typer.Option("--id", help="The first administrator's official id.")],
    name: Annotated[str, typer.Option(help="Their full name.")],
    agency: Annotated[str, typer.Option(help="Their agency code (mã định danh).")],
    db: DbOption = None,
    credential: Annotated[Path | None, typer.Option(help="Write their credential here (default: "
                                                         "$PROCFLOW_OPERATOR_FILE or the config directory).")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite an existing credential file.")] = False,
) -> None:
    """Set up the directory's first administrator (roles officials:admin and store:admin) and write their
    credential (mode 0600)."""
    from procflow.privacy.credential import credential_path, write_credential
    from procflow.privacy.directory import Official

    path = credential or credential_path()
    if path.exists() and not replace:
        fail(f"{path} already exists; pass --replace to overwrite it, or --credential to write elsewhere")

    def body(directory: Directory) -> Path:
        admin, secret = directory.init(Official(id=official_id.strip(), name=name, agency=agency.strip()))
        return write_credential(path, admin.id, secret, replace=replace)

    written = _run(db, body, create=True)
    out.print(f"administrator {official_id} set up (roles officials:admin, store:admin); credential → {written} "
              "(mode 0600)", highlight=False)


@officials_app.command()
def add(
    official_id: Annotated[str, typer.Argument(help="The new official's id, e.g. nguyen.van.a.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    agency: Annotated[str, typer.Option(help="Agency code (mã định danh).")],
    role: _ROLES = None,
    act_for: _ACTS_FOR = None,
    valid_from: Annotated[str | None, typer.Option(help="First day they may act, YYYY-MM-DD.")] = None,
    valid_to: Annotated[str | None, typer.Option(help="Last day they may act, YYYY-MM-DD.")] = None,
    credential: Annotated[Path | None, typer.Option(help="Make them an operator: write their credential to this "
                                                         "new file (mode 0600) to hand over.")] = None,
    db: DbOption = None,
) -> None:
    """Add an official (administrators only; audited)."""
    from procflow.privacy.credential import operator_official, write_credential
    from procflow.privacy.directory import Official

    if credential is not None and credential.exists():
        fail(f"{credential} already exists; name a new file for the credential")

    def body(directory: Directory) -> None:
        by = operator_official(directory)
        new = Official(id=official_id.strip(), name=name, agency=agency.strip(), roles=frozenset(role or ()),
                       valid_from=_day(valid_from, "--valid-from"), valid_to=_day(valid_to, "--valid-to"),
                       acts_for=frozenset(act_for or ()))
        secret = directory.add(by, [new], credential=credential is not None)
        if credential is not None and secret is not None:
            write_credential(credential, new.id, secret)

    _run(db, body)
    out.print(f"official {official_id} added" + (f"; credential → {credential} (mode 0600)" if credential else ""),
              highlight=False)


@officials_app.command()
def grant(
    official_id: Annotated[str, typer.Argument(help="The official's id.")],
    role: _ROLES = None,
    act_for: _ACTS_FOR = None,
    db: DbOption = None,
) -> None:
    """Grant roles and/or delegations to an official (administrators only; audited)."""
    from procflow.privacy.credential import operator_official

    new = _run(db, lambda d: d.grant(operator_official(d), official_id, roles=role or (), acts_for=act_for or ()))
    _show(new)


@officials_app.command()
def revoke(
    official_id: Annotated[str, typer.Argument(help="The official's id.")],
    role: _ROLES = None,
    act_for: _ACTS_FOR = None,
    db: DbOption = None,
) -> None:
    """Revoke roles and/or delegations (administrators only; audited)."""
    from procflow.privacy.credential import operator_official

    new = _run(db, lambda d: d.revoke(operator_official(d), official_id, roles=role or (), acts_for=act_for or ()))
    _show(new)


@officials_app.command(name="import")
def import_(
    file: Annotated[Path, typer.Argument(help="Staff CSV: id,name,agency,roles[,valid_from,valid_to,acts_for].")],
    db: DbOption = None,
) -> None:
    """Load a province's staff from CSV: every row is checked first; any bad row stores nothing."""
    from procflow.privacy.credential import operator_official
    from procflow.privacy.staff_csv import read_staff_csv

    def body(directory: Directory) -> int:
        by = operator_official(directory)
        registry = directory.registry

        def known(code: str) -> bool:
            try:
                return registry is not None and bool(registry.agency(code))
            except (ProcflowError, KeyError):
                return False

        officials = read_staff_csv(file, agency_known=known, existing={o.id for o in directory.all()})
        directory.add(by, officials, action="officials:import")
        return len(officials)

    n = _run(db, body)
    out.print(f"{n} official(s) imported from {file.name}", highlight=False)


@officials_app.command(name="list")
def list_(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """List the directory (any operator of this store)."""
    from procflow.privacy.credential import operator_official

    def body(directory: Directory) -> list[Any]:
        operator_official(directory)
        return directory.all()

    officials = _run(db, body)
    if as_json:
        for o in officials:
            sys.stdout.write(json.dumps({"id": o.id, "name": o.name, "agency": o.agency, "roles": sorted(o.roles),
                                         "valid_from": o.valid_from and o.valid_from.isoformat(),
                                         "valid_to": o.valid_to and o.valid_to.isoformat(),
                                         "acts_for": sorted(o.acts_for), "operator": o.credential is not None},
                                        ensure_ascii=False) + "\n")
        return
    t = Table(title=f"Officials ({len(officials)})", title_justify="left")
    for col in ("id", "name", "agency", "roles", "valid", "acts for", "operator"):
        t.add_column(col)
    for o in officials:
        valid = "" if o.valid_from is None and o.valid_to is None else f"{o.valid_from or ''}…{o.valid_to or ''}"
        t.add_row(o.id, o.name, o.agency, ", ".join(sorted(o.roles)), valid, ", ".join(sorted(o.acts_for)),
                  "yes" if o.credential else "")
    out.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(officials_app, name="officials")
