"""One event writer: the rule "an event is written with its vault-sealed values, its hash-chain link, its
sealed outbox rows and its timer arming, in one transaction", coded once.

The engine (file, fire, record), the exchange import (``procflow.exchange.transfer``) and the migrations
(``procflow.migrate``) all write events through :class:`EventWriter`, so a row never depends on which path
wrote it (a property test checks that the paths produce identical rows for the same event).

It is also the hot path of every durable transition, so it is kept lean: the chain head comes from what
the writer remembers about the dossier (``procflow.engine.memo``; the store hands it out with the record),
personal values are sealed only when the event writes some, outbox payloads are sealed only when the dossier
has sealed values, and a state change that arms no timer is a single store call (one transaction, one round
trip on PostgreSQL).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from procflow.dossier import Dossier, DossierEvent
from procflow.engine.memo import RecordMemo
from procflow.engine.payloadrefs import Sealed, clear_fields, seal_messages
from procflow.engine.timers import TimerChanges
from procflow.errors import DossierNotFound, UnsealedValue
from procflow.privacy.hashchain import GENESIS, ChainKey, chain_event, chain_key, head_of
from procflow.privacy.keys import REFRESH_SECONDS, signing_keys
from procflow.privacy.sealed import has_refs, is_ref
from procflow.store.base import OutboxMessage
from procflow.store.contracts import writes_armings

if TYPE_CHECKING:
    from procflow.definition.model import ProcedureDefinition
    from procflow.engine.core import Engine

__all__ = ["EventWriter"]


class EventWriter:
    """Writes events for ``engine`` (its store, vault, outbox rules and hash-chain setting, read at each call,
    so an engine reconfigured after it was built writes as configured)."""

    __slots__ = ("_key", "_key_checked", "engine", "memo")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.memo = RecordMemo()  # chain heads and vault references of the dossiers written or read lately
        self._key: ChainKey | None = None
        self._key_checked = -REFRESH_SECONDS  # monotonic time the provider was last asked for the chain key

    def chain_key(self) -> ChainKey | None:
        """The active chain key (None: the keyring has none, the log stays unkeyed), asked of the key provider
        at most once a second so a rotation by another process is followed without a per-event lookup."""
        now = time.monotonic()
        if now - self._key_checked < REFRESH_SECONDS:
            return self._key
        self._key_checked = now
        active, keys = signing_keys(self.engine.vault.key_provider(), "chain")
        self._key = None if active is None else chain_key(active, keys[active])
        return self._key

    def refresh_key(self) -> None:
        """Forget the cached chain key (after ``procflow keys init`` / ``rotate`` in this process)."""
        self._key_checked = -REFRESH_SECONDS

    # -- the hash chain ---------------------------------------------------------------------------------
    def head(self, d: Dossier) -> bytes:
        """The hash of the dossier's last event: remembered for the record's revision, else from the store."""
        h = self.memo.head(d.id, d.revision)
        return h if h is not None else head_of(self.engine.store, d.id, d.revision)

    def link(self, event: DossierEvent, before: Dossier | None, *,
             prev_hash: bytes | None = None) -> bytes | None:
        """Give ``event`` its link to the dossier's previous event (``before`` None: the first event; or
        ``prev_hash`` when the caller knows it) and remember it as the new head; returns the event's hash
        (None: chaining off). A write that then fails forgets it (``write``)."""
        if not self.engine.hash_chain:
            return None
        if prev_hash is None:
            prev_hash = GENESIS if before is None else self.head(before)
        now = time.monotonic()
        key = self._key if now - self._key_checked < REFRESH_SECONDS else self.chain_key()
        h = chain_event(event, prev_hash, key)
        self.memo.set_head(event.dossier_id, event.seq, h)
        return h

    # -- personal values --------------------------------------------------------------------------------
    def seal(self, dossier_id: str, seq: int, values: Mapping[str, Any],
             personal: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(real values, stored values): the personal ones among ``values`` sealed in the vault as event
        ``seq`` of the dossier (references copied from a stored record are opened and sealed anew)."""
        vault = self.engine.vault
        if has_refs(values):
            values = vault.resolve(values)
        return dict(values), vault.seal(dossier_id, seq, values, personal)

    def seal_outbox(self, messages: list[OutboxMessage], d: Dossier,
                    personal: Mapping[str, str] | None = None) -> list[OutboxMessage]:
        """Payloads built from ``d``'s real values, with those values swapped for their vault references
        (``procflow.engine.payloadrefs.seal_payload``): the outbox row at rest holds no personal value in clear.
        ``personal`` is the definition's ``{field: kind}`` (None: looked up for ``d``'s definition version, for
        callers outside the engine such as the timer scheduler's notices). Fails closed: a value that
        would still be written in clear (no reference in the memo nor in the store's row) raises
        ``UnsealedValue`` before anything is written, and the memo forgets the dossier (the caller's
        transaction rolls back what was linked or sealed for the event)."""
        if not messages:
            return messages
        if personal is None:
            personal = self.engine._get_compiled(d.procedure, d.definition_version).personal
        if not personal:
            return messages
        sealed = self.memo.sealed(d.id) or {}
        if _unsealed(d.data, personal, sealed):  # a record without its references (built by hand): the store has them
            sealed = self._stored_seals(d.id, personal, sealed)
            out = seal_messages(messages, sealed, frozen=True) if sealed else list(messages)
            self._refuse_clear(out, d, _unsealed(d.data, personal, sealed))
            return out
        return seal_messages(messages, sealed, frozen=True) if sealed else messages

    def _refuse_clear(self, messages: list[OutboxMessage], d: Dossier, loose: Mapping[str, Any]) -> None:
        """Off the hot path (only after the memo missed): the sealed ``messages`` must not carry a personal
        value of ``d`` that found no reference (``loose``), or it would sit in the outbox in clear."""
        if not loose:
            return
        fields = set().union(*(clear_fields(m.payload, loose) for m in messages))
        if fields:
            self.memo.forget(d.id)
            topics = sorted({m.topic for m in messages})
            raise UnsealedValue(f"dossier {d.id}: personal field(s) {', '.join(sorted(fields))} would be "
                                f"written in clear to outbox topic(s) {', '.join(topics)}: neither the engine "
                                "nor the store's row has a vault reference for the value; nothing was written")

    def _stored_seals(self, dossier_id: str, personal: Mapping[str, str],
                      known: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        try:
            raw = self.engine.store.get(dossier_id).data
        except DossierNotFound:  # not stored yet
            return dict(known)
        refs = {k: raw[k] for k in personal if is_ref(raw.get(k))}
        opened = self.engine.vault.resolve(refs) if refs else {}
        found = {**known, **{k: (opened[k], ref) for k, ref in refs.items()}}
        self.memo.set_sealed(dossier_id, found)
        return found

    def outbox(self, d: Dossier, e: DossierEvent, defn: ProcedureDefinition,
               personal: Mapping[str, str], extra: Iterable[OutboxMessage] = ()) -> list[OutboxMessage]:
        """The event's outbox rows: what the engine's outbox rules emit for it (plus ``extra``), sealed."""
        out: list[OutboxMessage] = list(extra)
        for rule in self.engine.outbox_rules:
            out.extend(rule(d, e, defn))
        return self.seal_outbox(out, d, personal) if out and personal else out

    # -- the write --------------------------------------------------------------------------------------
    def write(self, row: Dossier, event: DossierEvent, *, expected: int | None,
              outbox: Sequence[OutboxMessage] = (), changed: frozenset[str] = frozenset(),
              timers: TimerChanges | None = None) -> None:
        """Store the snapshot ``row`` (personal values as references), ``event`` (already linked), its
        ``outbox`` rows and its timer arming in one transaction. ``expected`` is the revision the stored
        snapshot must still have (``ConcurrencyConflict`` otherwise); None inserts a new dossier."""
        try:
            self._write(row, event, expected, outbox, changed, timers)
        except BaseException:
            self.memo.forget(row.id)  # the head linked for this event was never stored
            raise

    def _write(self, row: Dossier, event: DossierEvent, expected: int | None, outbox: Sequence[OutboxMessage],
               changed: frozenset[str], timers: TimerChanges | None) -> None:
        store = self.engine.store
        if timers is None or not timers.arm:  # cancelling and pausing write nothing (the event records them)
            if expected is None:
                store.insert_dossier(row, event, outbox)
            else:
                store.apply(row, expected, event, outbox, changed)
            return
        if writes_armings(store):  # with the snapshot: one statement / transaction
            if expected is None:
                store.insert_dossier(row, event, outbox, arm=timers.arm)
            else:
                store.apply(row, expected, event, outbox, changed, arm=timers.arm)
            return
        with store.transaction():
            if expected is None:
                store.insert_dossier(row, event, outbox)
            else:
                store.apply(row, expected, event, outbox, changed)
            store.save_timers(row.id, seq=event.seq, state=row.state, arm=timers.arm, cancel=timers.cancel,
                              pause=timers.pause)


def _unsealed(data: Mapping[str, Any], personal: Mapping[str, str], sealed: Sealed) -> dict[str, Any]:
    """The personal values of ``data`` (not empty, not already references) that ``sealed`` has no reference
    for: the memo missed them before the store is asked, and they would be written in clear after."""
    loose = {}
    for k in personal:
        v = data.get(k)
        if v is None or v == "" or is_ref(v):
            continue
        s = sealed.get(k)
        if s is None or s[0] != v:
            loose[k] = v
    return loose
