"""Imported history under keyed chains (issue 19): what a receiving node records when it imports a hand-off, and
what its ``audit verify`` can then check about the part of a log another node wrote.

The rule:

1. **The receiver links every imported event under its own chain key.** A sender's HMAC links are made with a key
   that never leaves the sender, so a receiver cannot check them; storing them would leave it a log it cannot
   verify. It checks their linkage and shape on import (``procflow.exchange.history.verify_links``), then links
   each event as its own engine does, continuing its own chain of the dossier. Its ``audit verify`` checks the
   imported events like any other: edited, re-chained without its key, cut or deleted after the import, they are
   caught (and anchored by its checkpoints from the next one on).
2. **The import point is recorded in the chain.** In the import's own transaction the receiver appends an
   ``exchange:import`` row to its access audit's chain (anchored by the checkpoints): message id, sender node,
   the seq range imported, the SHA-256 of the signed envelope, and the sender's links of those events. So the
   provenance cannot be dropped or edited without breaking the audit chain, and the sender's links are kept.
3. **What a receiver can verify about the sender's links**, at every ``audit verify``:

   * plain links (``sha256``): everything — each imported event, as stored here, must still hash to the link its
     sender carried (``import-altered`` otherwise). This holds even against someone with this node's chain key;
   * keyed links (``hmac-sha256``): their content only through the sender's own published verification material —
     the sender's exported, signed checkpoints (``procflow audit checkpoints export`` on the sender, handed over
     by an authenticated channel; ``audit verify --peer-anchor FILE``). Where the sender's checkpoint anchors
     an imported event, the link the envelope carried must be the link the sender's log holds (``import-unproven``
     otherwise: the sender sent a history its own log does not have). Other keyed links rest on the envelope's
     signature, which authenticated the sender when the history arrived; they are counted as such.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from procflow.privacy.hashchain import GENESIS, event_hash, is_keyed
from procflow.store.base import AuditEntry

__all__ = ["IMPORT_ACTION", "import_entry", "peer_heads", "verify_imports"]

IMPORT_ACTION = "exchange:import"


def import_entry(*, at: datetime, receiver: str, sender: str, message_id: str, dossier_id: str, first: int,
                 last: int, carried: Sequence[tuple[str | None, str | None]], envelope: bytes) -> AuditEntry:
    """The audit row recording an import: ``carried`` is the sender's ``(prev_link, link)`` (hex) of each imported
    event, ``first``..``last``; ``envelope`` the signed bytes as received (only their digest is kept)."""
    links = [link for _, link in carried]
    detail = {"message": message_id, "sender": sender, "first": first, "last": last,
              "envelope_sha256": hashlib.sha256(envelope).hexdigest(),
              "prev": carried[0][0] if carried and all(links) else None, "links": links if all(links) else None}
    return AuditEntry(at=at, actor=f"node:{sender}", agency=receiver, dossier_id=dossier_id, action=IMPORT_ACTION,
                      outcome="imported", detail=json.dumps(detail, sort_keys=True), purpose="handoff")


def peer_heads(doc: Mapping[str, Any]) -> dict[tuple[str, int], bytes]:
    """``(dossier, seq) → link`` anchored by a sender's exported checkpoints (already checked by the caller)."""
    return {(d, int(s)): bytes.fromhex(h) for d, s, h in doc["heads"]}


def verify_imports(store: Any, audit_rows: Iterable[Any], report: Any, finding: Any,
                   peers: Mapping[tuple[str, int], bytes] | None = None,
                   dossier_ids: set[str] | None = None) -> None:
    """Check every recorded import against the events stored now (see the module docstring); appends
    ``finding(dossier, kind, detail)`` to ``report.findings`` and counts into ``report``."""
    events: dict[str, list[Any]] = {}
    for row in audit_rows:
        e = row.entry
        if e.action != IMPORT_ACTION or e.dossier_id is None:
            continue
        did = e.dossier_id
        if dossier_ids is not None and did not in dossier_ids:
            continue
        try:
            rec = json.loads(e.detail)
            first, last, message = int(rec["first"]), int(rec["last"]), str(rec["message"])
            links = [bytes.fromhex(x) for x in rec["links"]] if rec.get("links") else None
            prev = bytes.fromhex(rec["prev"]) if rec.get("prev") else GENESIS
        except (ValueError, KeyError, TypeError) as exc:
            report.findings.append(finding(did, "import-record-altered",
                                           f"audit row {row.id} (an import) cannot be read: {exc}"))
            continue
        report.imported_events += last - first + 1
        log = events.setdefault(did, store.events(did))
        if len(log) < last:
            report.findings.append(finding(did, "import-missing", f"events {first}-{last} were imported in message "
                                           f"{message}; the log now ends at seq {len(log)}"))
            continue
        if links is None:  # the sender wrote them without chaining (a receiver that accepts unchained histories)
            report.provenance_unchecked += last - first + 1
            continue
        for seq, link in zip(range(first, last + 1), links, strict=False):
            ev = log[seq - 1]
            if not is_keyed(link):
                if event_hash(ev, prev) != link:
                    report.findings.append(finding(did, "import-altered", f"event {seq} no longer hashes to the link "
                                                   f"its sender {rec.get('sender')} carried in message {message}: "
                                                   "edited after the import"))
                    break
                report.provenance_checked += 1
            elif peers is not None and (did, seq) in peers:
                if peers[(did, seq)] != link:
                    report.findings.append(finding(did, "import-unproven", f"event {seq}: the sender's signed "
                                                   f"checkpoint anchors another link than message {message} carried: "
                                                   "the history sent is not the one the sender's log holds"))
                    break
                report.provenance_checked += 1
            else:
                report.provenance_unchecked += 1  # rests on the envelope's signature
            prev = link
