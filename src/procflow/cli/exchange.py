"""``procflow exchange ...``: envelopes by hand, with the same code a node runs.

Mounted by the main CLI as ``procflow exchange``:

* ``validate FILE`` checks an envelope (``--trust``/``--me``: everything a receiving node checks);
* ``export DOSSIER_ID --db … --keys DIR --to AGENCY --actor OFFICIAL@AGENCY`` writes the signed hand-off
  envelope of a dossier this node handed to an agency hosted elsewhere (the same message id as the outbox
  sends, so a receiver that gets both applies it once). An export is a read of every personal value: the
  acting official is checked and audited like ``inspect --unmask`` (``procflow.privacy.access``), the file is
  written owner-only (0600), and without an allowed official nothing is written;
* ``import FILE --db … --trust DIR --me AGENCY`` verifies and imports a hand-off;
* ``keys generate AGENCY… --dir DIR`` writes a test PKI (a self-signed key and certificate per agency).

Exit status 0 means accepted; 1 means rejected, with ``rejected [reason-code] message`` on stderr, so
scripts can branch on the stable reason code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from procflow.cli._common import DbOption, as_operator, fail, open_store_or_fail, require_db
from procflow.errors import ProcflowError
from procflow.exchange.edxml import envelope_from_edxml_tree
from procflow.exchange.errors import EnvelopeRejected
from procflow.exchange.model import VN_TZ, Envelope
from procflow.exchange.nodekeys import NodeKeys, TrustStore
from procflow.exchange.parser import Limits, check_root, envelope_from_tree, is_procflow_profile, parse_xml
from procflow.exchange.schema import DS_NS, validate_tree
from procflow.exchange.verifier import MemoryReplayGuard, Verifier

if TYPE_CHECKING:
    from procflow.dossier import Actor
    from procflow.engine.core import Engine

__all__ = ["app"]

app = typer.Typer(help="Inter-agency XML envelopes (edXML, QCVN 102:2016): validate, export, import.")
keys_app = typer.Typer(help="Test PKI for exchange nodes (a key and certificate per agency).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

ActorOption = Annotated[str | None, typer.Option(
    help="Export for this official (an id the officials directory delegates to the operator; default: the "
         "operator). The envelope carries every personal value, so the official must be allowed to read the "
         "dossier unmasked (role personal_data:unmask); checked and audited.")]
EXPORT_PURPOSE = "inter-agency hand-off (liên thông)"
VaultKeysOption = Annotated[
    str | None, typer.Option("--vault-keys", help="Personal-data vault keyring (default: beside the store).")
]


@app.callback()
def _exchange() -> None:
    """Inter-agency XML envelopes (edXML, QCVN 102:2016)."""


def _summary(envelope: Envelope, kind: str, signed: str) -> str:
    lines = [
        f"ok: {kind}",
        f"  message   {envelope.message_id}",
        f"  from      {envelope.sender.code} {envelope.sender.name}".rstrip(),
        f"  to        {', '.join(envelope.recipient_codes)}",
        f"  document  {envelope.document.document_id}",
        f"  created   {envelope.created_at.isoformat()}",
        f"  subject   {envelope.subject}",
        f"  signature {signed}",
    ]
    if envelope.payload is not None:
        p = envelope.payload
        lines.append(
            f"  dossier   {p.dossier_id} ({p.procedure_code} v{p.procedure_version}, state {p.state}, "
            f"{len(p.fields)} fields, {len(p.events)} events)"
        )
    for a in envelope.attachments:
        where = f"{len(a.content)} bytes inline" if a.content is not None else f"at {a.uri}"
        lines.append(f"  attached  {a.name} ({a.media_type}, {where}, sha256 {a.sha256[:16]}…)")
    from procflow.privacy.masking import mask_text

    return mask_text("\n".join(lines))  # the subject and names are the sender's text: IDs and phones masked


def _read(data: bytes, limits: Limits, source: str) -> tuple[Envelope, str, str]:
    root = parse_xml(data, limits=limits, source=source)
    check_root(root, source=source)
    key_name = root.findtext(f".//{{{DS_NS}}}Signature/{{{DS_NS}}}KeyInfo/{{{DS_NS}}}KeyName")
    has_signature = root.find(f".//{{{DS_NS}}}Signature") is not None
    signed = f"present, by {key_name or 'unnamed key'} (not verified: pass --trust)" if has_signature else "none"
    if is_procflow_profile(root):
        validate_tree(root, source=source)
        return envelope_from_tree(root, source=source), "procflow edXML profile, schema-valid", signed
    return envelope_from_edxml_tree(root, source=source), "foreign edXML (read leniently)", signed


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Envelope file.")],
    trust: Annotated[
        Path | None,
        typer.Option(help="Directory of {agency}.cert.pem files: also verify the signature and checks."),
    ] = None,
    me: Annotated[str | None, typer.Option(help="This node's agency code (required with --trust).")] = None,
    allow_unsigned_foreign: Annotated[bool, typer.Option(help="With --trust: accept unsigned foreign edXML.")] = False,
    max_bytes: Annotated[int, typer.Option(help="Size limit in bytes.")] = Limits().max_bytes,
    max_depth: Annotated[int, typer.Option(help="Nesting depth limit.")] = Limits().max_depth,
) -> None:
    """Check FILE: hardened parse, namespace, XSD (procflow profile) and model; with --trust, everything a
    receiving node checks (signature, signer, recipient, timestamp, digests)."""
    limits = Limits(max_bytes=max_bytes, max_depth=max_depth)
    source = str(file)
    data = file.read_bytes()
    try:
        if trust is not None:
            if not me:
                raise typer.BadParameter("--me is required with --trust", param_hint="--me")
            verifier = Verifier(
                TrustStore.load(trust),
                me,
                MemoryReplayGuard(),
                clock=lambda: datetime.now(VN_TZ),
                limits=limits,
                allow_unsigned_foreign=allow_unsigned_foreign,
            )
            envelope = verifier.verify(data, source=source)
            kind = "verified" + (" (procflow profile)" if envelope.payload is not None else " (edXML)")
            typer.echo(_summary(envelope, kind, f"valid, by {envelope.sender.code}"))
        else:
            envelope, kind, signed = _read(data, limits, source)
            typer.echo(_summary(envelope, kind, signed))
    except EnvelopeRejected as exc:
        typer.echo(f"rejected {exc}", err=True)
        raise typer.Exit(code=1) from exc


def _fail(message: str) -> NoReturn:
    fail(message, code=2)


@contextmanager
def _engine(db: str | None, vault_keys: str | None, *, create: bool = False,
            operator: tuple[str, str] | None = None) -> Iterator[Engine]:
    """The node's engine on ``db`` (never a schema upgrade: ``_common.open_store_or_fail``): its definitions,
    and on import (``create``) any bundled one the store does not hold yet, for a hand-off of a procedure this
    node has not run; an export needs none (the dossier's own version is stored with it) and writes none.
    ``create``: a node receiving its first hand-off may start from an empty store (its officials directory is
    set up first: ``procflow officials init``). ``operator`` (action, detail): the command writes, so it acts
    as the machine's operator (``_common.as_operator``), checked before anything is written."""
    from procflow.definition.reader import bundled_definitions
    from procflow.engine.core import Engine
    from procflow.privacy.keys import FileKeyProvider
    from procflow.privacy.vault import Vault

    db = require_db(db)
    store = open_store_or_fail(db, check_keys=False, create=create, code=2)
    try:
        vault = Vault(store, FileKeyProvider(vault_keys, create=False) if vault_keys else None, location=db)
        try:
            vault.check_keys()  # a store copied without its keyring: refused, never given a new keyring
        except ProcflowError as exc:
            _fail(str(exc))
        if operator is not None:
            as_operator(store, *operator)
        engine = Engine(store, vault=vault)
        if create:
            known = {(c, v) for c, v, _ in store.definition_sources()}
            for definition in bundled_definitions():
                if definition.key not in known:
                    engine.register(definition)
        yield engine
    finally:
        store.close()


@app.command()
def export(
    dossier_id: Annotated[str, typer.Argument(help="The dossier to hand off, e.g. 311.20.99.H92-260420-0001.")],
    keys: Annotated[Path, typer.Option(help="Directory of {agency}.key.pem / .cert.pem (this node's key).")],
    to: Annotated[str, typer.Option(help="Agency code of the receiving node.")],
    db: DbOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (default: stdout).")] = None,
    me: Annotated[str | None, typer.Option(help="This node's agency code (default: whoever handed the "
                                                "dossier over, when its key is in --keys).")] = None,
    trust: Annotated[Path | None, typer.Option(help="Member certificates (default: --keys).")] = None,
    vault_keys: VaultKeysOption = None,
    actor: ActorOption = None,
    purpose: Annotated[str, typer.Option(help="Why it is exported (recorded in the access audit).")]
    = EXPORT_PURPOSE,
) -> None:
    """Write the signed hand-off envelope of DOSSIER_ID for the node --to (personal values included), as the
    official --actor: checked and audited like an unmasked read."""
    from procflow.exchange.payload import handed_over_by
    from procflow.exchange.transfer import ExchangeNode

    with _engine(db, vault_keys) as engine:
        official = _principal(engine, actor, dossier_id, purpose)
        try:
            history = engine.history(dossier_id)
            if not history:
                _fail(f"dossier {dossier_id} has no events")
            sender = me or handed_over_by(history)
            key_file, cert_file = keys / f"{sender}.key.pem", keys / f"{sender}.cert.pem"
            if not key_file.exists() or not cert_file.exists():
                _fail(f"no key for {sender} in {keys} (pass --me with the agency code of this node)")
            node_keys = NodeKeys.load(sender, key_file, cert_file)
            custodian = engine.get(dossier_id).custodian
            node = ExchangeNode(engine, sender, keys=node_keys, trust=TrustStore.load(trust or keys),
                                directory={custodian: to} if custodian != sender else None)
            signed = node.export(dossier_id, to=to, actor=official, purpose=purpose)
        except EnvelopeRejected as exc:  # an envelope we would build is refused (text XML cannot carry)
            typer.echo(f"rejected {exc}", err=True)
            raise typer.Exit(code=1) from exc
        except ProcflowError as exc:
            _fail(str(exc))
    if output is None:
        sys.stdout.buffer.write(signed)
        sys.stdout.flush()
    else:
        from procflow.privacy.files import write_private

        write_private(output, signed)  # the envelope carries personal values: owner-only from the first byte
        typer.echo(f"wrote {output} ({len(signed):,} bytes): dossier {dossier_id} from {sender} to {to}", err=True)


def _principal(engine: Engine, actor: str | None, dossier_id: str, purpose: str) -> Actor:
    """The official an export acts for — the operator's credential, or an official it is delegated to act for
    (``procflow.privacy.credential.acting_actor``). Nobody identified: refused in one line, and the refusal audited."""
    from procflow.privacy.credential import acting_actor
    from procflow.store.base import AuditEntry

    try:
        return acting_actor(engine.directory, actor)
    except ProcflowError as exc:
        engine.store.record_audit(AuditEntry(at=engine.clock.now(), actor="(unidentified)", agency="",
                                             dossier_id=dossier_id, action="disclose:exchange",
                                             outcome="refused:NoActor", detail=str(exc), purpose=purpose))
        _fail(str(exc))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Envelope file.")],
    trust: Annotated[Path, typer.Option(help="Directory of {agency}.cert.pem files of member nodes.")],
    me: Annotated[str, typer.Option(help="This node's agency code (envelopes must be addressed to it).")],
    db: DbOption = None,
    host: Annotated[list[str] | None, typer.Option(help="Another agency this node hosts (repeatable).")] = None,
    vault_keys: VaultKeysOption = None,
) -> None:
    """Verify FILE and import the hand-off it carries into --db (once: a second import is "replayed")."""
    from procflow.exchange.transfer import ExchangeNode

    with _engine(db, vault_keys, create=True, operator=("exchange:import", file.name)) as engine:
        node = ExchangeNode(engine, me, trust=TrustStore.load(trust), hosts=host or ())
        try:
            received = node.receive(file.read_bytes(), source=str(file))
        except EnvelopeRejected as exc:
            typer.echo(f"rejected {exc}", err=True)
            raise typer.Exit(code=1) from exc
        except ProcflowError as exc:
            _fail(str(exc))
    d = received.dossier
    first, last = received.new_events[0].seq, received.new_events[-1].seq
    typer.echo(f"imported {received.envelope.message_id} from {received.envelope.sender.code}: dossier {d.id} "
               f"({'new to this node' if received.created else 'known here'}), events {first}-{last}, "
               f"state {d.state}, held by {d.custodian}")


@keys_app.command("generate")
def keys_generate(
    agencies: Annotated[list[str], typer.Argument(help="Agency codes, one key pair and certificate each.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to write {agency}.key.pem / .cert.pem.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace key files already there (re-keys "
                                                                "those nodes).")] = False,
) -> None:
    """Self-signed RSA-2048 test keys and certificates (real nodes use certificates issued to the agency)."""
    from procflow.exchange.keys import generate_test_pki

    try:
        generate_test_pki(agencies, directory, overwrite=overwrite)
    except ValueError as exc:
        _fail(str(exc))
    for code in agencies:
        typer.echo(f"{directory / (code + '.key.pem')}  {directory / (code + '.cert.pem')}")
