"""Personal-data commands: ``procflow audit access|verify``, ``procflow keys rotate|status``,
``procflow retention apply``, and the redacting log configuration of every ``procflow`` command.

    procflow audit access --db procflow-sim.db --dossier 311.20.99.H92-260420-0001
    procflow audit access --db procflow-sim.db --actor desk-officer
    procflow audit verify --db procflow-sim.db          # exit 1 and the first broken link when tampered
    procflow keys status --db procflow-sim.db
    procflow keys rotate --db procflow-sim.db --batch 500   # resumable: run it again after a crash
    procflow retention apply --db procflow-sim.db --now 2032-01-01 [--dry-run]

Keys: ``--keys FILE`` names a keyring file; by default ``PROCFLOW_VAULT_KEYS`` / ``PROCFLOW_KEYS_FILE`` or the
file beside a SQLite store (``procflow.privacy.env_keys.default_key_provider``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from typing import Annotated, Any

import typer
from rich.table import Table

from procflow.cli._common import DbOption, as_operator, err, fail, open_store_or_fail, out, require_db
from procflow.errors import ProcflowError
from procflow.officehours import local_time
from procflow.privacy.directory import STORE_ADMIN_ROLE
from procflow.privacy.masking import mask_text

__all__ = ["register"]

# The shared consoles and failure of every command (procflow.cli._common), under the names procflow.cli.anchor
# imports from here.
_out, _err = out, err

KeysOption = Annotated[str | None, typer.Option(
    "--keys", help="Keyring file (default: $PROCFLOW_VAULT_KEYS, $PROCFLOW_KEYS_FILE, or <db>.keys beside a SQLite "
                   "store).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run from a "
                                                              "terminal).")]

audit_app = typer.Typer(help="The access audit and the tamper-evident event log.", no_args_is_help=True)
keys_app = typer.Typer(help="Vault keys: status and rotation.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of personal data (anonymise closed dossiers past their period).",
                            no_args_is_help=True)


_fail = fail


@contextmanager
def _engine(db: str | None, keys: str | None = None, *, check_keys: bool = True, operator: str | None = None,
            record: bool = True, role: str | None = None) -> Iterator[Any]:
    """An engine on an existing store, opened without a schema upgrade (``_common.open_store_or_fail``).
    ``check_keys``: refuse a store whose sealed values need keys that are not available (never make new ones
    for it). ``operator``: the command (audited under that name) needs the operator's
    credential (``_common.as_operator``) — every command that writes data or shows personal data; ``role``: the
    role it needs besides (``STORE_ADMIN_ROLE`` for a command that administers the whole store)."""
    from procflow.engine.core import Engine
    from procflow.privacy.keys import FileKeyProvider
    from procflow.privacy.vault import Vault

    db = require_db(db)
    store = open_store_or_fail(db, check_keys=False)  # the keyring is checked below, with --keys
    try:
        vault = Vault(store, FileKeyProvider(keys, create=False) if keys else None, location=db)
        if check_keys:
            vault.check_keys()
        if operator is not None:
            as_operator(store, operator, record=record, role=role, db=db)
        yield Engine(store, vault=vault)
    except ProcflowError as exc:
        _fail(str(exc))
    finally:
        store.close()


# -- audit ----------------------------------------------------------------------------------------------------
@audit_app.command("access")
def audit_access(
    db: DbOption = None,
    dossier: Annotated[str | None, typer.Option(help="Only reads of this dossier.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this official (the id before the @).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Also refusals of writes and retention records, "
                                                           "not only reads.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Who read which dossier, when, for what purpose — and who was refused."""
    if dossier is None and actor is None:
        _fail("say whose accesses to show: --dossier ID and/or --actor ID")
    # who read what is itself not for everyone: the operator's credential, verified without a write (a read
    # takes no write lock)
    with _engine(db, operator="audit:access", record=False) as engine:
        rows = engine.store.audit(dossier_id=dossier, actor=actor)
    if not everything:
        rows = [r for r in rows if r.action.startswith(("read", "find:", "disclose:", "delegation"))]
    if as_json:
        sys.stdout.write(json.dumps([{"at": r.at.isoformat(), "actor": r.actor, "agency": r.agency,
                                      "dossier": r.dossier_id, "action": r.action, "outcome": r.outcome,
                                      "purpose": r.purpose, "detail": mask_text(r.detail)} for r in rows],
                                    ensure_ascii=False, indent=2) + "\n")
        return
    t = Table(title=f"Access audit ({len(rows)} entr{'y' if len(rows) == 1 else 'ies'})", title_justify="left")
    for col in ("at", "actor", "agency", "dossier", "action", "outcome", "purpose", "reason"):
        t.add_column(col)
    for r in rows:
        style = "red" if r.outcome.startswith("refused") else None
        t.add_row(local_time(r.at, "%Y-%m-%d %H:%M:%S"), r.actor, r.agency, r.dossier_id or "—", r.action, r.outcome,
                  r.purpose or "—", mask_text(r.detail), style=style)
    _out.print(t)


