"""Tamper-evident event log: each event carries the hash of its dossier's previous event and of itself.

``hash = SHA-256(prev_hash ‖ content)`` (32 bytes, stored as a BLOB), where ``content`` is an
unambiguous, version-stable encoding (``ascii()`` of a tuple, then the effects JSON) of everything the
event says: dossier, seq, instant (integer microseconds since the epoch, so the time zone a backend reads
it back in does not matter), kind, trigger, states, status, actor, agency, custodian, definition version,
note and effects (canonical JSON). The first event of a dossier links to :data:`GENESIS`.

Personal values are not in the events — their ``effects`` hold vault references — so retention erasing a
value and key rotation re-encrypting it never touch a hashed byte: the chain stays intact.

``verify`` walks every dossier's events and reports, per dossier, the FIRST broken link:

* an edited event: its hash no longer matches its content;
* a deleted event: a gap in ``seq`` and a ``prev_hash`` that names no surviving event (a deleted last
  event shows as a log that ends before the snapshot's revision);
* reordered events: seq numbers swapped, so hashes and links no longer match;
* an inserted event: a link that does not match, or a log that runs past the snapshot's revision;
* a snapshot that no longer equals the replay of its events;
* an event without a hash (unless the store was written with chaining off and ``allow_unchained``).

Keyed links (issue 19): once the keyring holds a chain key (``procflow keys init``), each new link is
``0x01 ‖ key fingerprint (8 bytes) ‖ HMAC-SHA256(chain key, prev_hash ‖ content)`` (41 bytes), so someone
who can write the database but does not hold the key cannot recompute a chain; the fingerprint names the
key, so rotated keys keep verifying what they linked. Older, unkeyed links (32 bytes) still verify; an
unkeyed link after a keyed one, or written after the store's upgrade point (``keyed_since``), is a break.
The heads of all chains are anchored by signed checkpoints (``procflow.privacy.anchor``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from procflow.dossier import Dossier, DossierEvent, replay
from procflow.jsontext import effects_text_of

__all__ = ["GENESIS", "KEYED", "Break", "ChainKey", "VerifyReport", "audit_link", "chain_event", "chain_key",
           "event_content", "event_hash", "head_of", "is_keyed", "key_fingerprint", "link", "verify", "verify_dossier"]

GENESIS = bytes(32)  # what the first event of a dossier links to
_sha256 = hashlib.sha256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
KEYED = 1  # the version byte of a keyed link

ChainKey = tuple[bytes, Any, Any]
"""``(tag, inner, outer)``: ``tag`` is the 9 bytes a keyed link starts with (version byte + key fingerprint);
``inner``/``outer`` are SHA-256 states already fed the key's HMAC pads (RFC 2104), so a link costs two state
copies and two short hashes instead of a key set-up per event (``hmac.digest`` is ~3× slower here)."""


def key_fingerprint(key_id: str) -> bytes:
    """The 8 bytes of a chain key id (``c-`` + 16 hex digits) stored in each keyed link."""
    return bytes.fromhex(key_id[2:18])


def chain_key(key_id: str, key: bytes) -> ChainKey:
    """The precomputed HMAC-SHA256 of chain key ``key_id`` (``_hmac`` equals ``hmac.digest(key, m, "sha256")``)."""
    return _keyed(bytes([KEYED]) + key_fingerprint(key_id), key)


def _keyed(tag: bytes, key: bytes) -> ChainKey:
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return (tag, _sha256(bytes(b ^ 0x36 for b in block)), _sha256(bytes(b ^ 0x5C for b in block)))


def _hmac(key: ChainKey, message: bytes) -> bytes:
    inner = key[1].copy()
    inner.update(message)
    outer = key[2].copy()
    outer.update(inner.digest())
    return key[0] + bytes(outer.digest())


def is_keyed(h: bytes | None) -> bool:
    return h is not None and len(h) == 41 and h[0] == KEYED


def effects_text(effects: Any) -> str | None:
    """The canonical effects JSON (the same text ``DossierEvent.effects_json`` writes)."""
    return None if not effects else effects_text_of(effects)


def event_content(dossier_id: str, seq: int, at: datetime, kind: str, trigger: str | None,
                  from_state: str | None, to_state: str, status: int, actor: str, agency: str, custodian: str,
                  definition_version: int, effects_json: str | None, note: str | None) -> bytes:
    """``ascii()`` of the event's fields (self-delimiting; the effects' length in place of the effects), then
    the effects JSON as UTF-8: unambiguous, and independent of Python's Unicode tables."""
    fx = b"" if effects_json is None else effects_json.encode()
    head = ascii((dossier_id, seq, (at - _EPOCH) // _US, kind, trigger, from_state, to_state, status, actor,
                  agency, custodian, definition_version, note, None if effects_json is None else len(fx)))
    return head.encode("ascii") + fx


def link(prev_hash: bytes, content: bytes) -> bytes:
    """SHA-256 over the previous event's hash and this event's content (32 raw bytes, stored as a BLOB)."""
    return hashlib.sha256(prev_hash + content).digest()


