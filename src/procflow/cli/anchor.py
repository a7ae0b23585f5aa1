"""The anchored log on the command line (``procflow.privacy.anchor``): ``keys init``, the chain and checkpoint keys'
rotation, ``audit checkpoints take|list|export`` and the anchor part of ``audit verify``.

    procflow keys init --db site.db                    # key the event chain (HMAC) from now on
    procflow keys init --db site.db --checkpoint       # and sign checkpoints (nothing is ever made silently)
    procflow audit checkpoints take --db site.db       # a worker does this every 60 s and at shutdown
    procflow audit checkpoints export --db site.db --to /mnt/other-host/site.anchor.json
    procflow audit verify --db site.db --anchor /mnt/other-host/site.anchor.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from procflow.cli._common import DbOption, as_operator, require_db
from procflow.cli.privacy import JsonOption, KeysOption, _engine, _err, _fail, _out, audit_app, keys_app
from procflow.errors import ProcflowError
from procflow.privacy.directory import STORE_ADMIN_ROLE

__all__ = ["anchor_section", "register", "rotate_log_keys"]

checkpoints_app = typer.Typer(help="Signed checkpoints of every dossier's chain head (the log's anchor).",
                              no_args_is_help=True)


def _provider(db: str, keys: str | None) -> Any:
    """The key provider that may be given new log keys (only by the explicit commands here)."""
    from procflow.privacy.env_keys import default_key_provider
    from procflow.privacy.keys import FileKeyProvider

    return FileKeyProvider(keys) if keys else default_key_provider(db)


def _record(engine: Any, operator: Any, action: str, detail: str) -> None:
    """Key events go into the access audit's chain (so they are anchored and verify), under the operator whose
    credential ran the command."""
    from procflow.store.base import AuditEntry

    engine.store.record_audit(AuditEntry(at=datetime.now(UTC), actor=operator.id, agency=operator.agency,
                                         dossier_id=None, action=action, outcome="done", detail=detail,
                                         purpose="keys"))


def _new_key(provider: Any, kind: str) -> str:
    make = getattr(provider, "new_signing_key", None)
    if make is None or type(provider).__name__ == "EnvKeyProvider":
        _fail(f"this key provider ({provider!r}) cannot make keys: put a new 'id:base64' first in "
              f"PROCFLOW_{kind.upper()}_KEYS and restart")
    assert make is not None  # _fail exits
    return str(make(kind))


def _checkpoint(engine: Any, provider: Any, kind: str, detail: str) -> str:
    from procflow.privacy.checkpoint import take_checkpoint
    from procflow.privacy.keys import signing_keys

    if signing_keys(provider, "checkpoint")[0] is None:
        return ""
    row = take_checkpoint(engine.store, provider, kind=kind, detail=detail, force=True)
    return f"; checkpoint {row.seq} taken" if row is not None else ""


@keys_app.command("init")
def keys_init(
    db: DbOption = None,
    keys: KeysOption = None,
    checkpoint: Annotated[bool, typer.Option("--checkpoint", help="Also create the checkpoint signing key.")]
    = False,
) -> None:
    """Create the chain key (every new event's link is keyed from now on: the upgrade point, recorded in the
    audit chain) and, with --checkpoint, the checkpoint key. Refuses to replace a key (rotate instead)."""
    from procflow.privacy.keys import signing_keys

    provider = _provider(require_db(db), keys)
    made = []
    with _engine(db, keys) as engine:
        operator = as_operator(engine.store, "keys:init", role=STORE_ADMIN_ROLE, db=db)  # before any key is made
        try:
            if signing_keys(provider, "chain")[0] is None:
                kid = _new_key(provider, "chain")
                _record(engine, operator, "keys:chain-init", f"chain key {kid}: events are keyed (HMAC) from here on")
                made.append(f"chain key {kid}")
            if checkpoint and signing_keys(provider, "checkpoint")[0] is None:
                kid = _new_key(provider, "checkpoint")
                _record(engine, operator, "keys:checkpoint-init", f"checkpoint key {kid}")
                made.append(f"checkpoint key {kid}")
            if not made:
                _fail("the keys exist already (nothing was changed): `procflow keys rotate --chain` / "
                      "`--checkpoint` replaces them")
            taken = _checkpoint(engine, provider, "keys", "; ".join(made))
        except ProcflowError as exc:
            _fail(str(exc))
    _out.print(f"created {' and '.join(made)} in {provider!r}{taken}")
    if not taken:
        _out.print("[yellow]the log is not anchored yet[/]: add the checkpoint key with `procflow keys init "
                   "--checkpoint`")


def rotate_log_keys(db: str, keys: str | None, *, chain: bool, checkpoint: bool) -> None:
    """``procflow keys rotate --chain/--checkpoint``: a new active key; the old ones stay in the keyring to
    verify what they linked or signed. The rotation is recorded in the audit chain and checkpointed."""
    provider = _provider(db, keys)
    done = []
    with _engine(db, keys) as engine:
        operator = as_operator(engine.store, "keys:rotate", role=STORE_ADMIN_ROLE, db=db)  # before any key is made
        try:
            for kind, wanted in (("chain", chain), ("checkpoint", checkpoint)):
                if wanted:
                    kid = _new_key(provider, kind)
                    _record(engine, operator, f"keys:{kind}-rotate", f"{kind} key {kid} active")
                    done.append(f"{kind} key {kid}")
            taken = _checkpoint(engine, provider, "keys", "rotated " + "; ".join(done))
        except ProcflowError as exc:
            _fail(str(exc))
    _out.print(f"rotated: {', '.join(done)} now active (old keys kept to verify the past){taken}")


@checkpoints_app.command("take")
def checkpoints_take(db: DbOption = None, keys: KeysOption = None) -> None:
    """Take a checkpoint now (a worker takes one every 60 s and at shutdown)."""
    from procflow.privacy.checkpoint import take_checkpoint

    with _engine(db, keys, operator="checkpoints:take") as engine:
        try:
            row = take_checkpoint(engine.store, engine.vault.key_provider())
        except ProcflowError as exc:
            _fail(str(exc))
    if row is None:
        _out.print("nothing changed since the last checkpoint (or another worker is taking one)")
        return
    body = json.loads(row.body)
    _out.print(f"checkpoint {row.seq}: {body['dossiers']:,} dossier(s), {body['events']:,} event(s) anchored, "
               f"root {body['root'][:16]}…")


@checkpoints_app.command("list")
def checkpoints_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The checkpoint chain."""
    with _engine(db) as engine:
        rows = [json.loads(c.body) for c in engine.store.checkpoints()]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    for b in rows:
        _out.print(f"{b['seq']:>5} {b['at']} {b['kind']:<10} {b['dossiers']:>8,} dossier(s) root {b['root'][:16]}… "
                   f"key {b['key']}")
    if not rows:
        _out.print("no checkpoints yet")


