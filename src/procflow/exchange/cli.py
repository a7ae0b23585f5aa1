"""``procflow exchange ...``: check envelope files by hand, with the same code a node runs.

Mounted by the main CLI as ``procflow exchange``. Exit status 0 means accepted; 1 means rejected, with
``rejected [reason-code] message`` on stderr, so scripts can branch on the stable reason code.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from procflow.exchange.edxml import envelope_from_edxml_tree
from procflow.exchange.errors import EnvelopeRejected
from procflow.exchange.model import VN_TZ, Envelope
from procflow.exchange.parser import Limits, check_root, envelope_from_tree, is_procflow_profile, parse_xml
from procflow.exchange.schema import DS_NS, validate_tree
from procflow.exchange.signing import TrustStore
from procflow.exchange.verifier import MemoryReplayGuard, Verifier

__all__ = ["app"]

app = typer.Typer(help="Inter-agency XML envelopes (edXML, QCVN 102:2016): validate, inspect.")


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
    return "\n".join(lines)


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