def event_hash(e: DossierEvent, prev_hash: bytes, key: ChainKey | None = None) -> bytes:
    """Recompute an event's hash from what it says (as read back from a store); keyed with ``key``."""
    content = event_content(e.dossier_id, e.seq, e.at, e.kind, e.trigger, e.from_state, e.to_state, e.status,
                            e.actor, e.agency, e.custodian, e.definition_version, effects_text(e.effects), e.note)
    if key is None:
        return link(prev_hash, content)
    return _hmac(key, prev_hash + content)


def chain_event(e: DossierEvent, prev_hash: bytes, key: ChainKey | None = None) -> bytes:
    """Give a freshly built event (not yet written) its ``prev_hash`` and ``hash``; returns the hash.

    The engine calls this once per event it creates, before the store writes it. It also caches the
    effects JSON on the event, so the store serialises it once, not twice. (``event_content`` inlined:
    this runs on every durable transition.)"""
    text = e.effects_json()
    fx = b"" if text is None else text.encode()
    head = ascii((e.dossier_id, e.seq, (e.at - _EPOCH) // _US, e.kind, e.trigger, e.from_state, e.to_state,
                  e.status, e.actor, e.agency, e.custodian, e.definition_version, e.note,
                  None if text is None else len(fx)))
    if key is None:
        h = _sha256(prev_hash + head.encode("ascii") + fx).digest()
    else:  # HMAC from precomputed pads: a couple of microseconds more than the plain link
        inner = key[1].copy()
        inner.update(prev_hash + head.encode("ascii") + fx)
        outer = key[2].copy()
        outer.update(inner.digest())
        h = key[0] + outer.digest()
    setattr_ = object.__setattr__  # frozen attrs class: set once, before anyone else sees the event
    setattr_(e, "effects_text", text)
    setattr_(e, "prev_hash", prev_hash)
    setattr_(e, "hash", h)
    return h


def head_of(store: Any, dossier_id: str, seq: int) -> bytes:
    """The stored hash of event ``seq`` of a dossier (GENESIS when it has none: written unchained)."""
    found: bytes | None = store.event_hash(dossier_id, seq)
    return found or GENESIS


@attrs.frozen
class Break:
    """The first broken link of one dossier's log."""

    dossier_id: str
    seq: int | None
    problem: str  # edited | deleted | reordered | inserted | unchained | snapshot | orphan | downgraded | unkeyed
    #               | unknown-key (a keyed link under a key the keyring never had: forged without the key)
    detail: str

    def __str__(self) -> str:
        where = f"event {self.seq}" if self.seq is not None else "snapshot"
        return f"dossier {self.dossier_id}, {where}: {self.problem} — {self.detail}"


@attrs.define
class VerifyReport:
    dossiers: int = 0
    events: int = 0
    breaks: list[Break] = attrs.field(factory=list)
    unchained: int = 0  # events written with hash chaining switched off
    keyed: int = 0  # events whose link is keyed (HMAC)
    unchecked: int = 0  # keyed events whose HMAC could not be checked (verified without the chain keys)
    heads: dict[str, str] = attrs.field(factory=dict)  # dossier → hex of its last event's hash

    @property
    def ok(self) -> bool:
        return not self.breaks

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "dossiers": self.dossiers, "events": self.events, "unchained": self.unchained,
                "keyed": self.keyed, "unchecked": self.unchecked, "breaks": [attrs.asdict(b) for b in self.breaks]}


