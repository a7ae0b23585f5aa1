"""Anchored, keyed log (issue 19): signed checkpoints of every dossier's chain head, and the checks
``procflow audit verify`` makes against them.

Why: a plain hash chain only proves that a log is self-consistent. Someone who can write the database can
delete a whole dossier, cut the tail of a log and roll the snapshot back, or recompute every link. So:

* each event's link is keyed (HMAC with the chain key, ``procflow.privacy.hashchain``), held outside the database
  by the key provider (``procflow.privacy.keys``): without the key a re-chained log does not verify;
* every ``interval`` seconds (and at shutdown) the worker takes a checkpoint: the heads ``(dossier, seq,
  head)`` of all dossiers go to ``anchor_heads`` (kept after a dossier disappears), their running SHA-256
  (the root) and the access audit's chain head go into a checkpoint, which links to the previous one and is
  signed (Ed25519) with the checkpoint key. One worker is the leader on PostgreSQL (an advisory lock);
* the checkpoints are exported to a second place (``procflow audit checkpoints export``): a copy that the
  database administrator cannot roll back, verifiable with the public key it carries;
* ``verify`` checks every anchored dossier against the latest checkpoint (deleted, truncated, re-chained),
  every vault row an event references (present, decrypts — so bound to its dossier and seq — and erased
  only where the audit chain records a retention erasure), the audit chain itself, and reports the events
  written since the checkpoint as not yet anchored. Without a checkpoint key it says "unanchored".

Nothing here is created silently: no checkpoint key, no checkpoint (``procflow keys init --checkpoint``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from procflow.privacy.checkpoint import (
    CHECKPOINT_INTERVAL,
    AnchorUnavailable,
    Checkpointer,
    export_checkpoints,
    heads_root,
    load_anchor,
    take_checkpoint,
)
from procflow.privacy.hashchain import GENESIS, audit_link, is_keyed, key_fingerprint
from procflow.privacy.keys import signing_keys
from procflow.privacy.provenance import peer_heads, verify_imports
from procflow.privacy.sealed import ERASED, MARKER, parse_ref
from procflow.privacy.vault import VaultError
from procflow.store.base import AuditChainRow

__all__ = [
    "CHECKPOINT_INTERVAL",
    "AnchorReport",
    "AnchorUnavailable",
    "Checkpointer",
    "Finding",
    "chain_keys_of",
    "export_checkpoints",
    "heads_root",
    "load_anchor",
    "take_checkpoint",
    "verify_anchor",
]

RETENTION = "retention:anonymise"


@attrs.frozen
class Finding:
    """One thing the anchor check found: which dossier (or ``*audit*`` / ``*checkpoints*``), what kind."""

    dossier_id: str
    kind: str  # deleted | truncated | rechained | vault-missing | vault-altered | vault-erased | audit-* | checkpoint-*
    #           | import-altered | import-unproven | import-missing | import-record-altered (privacy.provenance)
    detail: str

    def __str__(self) -> str:
        return f"dossier {self.dossier_id}: {self.kind} — {self.detail}"


@attrs.define
class AnchorReport:
    anchored: bool = False  # the store has a checkpoint key and a valid checkpoint
    checkpoint: int | None = None  # seq of the latest checkpoint checked against
    checkpoint_at: str | None = None
    anchored_dossiers: int = 0
    not_anchored_events: int = 0  # events written after the latest checkpoint
    not_anchored_dossiers: list[str] = attrs.field(factory=list)
    vault_entries: int = 0
    audit_rows: int = 0
    audit_unchained: int = 0  # rows written before the audit was chained
    imported_events: int = 0  # events other nodes handed over (procflow.privacy.provenance)
    provenance_checked: int = 0  # of them, checked against their sender's link (re-hashed, or its checkpoints)
    provenance_unchecked: int = 0  # keyed sender links with no sender checkpoint at hand: the envelope vouched
    peer_keys: list[str] = attrs.field(factory=list)  # "key id public-key-hex" of each --peer-anchor's signer
    findings: list[Finding] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "anchored": self.anchored, "checkpoint": self.checkpoint,
                "checkpoint_at": self.checkpoint_at, "anchored_dossiers": self.anchored_dossiers,
                "not_anchored_events": self.not_anchored_events, "vault_entries": self.vault_entries,
                "audit_rows": self.audit_rows, "audit_unchained": self.audit_unchained,
                "imported_events": self.imported_events, "provenance_checked": self.provenance_checked,
                "provenance_unchecked": self.provenance_unchecked, "peer_keys": self.peer_keys,
                "findings": [attrs.asdict(f) for f in self.findings], "warnings": self.warnings}


# -- keys --------------------------------------------------------------------------------------------------
def chain_keys_of(provider: object) -> dict[bytes, bytes]:
    """Every chain key the provider holds, by the 8-byte fingerprint a keyed link carries."""
    return {key_fingerprint(kid): key for kid, key in signing_keys(provider, "chain")[1].items()}


def _public_keys(provider: object) -> dict[str, bytes]:
    out = {}
    for kid, seed in signing_keys(provider, "checkpoint")[1].items():
        pub = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        out[kid] = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return out


# -- verification -------------------------------------------------------------------------------------------
def _check_chain(rows: list[tuple[str, bytes, bytes]], trusted: Mapping[str, bytes],
                 report: AnchorReport, where: str) -> list[dict[str, Any]]:
    """The valid prefix of a checkpoint chain given as (body, digest, signature); findings for the rest."""
    good: list[dict[str, Any]] = []
    prev = GENESIS
    for body, digest, sig in rows:
        b = json.loads(body)
        problem = None
        if hashlib.sha256(body.encode()).digest() != digest:
            problem = "its body does not match its digest"
        elif bytes.fromhex(b["prev"]) != prev:
            problem = "it does not link to the checkpoint before it (one was removed or replaced)"
        elif b["key"] not in trusted or trusted[b["key"]].hex() != b["public_key"]:
            problem = f"signed with checkpoint key {b['key']}, which this keyring / anchor file does not hold"
        else:
            try:
                Ed25519PublicKey.from_public_bytes(trusted[b["key"]]).verify(sig, digest)
            except InvalidSignature:
                problem = "its signature does not verify"
        if problem is not None:
            report.findings.append(Finding("*checkpoints*", "checkpoint-forged",
                                           f"{where} checkpoint {b.get('seq')}: {problem}"))
            break
        good.append({**b, "digest": digest})
        prev = digest
    return good


def _verify_audit(store: Any, report: AnchorReport, latest: dict[str, Any] | None) -> list[Any]:
    try:
        rows = store.audit_chain()
    except Exception as exc:  # a dropped table: the backend's own error, whatever it is
        report.findings.append(Finding("*audit*", "audit-deleted", f"the access audit cannot be read ({exc})"))
        return []
    report.audit_rows = len(rows)
    prev, seen = GENESIS, False
    chained: list[AuditChainRow] = []
    for r in rows:
        if r.hash is None:
            if seen:
                report.findings.append(Finding(r.entry.dossier_id or "*audit*", "audit-unchained",
                                               f"audit row {r.id} has no link after chained rows"))
                return chained
            report.audit_unchained += 1
            continue
        seen = True
        e = r.entry
        if r.prev_hash != prev:
            report.findings.append(Finding(e.dossier_id or "*audit*", "audit-deleted",
                                           f"audit row {r.id} does not link to the row before it: rows were "
                                           "deleted"))
            return chained
        if audit_link(prev, e.at, e.actor, e.agency, e.dossier_id, e.action, e.outcome, e.detail,
                      e.purpose) != r.hash:
            report.findings.append(Finding(e.dossier_id or "*audit*", "audit-edited",
                                           f"audit row {r.id} no longer matches its hash"))
            return chained
        chained.append(r)
        prev = r.hash
    if latest is not None:
        count, head = latest["audit"]
        if count and (len(chained) < count or chained[count - 1].hash.hex() != head):
            report.findings.append(Finding("*audit*", "audit-truncated",
                                           f"checkpoint {latest['seq']} anchored {count} audit rows; the store's "
                                           f"chain has {len(chained)} intact (rows or the table were deleted)"))
    return chained


def _verify_vault(store: Any, vault: Any, did: str, events: list[Any], snapshot: Any, erased_ok: bool,
                  report: AnchorReport) -> None:
    wanted: dict[int, str] = {}
    sources = [(e.seq, e.effects) for e in events] + ([(None, snapshot.data)] if snapshot is not None else [])
    for seq, data in sources:
        for field, value in (data or {}).items():
            if type(value) is dict and MARKER in value:
                rdid, rseq, _ = parse_ref(value)
                if rdid != did or (seq is not None and rseq > seq):
                    report.findings.append(Finding(did, "vault-misbound", f"{field} refers to {rdid}/{rseq}, "
                                                   "not to an entry of this dossier written so far"))
                    continue
                wanted.setdefault(rseq, field)
    if not wanted:
        return
    found = {seq: (kid, blob) for seq, kid, blob in store.vault_values(did, sorted(wanted))}
    for seq, field in sorted(wanted.items()):
        report.vault_entries += 1
        if seq not in found:
            report.findings.append(Finding(did, "vault-missing", f"vault entry {did}/{seq} ({field}) is gone"))
            continue
        kid, blob = found[seq]
        if blob is None or kid == ERASED:
            if not erased_ok:
                report.findings.append(Finding(did, "vault-erased", f"vault entry {did}/{seq} ({field}) is erased "
                                               "but no retention erasure is recorded in the audit chain"))
            continue
        try:
            vault.open_entry(did, seq, kid, blob)
        except (VaultError, ValueError) as exc:
            report.findings.append(Finding(did, "vault-altered", f"vault entry {did}/{seq} ({field}): {exc}"))


def _peer_heads(peers: Iterable[Mapping[str, Any]], report: AnchorReport) -> dict[tuple[str, int], bytes]:
    """The heads other nodes' exported checkpoints anchor (``audit verify --peer-anchor``): each export's chain
    must verify under the key it carries (whose fingerprint the report shows, to compare with the one the
    sender published) and its heads must match its latest root."""
    out: dict[tuple[str, int], bytes] = {}
    for doc in peers:
        rows = [(c["body"], bytes.fromhex(c["digest"]), bytes.fromhex(c["signature"])) for c in doc["checkpoints"]]
        carried = {b["key"]: bytes.fromhex(b["public_key"]) for b in (json.loads(c[0]) for c in rows)}
        good = _check_chain(rows, carried, report, "peer")
        if len(good) != len(rows) or not good:
            continue
        heads = [(d, int(s), bytes.fromhex(h)) for d, s, h in doc["heads"]]
        if heads_root(heads).hex() != good[-1]["root"]:
            report.findings.append(Finding("*peer-anchor*", "anchor-heads-altered", "a --peer-anchor file's heads "
                                           "do not match its latest checkpoint's root"))
            continue
        report.peer_keys += [f"{kid} {pub.hex()}" for kid, pub in carried.items()]
        out.update(peer_heads(doc))
    return out


def verify_anchor(store: Any, provider: object, vault: Any, *, anchor: Mapping[str, Any] | None = None,
                  dossier_ids: Iterable[str] | None = None, peers: Iterable[Mapping[str, Any]] = ()
                  ) -> AnchorReport:
    """Check the store against its latest checkpoint (and ``anchor``, an exported copy), and what other nodes
    handed over against what they carried (and ``peers``, their exported checkpoints); never writes."""
    report = AnchorReport()
    trusted = _public_keys(provider)
    exported: list[dict[str, Any]] = []
    if anchor is not None:
        for c in anchor["checkpoints"]:
            b = json.loads(c["body"])
            trusted.setdefault(b["key"], bytes.fromhex(b["public_key"]))
        exported = _check_chain([(c["body"], bytes.fromhex(c["digest"]), bytes.fromhex(c["signature"]))
                                 for c in anchor["checkpoints"]], trusted, report, "exported")
    stored = _check_chain([(c.body, c.digest, c.signature or b"") for c in store.checkpoints()], trusted, report,
                          "stored")
    by_seq = {c["seq"]: c for c in stored}
    for c in exported:
        mine = by_seq.get(c["seq"])
        if mine is None:
            report.findings.append(Finding("*checkpoints*", "checkpoint-rolled-back",
                                           f"exported checkpoint {c['seq']} ({c['at']}) is not in the store"))
            break
        if mine["digest"] != c["digest"]:
            report.findings.append(Finding("*checkpoints*", "checkpoint-replaced",
                                           f"checkpoint {c['seq']} differs from the exported copy"))
            break
    heads: list[tuple[str, int, bytes]] = store.anchor_heads()
    latest = stored[-1] if stored else None
    if exported and (latest is None or exported[-1]["seq"] > latest["seq"]):
        latest = exported[-1]
        heads = [(d, int(s), bytes.fromhex(h)) for d, s, h in anchor["heads"]] if anchor else heads
    elif exported and exported[-1]["seq"] == (latest or {}).get("seq") and anchor:
        heads = [(d, int(s), bytes.fromhex(h)) for d, s, h in anchor["heads"]]
    if latest is None:
        if not trusted:
            report.warnings.append("unanchored: this store has no checkpoint key, so deleted dossiers, cut logs and "
                                   "re-chained logs cannot be told from real ones; create one with `procflow keys "
                                   "init --checkpoint` and run a worker (or `procflow audit checkpoints take`)")
        else:
            report.warnings.append("unanchored: no checkpoint taken yet (run a worker, or `procflow audit "
                                   "checkpoints take`)")
        heads = []
    else:
        report.anchored = True
        report.checkpoint, report.checkpoint_at = latest["seq"], latest["at"]
        if heads_root(heads).hex() != latest["root"]:
            report.findings.append(Finding("*anchor-heads*", "anchor-heads-altered",
                                           f"the anchored heads no longer match checkpoint {latest['seq']}'s root "
                                           "(compare with an exported copy: `audit verify --anchor FILE`)"))
    audit = _verify_audit(store, report, latest)
    erased = {r.entry.dossier_id for r in audit if r.entry.action == RETENTION}
    anchored = {d: (s, h) for d, s, h in heads}
    keyed_from_checkpoint = latest.get("chain_key") if latest is not None else None
    wanted = None if dossier_ids is None else set(dossier_ids)
    known = set(store.dossier_ids())
    for did in sorted(known | set(anchored) | set(store.logged_dossier_ids())):
        if wanted is not None and did not in wanted:
            continue
        events = store.events(did)
        snapshot = store.get(did) if did in known else None
        if did in anchored:
            seq, head = anchored[did]
            report.anchored_dossiers += 1
            if not events and snapshot is None:
                report.findings.append(Finding(did, "deleted", f"anchored at seq {seq} by checkpoint "
                                               f"{latest['seq'] if latest else '?'}, now gone from the store"))
                continue
            if len(events) < seq or events[seq - 1].seq != seq:
                report.findings.append(Finding(did, "truncated", f"anchored at seq {seq}, the log now ends at "
                                               f"seq {events[-1].seq if events else 0}"))
            elif events[seq - 1].hash != head:
                report.findings.append(Finding(did, "rechained", f"event {seq} no longer carries the anchored "
                                               "head: the log was rewritten and re-chained"))
            if len(events) > seq:
                report.not_anchored_events += len(events) - seq
                report.not_anchored_dossiers.append(did)
        else:
            seq = 0
            if events:
                report.not_anchored_events += len(events)
                report.not_anchored_dossiers.append(did)
        if keyed_from_checkpoint:  # the upgrade point: every event after the checkpoint must be keyed
            late = next((e for e in events[seq:] if not is_keyed(e.hash)), None)
            if late is not None:
                report.findings.append(Finding(did, "unkeyed", f"event {late.seq} was written after checkpoint "
                                               f"{latest['seq'] if latest else '?'} (taken with chain key "
                                               f"{keyed_from_checkpoint}) without a keyed link: forged or re-chained "
                                               "without the key"))
        _verify_vault(store, vault, did, events, snapshot, did in erased, report)
    verify_imports(store, audit, report, Finding, peers=_peer_heads(peers, report), dossier_ids=wanted)
    return report
