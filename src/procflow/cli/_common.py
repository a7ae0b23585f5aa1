"""What every ``procflow`` command module shares: the consoles, the one-line failure, the ``--db`` option
and opening the store it names.

A bad input ends in one line on stderr, never a traceback (the project's rule); the text is masked by
pattern because exception messages leave the engine for human eyes too. Every command but ``simulate``
(which owns its simulation store) reads the store from ``--db`` or ``$PROCFLOW_DB`` and says so in one line
when neither is given, instead of silently opening a store that happens to lie in the current directory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from procflow.clock import Clock
    from procflow.privacy.directory import Official
    from procflow.store.base import Store

__all__ = ["DB_ENV", "DbOption", "LazyGroup", "ReadableGroup", "as_operator", "err", "fail", "open_store_or_fail",
           "out", "require_db"]

# Not on a terminal (a pipe, a log file, a test), text lines are never wrapped — a line a script greps for stays
# one line — and tables are laid out for LOG_WIDTH columns (the access audit's eight columns fit).
LOG_WIDTH = 160
out = Console(width=None if sys.stdout.isatty() else LOG_WIDTH, soft_wrap=not sys.stdout.isatty())
err = Console(stderr=True, width=None if sys.stderr.isatty() else LOG_WIDTH, soft_wrap=not sys.stderr.isatty())

DB_ENV = "PROCFLOW_DB"
DbOption = Annotated[str | None, typer.Option(
    "--db", envvar=DB_ENV, metavar="STORE",
    help="Store: a SQLite path, sqlite:///path or postgresql://….")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: MESSAGE`` as one unwrapped line on stderr (personal data masked) and exit ``code``."""
    from procflow.privacy.masking import mask_text

    err.print(f"[bold red]error:[/] {mask_text(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def require_db(db: str | None) -> str:
    """The store named by ``--db`` / ``$PROCFLOW_DB``, or a one-line failure saying how to name one."""
    return _named(db, 1)


def _named(db: str | None, code: int) -> str:
    if db is None:
        fail(f"no store given: pass --db (a SQLite file or a postgresql:// URL) or set {DB_ENV}", code)
    if not db.strip():
        fail("--db is empty: name the store (a SQLite file or a postgresql:// URL)", code)
    return db


def open_store_or_fail(db: str | None, *, check_keys: bool = True, create: bool = False, code: int = 1) -> Store:
    """Open an existing store or fail in one line (exit ``code``). Never upgrades the schema, for readers and
    writers alike: opening takes no lock, and a store older than this procflow is refused in one line naming
    ``procflow db upgrade --db …`` with nothing changed — upgrading is the store administrator's explicit step
    (audited, role ``store:admin``), not a side effect of whichever command runs first after a deployment.
    ``check_keys`` refuses a store whose sealed values need a keyring that is not there, before anything is
    read or written, so it is never given new keys by accident; ``create`` lets a node that receives its first
    hand-off start from no store at all (a new SQLite file is created at this procflow's schema)."""
    from procflow.errors import ProcflowError
    from procflow.store.base import open_store

    db = _named(db, code)
    postgres = db.startswith(("postgresql://", "postgres://"))
    path = db.removeprefix("sqlite:///").removeprefix("sqlite://")
    if not create and not postgres and path != ":memory:" and not Path(path).exists():
        fail(f"no store at {db}", code)
    try:
        store = open_store(db, **({"migrate": False} if postgres else {"upgrade": False}))
    except ProcflowError as exc:
        fail(str(exc), code)
    if check_keys:
        from procflow.cli.safety import require_keys

        require_keys(store, db)
    return store


def as_operator(store: Store, action: str, detail: str = "", *, clock: Clock | None = None,
                record: bool = True, role: str | None = None, db: str | None = None,
                fix: str | None = None) -> Official:
    """The operator this machine's credential names (``procflow.privacy.credential``: ``PROCFLOW_OPERATOR_FILE``
    or the user's config directory, mode 0600), verified against the store's officials directory, with the
    command recorded in the audit table under their name (``cli:<action>``). A command that writes data or
    reads personal data calls this before it does anything; a missing, unreadable or invalid credential ends
    in one line (an invalid one is audited as refused). ``record=False``: a read-only command that must take
    no write lock (``audit access``) verifies the operator without writing. ``role``: a command that
    administers the whole store also needs this role (``STORE_ADMIN_ROLE``); without it, one line naming the
    ``procflow officials grant`` command for ``db`` (or ``fix``, where granting is not the fix), audited as
    refused, and nothing done."""
    from procflow.clock import SystemClock
    from procflow.errors import ProcflowError
    from procflow.privacy.credential import operator_official, require_role
    from procflow.privacy.directory import Directory
    from procflow.store.base import AuditEntry

    directory = Directory(store, clock if clock is not None else SystemClock())
    try:
        operator = operator_official(directory)
        if role is not None:
            require_role(directory, operator, role, action=f"cli:{action}", db=_shown(db), fix=fix)
    except ProcflowError as exc:
        fail(f"{action}: {exc}")
    if not record:
        return operator
    store.record_audit(AuditEntry(at=directory.clock.now(), actor=operator.id, agency=operator.agency,
                                  dossier_id=None, action=f"cli:{action}", outcome="allowed", detail=detail,
                                  purpose="command line"))
    return operator


def _shown(db: str | None) -> str | None:
    """``db`` as a command line may show it: a PostgreSQL URL without its password."""
    if db is None or not db.startswith(("postgresql://", "postgres://")):
        return db
    from procflow.store.pg_codec import redact

    return redact(db)


# -- readable help ------------------------------------------------------------------------------------------
# typer 0.2x labels each value with its Python type (``<str>``, ``<list[Path]>``, ``<bool>`` beside a flag).
# People read help, not annotations: values get the conventional upper-case words, flags none, enumerations
# their choices. ``ReadableGroup`` applies this to every command once the tree is built.
_TYPE_WORDS: dict[object, str] = {str: "TEXT", int: "INTEGER", float: "NUMBER", bool: "BOOLEAN", Path: "PATH"}


def _readable_type(param: object) -> str | None:
    from enum import Enum
    from typing import get_args, get_origin

    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        return None  # a flag takes no value
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if getattr(desc, "is_choice", False):
        choices = getattr(desc, "choices", None) or ()
        label = "[" + "|".join(str(c.value if isinstance(c, Enum) else c) for c in choices) + "]"
    else:
        label = _TYPE_WORDS.get(annotation, getattr(annotation, "__name__", "VALUE").upper())
    repeated = getattr(desc, "is_list", False) or getattr(param, "nargs", 1) != 1
    return label + ("..." if repeated else "")


def _relabel(params: list[Any]) -> list[Any]:
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _ReadableOption
        elif type(param) is TyperArgument:
            param.__class__ = _ReadableArgument
    return params


class _ReadableOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return self.metavar if self.metavar is not None else _readable_type(self)


class _ReadableArgument(TyperArgument):
    @property
    def display_name_raw(self) -> str:  # DOSSIER_ID in usage lines, help and errors, as click writes it
        return self.metavar if self.metavar is not None else (self.name or "").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return _readable_type(self)


class _ReadableCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:  # the help option is made here, on first use
        return _relabel(super().get_params(ctx))


class ReadableGroup(TyperGroup):
    """The root command group: built once per run, it relabels the parameters of the whole tree (older
    typer, which prints click's words already, never calls ``display_type_rich``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _readable_tree(self)

    def get_params(self, ctx: Any) -> list[Any]:
        return _relabel(super().get_params(ctx))


class LazyGroup(TyperGroup):
    """A command group whose module is imported only when the group itself runs (its commands, its help, a
    completion inside it). ``procflow --help`` lists it from the name and help it was mounted with, so a
    command that never touches it does not pay its imports (the XML exchange stack: lxml, signxml,
    cryptography's X.509 — about a third of the command line's start-up). A subclass names its group:
    ``target = "procflow.cli.exchange:app"`` (a ``typer.Typer``)."""

    target = ""

    def loaded(self) -> TyperGroup:
        """The real group, built once, under this group's name and help, relabelled like the rest of the tree."""
        found: TyperGroup | None = getattr(self, "_loaded", None)
        if found is None:
            import importlib

            module, _, attribute = self.target.partition(":")
            group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
            group.name, group.help = self.name, self.help or group.help
            if type(group) is TyperGroup:
                group.__class__ = ReadableGroup
            _readable_tree(group)
            found = self._loaded = group
        return found

    @property  # click keeps a dict here; this one reads through to the real group
    def commands(self) -> Any:
        """The real group's commands: code that walks the tree (the CLI convention tests) sees every command."""
        return self.loaded().commands

    @commands.setter
    def commands(self, value: Any) -> None:  # click's __init__ sets the (empty) dict of the placeholder
        pass

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        # click runs ``sub_ctx.command``: the context of the real group runs the real group (and completes in it)
        return self.loaded().make_context(info_name, args, parent=parent, **extra)


def _readable_tree(group: TyperGroup) -> None:
    for sub in getattr(group, "commands", {}).values():
        if type(sub) is TyperCommand:
            sub.__class__ = _ReadableCommand
        elif type(sub) is TyperGroup:
            sub.__class__ = ReadableGroup
            _readable_tree(sub)