def verify_dossier(dossier_id: str, events: list[DossierEvent], snapshot: Dossier | None, *,
                   allow_unchained: bool = False, keys: Mapping[bytes, bytes] | None = None,
                   keyed_since: datetime | None = None, counts: VerifyReport | None = None,
                   ) -> tuple[Break | None, int, bytes | None]:
    """(first break or None, number of unchained events, head hash) for one dossier's log, read in seq order.

    An event without a hash is a break unless ``allow_unchained`` (a store written with hash chaining
    switched off): otherwise removing the hashes would be a way to edit the log unnoticed. ``keys``: the
    chain keys by fingerprint (None: keyed links are checked for linkage only, counted in ``unchecked``);
    ``keyed_since``: the store's upgrade point, after which an unkeyed link is a break."""
    prev = GENESIS
    unchained = 0
    seen_keyed = False
    prepared: dict[bytes, ChainKey] = {}
    by_hash: dict[bytes | None, int] = {e.hash: e.seq for e in events if e.hash}
    beyond = snapshot.revision if snapshot is not None else None

    def brk(e: DossierEvent, problem: str, detail: str) -> tuple[Break, int, None]:
        if beyond is not None and e.seq > beyond:
            problem, detail = "inserted", f"{detail} (and the log runs past the snapshot's revision {beyond})"
        return Break(dossier_id, e.seq, problem, detail), unchained, None

    for i, e in enumerate(events):
        if e.seq != i + 1:
            return brk(e, "deleted", f"expected seq {i + 1}, found {e.seq}: an event is missing before it")
        if e.hash is None:  # written with hash chaining switched off: nothing to check, the chain restarts
            if not allow_unchained:
                return brk(e, "unchained", "the event carries no hash (written with hash chaining off, or its "
                                           "hash was removed)")
            unchained += 1
            prev = GENESIS
            continue
        if e.prev_hash != prev:
            target = by_hash.get(e.prev_hash)
            if target is None:
                return brk(e, "deleted", "prev_hash names no event in the log (the event before it was removed, "
                                         "or edited and re-hashed)")
            if target >= e.seq:
                return brk(e, "reordered", f"links to event {target}, which comes after it")
            return brk(e, "inserted", f"links to event {target}, not to event {e.seq - 1}: something was put "
                                      "between them")
        if is_keyed(e.hash):
            seen_keyed = True
            if counts is not None:
                counts.keyed += 1
            if keys is None:
                if counts is not None:
                    counts.unchecked += 1
            else:
                fp = e.hash[1:9]
                if fp not in prepared:
                    raw = keys.get(fp)
                    if raw is None:
                        return brk(e, "unknown-key", f"keyed with a chain key ({fp.hex()}) this keyring never had: "
                                                     "linked by someone without the key")
                    prepared[fp] = _keyed(e.hash[:9], raw)
                if event_hash(e, prev, prepared[fp]) != e.hash:
                    return brk(e, "edited", "its content no longer matches its keyed hash (HMAC)")
        else:
            if seen_keyed:
                return brk(e, "downgraded", "an unkeyed link after keyed ones: re-chained without the chain key")
            if keyed_since is not None and e.at >= keyed_since:
                return brk(e, "unkeyed", f"an unkeyed link written after the chain was keyed "
                                         f"({keyed_since.isoformat()}): re-chained without the chain key")
            if event_hash(e, prev) != e.hash:
                return brk(e, "edited", "its content no longer matches its hash")
        prev = e.hash
    if snapshot is None:
        if events:
            return Break(dossier_id, None, "orphan", "events without a dossier snapshot"), unchained, None
        return None, unchained, None
    last = events[-1].seq if events else 0
    if last < snapshot.revision:
        return Break(dossier_id, last + 1, "deleted", f"the snapshot is at revision {snapshot.revision} but the "
                                                      f"log ends at seq {last}"), unchained, None
    if last > snapshot.revision:
        return Break(dossier_id, snapshot.revision + 1, "inserted",
                     f"the log runs to seq {last}, past the snapshot's revision {snapshot.revision}"), unchained, None
    try:
        rebuilt = replay(events)
    except (ValueError, KeyError, TypeError) as exc:
        return Break(dossier_id, None, "snapshot", f"the log does not replay: {exc}"), unchained, None
    if rebuilt != snapshot:
        differ = [f.name for f in attrs.fields(Dossier)
                  if f.eq and getattr(rebuilt, f.name) != getattr(snapshot, f.name)]
        return Break(dossier_id, None, "snapshot",
                     f"the snapshot differs from the replayed log in {', '.join(differ)}"), unchained, None
    return None, unchained, prev


def verify(store: Any, dossier_ids: Iterable[str] | None = None, *, allow_unchained: bool = False,
           keys: Mapping[bytes, bytes] | None = None, keyed_since: datetime | None = None) -> VerifyReport:
    """Check every dossier's chain (or only ``dossier_ids``) on a store; never writes. ``keys`` and
    ``keyed_since`` as in :func:`verify_dossier` (``procflow.privacy.anchor.chain_keys_of`` gives them)."""
    report = VerifyReport()
    ids: Iterator[str] | Iterable[str]
    if dossier_ids is None:
        known = set(store.dossier_ids())
        logged = set(store.logged_dossier_ids())
        ids = sorted(known | logged)
    else:
        ids = dossier_ids
        known = None
    for did in ids:
        events = store.events(did)
        snapshot = None
        if known is None or did in known:
            try:
                snapshot = store.get(did)
            except KeyError:
                snapshot = None
        brk, unchained, head = verify_dossier(did, events, snapshot, allow_unchained=allow_unchained, keys=keys,
                                              keyed_since=keyed_since, counts=report)
        report.dossiers += 1
        report.events += len(events)
        report.unchained += unchained
        if brk is not None:
            report.breaks.append(brk)
        elif head is not None:
            report.heads[did] = head.hex()
    return report


def audit_link(prev_hash: bytes, at: datetime, actor: str, agency: str, dossier_id: str | None, action: str,
               outcome: str, detail: str, purpose: str) -> bytes:
    """The access audit's own chain (``procflow.privacy.anchor``): SHA-256 over the previous row's hash and this row's
    fields, so a deleted or edited row breaks it; the signed checkpoints anchor its head. Stores compute it
    as they insert, under their write lock."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    fields = ascii(("audit-1", (at - _EPOCH) // _US, actor, agency, dossier_id, action, outcome, detail, purpose))
    return _sha256(prev_hash + fields.encode("ascii")).digest()