@checkpoints_app.command("export")
def checkpoints_export(
    db: DbOption = None,
    to: Annotated[str, typer.Option("--to", help="File to write (mode 0600); keep it off this machine.")] = "",
) -> None:
    """Write the checkpoint chain and the latest anchored heads to a file to keep elsewhere."""
    from procflow.privacy.checkpoint import export_checkpoints

    if not to.strip():
        _fail("say where to write the checkpoints: --to FILE")
    if Path(to).is_dir():
        _fail(f"--to {to} is a directory: name a file")
    with _engine(db) as engine:
        try:
            n = export_checkpoints(engine.store, to)
        except OSError as exc:
            _fail(f"cannot write {to}: {exc}")
    if not n:
        _err.print("[yellow]warning:[/] no checkpoints yet: the file anchors nothing")
    _out.print(f"exported {n} checkpoint(s) to {to} (mode 0600)")


def anchor_section(engine: Any, anchor: str | None, dossiers: list[str] | None,
                   peers: Sequence[str] = ()) -> Any:
    """The anchor part of ``audit verify``: the report of :func:`procflow.privacy.anchor.verify_anchor`."""
    from procflow.privacy.anchor import load_anchor, verify_anchor

    try:
        doc = load_anchor(anchor) if anchor else None
        return verify_anchor(engine.store, engine.vault.key_provider(), engine.vault, anchor=doc,
                             dossier_ids=dossiers or None, peers=[load_anchor(p) for p in peers])
    except ProcflowError as exc:
        _fail(str(exc))


def print_anchor(report: Any) -> None:
    for w in report.warnings:
        _out.print(f"[yellow]warning[/]: {w}")
    if report.anchored:
        _out.print(f"anchored: checkpoint {report.checkpoint} ({report.checkpoint_at}) covers "
                   f"{report.anchored_dossiers:,} dossier(s); {report.not_anchored_events:,} event(s) in "
                   f"{len(report.not_anchored_dossiers):,} dossier(s) not yet anchored")
    _out.print(f"vault: {report.vault_entries:,} referenced entr{'y' if report.vault_entries == 1 else 'ies'} "
               f"checked; audit: {report.audit_rows:,} row(s)"
               + (f" ({report.audit_unchained:,} from before the audit was chained)" if report.audit_unchained else ""))
    if report.imported_events:
        _out.print(f"imported from other nodes: {report.imported_events:,} event(s); {report.provenance_checked:,} "
                   "checked against their sender's links"
                   + (f", {report.provenance_unchecked:,} keyed by their sender and vouched for by its signed "
                      "envelope (give its exported checkpoints with --peer-anchor to check them)"
                      if report.provenance_unchecked else ""))
    for k in report.peer_keys:
        _out.print(f"peer checkpoint key {k}: compare with the key its node published")
    for f in report.findings:
        _out.print(f"  {f}")


def register(app: typer.Typer) -> None:
    """Mount ``audit checkpoints`` (``keys init`` is on the keys app already)."""
    audit_app.add_typer(checkpoints_app, name="checkpoints")
