"""What a dishonest but trusted sender can do to a hand-off: edit its history, recompute its (unkeyed) chain,
re-sign it with its real key — and how the tests see that the receiver changed nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from procflow.exchange import Envelope, PayloadEvent, dossier_event, envelope_tree, sign_envelope
from procflow.exchange.history import LINK_SCHEME, sealed_event
from procflow.privacy.hashchain import GENESIS, event_hash


def relinked(dossier_id: str, events: Sequence[PayloadEvent], personal: Mapping[str, str]) -> tuple[PayloadEvent, ...]:
    """The events with every chain link recomputed, as the sender's store would have chained them."""
    out, prev = [], GENESIS
    for p in events:
        link = event_hash(sealed_event(dossier_event(dossier_id, p), personal), prev)
        out.append(attrs.evolve(p, prev_link=prev.hex(), link=link.hex(), link_scheme=LINK_SCHEME))
        prev = link
    return tuple(out)


def forged(envelope: Envelope, edits: Sequence[Mapping[str, Any]], *, relink: bool, personal: Mapping[str, str],
           message_id: str, substitute: Mapping[str, str] = {}) -> Envelope:
    """``envelope`` with its events edited (``{"seq": n, "set": {attribute: value}}``; "" sets None), its
    snapshot made to agree with the forged history, and (``relink``) its chain recomputed."""
    payload = envelope.payload
    assert payload is not None
    events = list(payload.events)
    for edit in edits:
        i = int(edit["seq"]) - 1
        changes = {k: (None if v == "" else v.format(**substitute) if isinstance(v, str) else v)
                   for k, v in edit["set"].items()}
        events[i] = attrs.evolve(events[i], **changes)
    if relink:
        events = list(relinked(payload.dossier_id, events, personal))
    last = events[-1]
    payload = attrs.evolve(payload, events=tuple(events), state=last.to_state or payload.state,
                           custodian=last.custodian or payload.custodian)
    return attrs.evolve(envelope, message_id=message_id, payload=payload)


def signed(envelope: Envelope, keys: Any) -> bytes:
    return sign_envelope(envelope_tree(envelope), keys)


def fingerprint(path: str) -> str:
    """SHA-256 over the whole SQLite store (schema and every row of every table), read on its own connection."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
    finally:
        db.close()