@audit_app.command("verify")
def audit_verify(
    db: DbOption = None,
    dossier: Annotated[list[str] | None, typer.Option(help="Only these dossiers (repeatable).")] = None,
    heads: Annotated[bool, typer.Option(help="Print each dossier's head hash (record them elsewhere to anchor "
                                             "the log).")] = False,
    allow_unchained: Annotated[bool, typer.Option(help="Accept events written with hash chaining switched off.")]
    = False,
    anchor: Annotated[str | None, typer.Option(help="An exported copy of the checkpoints (`procflow audit "
                                                    "checkpoints export`) to check the store against.")] = None,
    peer_anchor: Annotated[list[str] | None, typer.Option(help="Another node's exported checkpoints, to check the "
                                                          "history it handed over against (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every dossier's hash chain and snapshot, the vault entries they reference, the access audit's
    chain, and every dossier against the latest signed checkpoint; exit 1 naming dossier and kind of each
    finding."""
    from procflow.cli.anchor import anchor_section, print_anchor
    from procflow.privacy.anchor import chain_keys_of
    from procflow.privacy.hashchain import verify

    with _engine(db) as engine:
        if dossier:
            known = set(engine.store.dossier_ids())
            unknown = [d for d in dossier if d not in known and not engine.store.events(d)]
            if unknown:
                _fail(f"no dossier {unknown[0]!r} in this store: nothing to verify"
                      + (f" (and {len(unknown) - 1} more unknown)" if len(unknown) > 1 else ""))
        chain_keys = chain_keys_of(engine.vault.key_provider())
        report = verify(engine.store, dossier or None, allow_unchained=allow_unchained, keys=chain_keys or None)
        anchored = anchor_section(engine, anchor, dossier, peer_anchor or [])
    if as_json:
        doc = report.to_dict()
        doc["ok"] = report.ok and anchored.ok
        doc["anchor"] = anchored.to_dict()
        if heads:
            doc["heads"] = report.heads
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        raise typer.Exit(0 if report.ok and anchored.ok else 1)
    if heads:
        for did, h in sorted(report.heads.items()):
            _out.print(f"{did} {h}")
    extra = f", {report.unchained} written without hash chaining" if report.unchained else ""
    if report.keyed < report.events:
        extra += f", {report.events - report.keyed:,} with unkeyed links (from before `procflow keys init`)"
    if report.unchecked:
        extra += f", {report.unchecked:,} keyed links not checked (the chain key is not in this keyring)"
    print_anchor(anchored)
    if report.ok and anchored.ok:
        _out.print(f"[green]ok[/]: {report.dossiers:,} dossier(s), {report.events:,} event(s): every chain intact "
                   f"and every snapshot equals its replay{extra}")
        return
    if report.ok:
        _out.print(f"[bold red]TAMPERED[/]: {len(anchored.findings)} finding(s) against the anchor, the vault or "
                   "the audit (above)")
        raise typer.Exit(1)
    _out.print(f"[bold red]TAMPERED[/]: {len(report.breaks)} of {report.dossiers:,} dossier(s) broken{extra}; "
               f"first broken link:")
    for b in report.breaks:
        _out.print(f"  {b}")
    raise typer.Exit(1)


# -- keys -----------------------------------------------------------------------------------------------------
@keys_app.command("status")
def keys_status(db: DbOption = None, keys: KeysOption = None) -> None:
    """Which keys the store needs (the ids that sealed its values), which are present, and their use."""
    with _engine(db, keys, check_keys=False) as engine:
        vault = engine.vault
        needed = vault.needed_key_ids()
        present = vault.present_key_ids()
        where = vault._provider_description()
        missing = sorted(set(needed) - set(present))
        usage = vault.key_usage() if not missing else {}
        active = vault.keys.active_key_id() if present and not missing else None
        from procflow.privacy.keys import signing_keys

        log_keys = {kind: signing_keys(vault.key_provider(), kind) for kind in ("chain", "checkpoint")}
    _out.print(f"keys: {where}")
    for kind, (log_active, known) in log_keys.items():
        _out.print(f"  {kind} key: " + (f"{log_active} (active)" + (f", {len(known) - 1} older kept to verify the "
                                                                     "past" if len(known) > 1 else "")
                                        if log_active else "none (`procflow keys init"
                                        + (" --checkpoint" if kind == "checkpoint" else "") + "`)"))
    _out.print(f"  needed by the store: {', '.join(needed) or 'none (no sealed values yet)'}")
    _out.print(f"  present: {', '.join(present) or 'none'}" + (f" · active {active}" if active else ""))
    if missing:
        _out.print(f"  [bold red]missing: {', '.join(missing)}[/] — values sealed with them cannot be opened; restore "
                   "this store's keyring (`procflow restore`) or point PROCFLOW_KEYS_FILE / --keys at it")
        raise typer.Exit(1)
    for kid, n in usage.items():
        mark = " (active)" if kid == active else " [yellow](rotation pending: run `procflow keys rotate`)[/]"
        _out.print(f"  {kid}: {n:,} value(s){mark}")
    if not usage:
        _out.print("  the vault holds no values")


@keys_app.command("rotate")
def keys_rotate(
    db: DbOption = None,
    keys: KeysOption = None,
    batch: Annotated[int, typer.Option(min=1, help="Values re-encrypted per transaction.")] = 500,
    retire: Annotated[bool, typer.Option(help="Remove the old keys from the keyring once nothing uses them (after "
                                              "a grace period longer than any process's keyring refresh).")]
    = False,
    dry_run: Annotated[bool, typer.Option(help="Only say what a rotation would re-encrypt.")] = False,
    chain: Annotated[bool, typer.Option("--chain", help="Rotate the event chain's HMAC key instead.")] = False,
    checkpoint: Annotated[bool, typer.Option("--checkpoint", help="Rotate the checkpoint signing key instead.")]
    = False,
    yes: YesOption = False,
) -> None:
    """Make a new key active and re-encrypt every value in batches; run again to resume after a crash.
    With --chain / --checkpoint: a new log key (old ones kept to verify the past; nothing is re-encrypted)."""
    from procflow.cli.safety import confirm_destructive

    if chain or checkpoint:
        from procflow.cli.anchor import rotate_log_keys

        rotate_log_keys(require_db(db), keys, chain=chain, checkpoint=checkpoint)
        return
    if dry_run:
        with _engine(db, keys) as engine:
            usage = engine.vault.key_usage()
        _out.print(f"would re-encrypt {sum(usage.values()):,} value(s) under {', '.join(usage) or 'no key'} with a "
                   "new key" + ("; then retire the old keys" if retire else "") + "; nothing was changed")
        return
    confirm_destructive(f"re-encrypt every personal value of {db} with a new key"
                        + (" and delete the old keys from the keyring" if retire else ""), yes=yes)
    with _engine(db, keys, operator="keys:rotate", role=STORE_ADMIN_ROLE) as engine:
        report = engine.vault.rotate(batch_size=batch, retire=retire,
                                     on_batch=lambda b, n: _err.print(f"  batch {b}: {n:,} value(s)")
                                     if _err.is_terminal else None)
    how = "new key" if report.started else "resumed rotation to key"
    _out.print(f"{how} {report.active}: re-encrypted {report.rotated:,} value(s) in {report.batches} batch(es); "
               f"{report.remaining:,} remain under older keys"
               + (f"; retired {', '.join(report.retired)}" if report.retired else ""))
    if report.remaining:
        raise typer.Exit(1)


# -- retention ------------------------------------------------------------------------------------------------
@retention_app.command("apply")
def retention_apply(
    db: DbOption = None,
    keys: KeysOption = None,
    now: Annotated[str | None, typer.Option(help="Apply as of this day (YYYY-MM-DD; default today).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be anonymised.")] = False,
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Anonymise the personal data of closed dossiers past their procedure's retention_years (and of liên thông
    bundles whose members all are)."""
    from procflow.cli.safety import confirm_destructive
    from procflow.privacy.retention import apply_retention

    day = None
    if now is not None:
        try:
            day = datetime.fromisoformat(now).date()
        except ValueError:
            _fail(f"--now: expected YYYY-MM-DD, got {now!r}")
        assert day is not None
        if not 2000 <= day.year <= 2100:
            _fail(f"--now: {now} is outside the years procflow counts (2000–2100)")
    confirm_destructive(f"erase the personal data of the closed dossiers in {db} that are past their retention "
                        "period", yes=yes, dry_run=dry_run)
    with _engine(db, keys, operator=None if dry_run else "retention:apply", role=STORE_ADMIN_ROLE) as engine:
        at = None if day is None else datetime.combine(day, time(23, 59), engine.calendar.tz)
        report = apply_retention(engine, now=at, dry_run=dry_run)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    verb = "would anonymise" if dry_run else "anonymised"
    _out.print(f"retention as of {report.now:%Y-%m-%d}: {report.checked:,} dossier(s) checked; {verb} "
               f"{len(report.anonymised):,}; kept {report.kept_open:,} open, {report.kept_in_period:,} within their "
               f"period, {report.no_period:,} whose procedure sets no retention_years")
    for a in report.anonymised:
        _out.print(f"  {a.dossier_id} ({a.procedure}): closed {a.closed_at:%Y-%m-%d}, {a.retention_years} year(s)"
                   + (f", {a.erased} value set(s) erased" if not dry_run else ""))
    if report.bundles_anonymised or report.bundles_kept or report.bundles_unresolved:
        _out.print(f"liên thông bundles holding personal data: {verb} {len(report.bundles_anonymised):,}; kept "
                   f"{report.bundles_kept:,} whose members are not all closed and past their period, "
                   f"{len(report.bundles_unresolved):,} whose members this store does not record")
    for b in report.bundles_anonymised:
        _out.print(f"  {b.bundle_id} (members {', '.join(b.members)}): last expired {b.expired_at:%Y-%m-%d}"
                   + (f", {b.erased} value set(s) erased" if not dry_run else ""))
    for bundle_id in report.bundles_unresolved:
        _out.print(f"  {bundle_id}: kept, members unknown (its first member has expired)")


def register(app: typer.Typer) -> None:
    """Mount ``audit``, ``keys`` and ``retention``."""
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    app.add_typer(retention_app, name="retention")
