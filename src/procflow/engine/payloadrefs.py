"""Personal values at rest in outbox payloads: references in, references out.

A topic builds its payload from the dossier as the engine holds it (real values: a notice needs the citizen's
phone), but the outbox table is as much "at rest" as the snapshot, so before a row is written every payload
value that equals one of the dossier's sealed personal values is replaced by that value's vault reference
(``{"$vault": "<dossier>/<seq>/<field>"}``); the delivery worker opens them just before an adapter gets the
message (``procflow.workers.delivery``). A value no reference can be found for is never stored as it is:
the writer refuses the row (``EventWriter.seal_outbox``, :func:`clear_fields`). Kept apart from the topics
(``procflow.engine.outbox``): this is the privacy rule every topic's rows go through, and it runs on every
fire that writes an outbox row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from procflow.privacy.sealed import MARKER
from procflow.store.base import OutboxMessage

__all__ = ["Sealed", "clear_fields", "payload_refs", "seal_messages", "seal_payload"]


Sealed = Mapping[str, tuple[Any, Any]]
"""A dossier's sealed personal values, ``{field: (real value, vault reference)}`` (``procflow.engine.memo``)."""


def _lookup(sealed: Sealed | None) -> dict[tuple[type, Any], Mapping[str, str]]:
    """(type, real value) → reference, for the values a payload could carry whole: non-empty strings and
    integers (the type is part of the key, so ``True`` never matches a personal ``1``). Two fields with the
    same value (a couple's names may coincide) give the reference of the first field by name, so a record
    opened from the store seals exactly as the one the engine kept in memory (their field order differs)."""
    out: dict[tuple[type, Any], Mapping[str, str]] = {}
    for _, (value, ref) in sorted((sealed or {}).items()):
        t = type(value)
        if (t is str and value) or t is int:
            if type(ref) is dict and MARKER in ref:
                out.setdefault((t, value), ref)
    return out


def _walk(value: Any, refs: Mapping[tuple[type, Any], Mapping[str, str]]) -> Any:
    t = type(value)
    if t is dict:
        if MARKER in value:  # already a reference
            return value
        return _sealed(value, refs)
    if t is list or t is tuple:
        return [_walk(v, refs) for v in value]
    if t is str or t is int:
        ref = refs.get((t, value))
        if ref is not None:
            return dict(ref)
    return value


def seal_payload(payload: Mapping[str, Any], sealed: Sealed | None) -> dict[str, Any]:
    """``payload`` with every leaf (in nested dicts and lists) that equals one of the dossier's sealed
    personal values replaced by a copy of its vault reference. ``sealed`` is what
    ``RecordMemo.sealed`` returns (``EventWriter.seal_outbox`` completes it from the store first)."""
    refs = _lookup(sealed)
    return _sealed(payload, refs) if refs else dict(payload)


def _sealed(payload: Mapping[str, Any], refs: Mapping[tuple[type, Any], Mapping[str, str]]) -> dict[str, Any]:
    # Runs on every fire that writes an outbox row for a dossier with personal values: the top level (most
    # leaves live there) is copied and searched at C speed (``in`` on the values), and only a hit is located.
    out = dict(payload)
    values = out.values()
    for (t, v), ref in refs.items():
        if v in values:
            for k, x in out.items():
                if type(x) is t and x == v:
                    out[k] = dict(ref)
    for k, x in out.items():
        tx = type(x)
        if tx is dict or tx is list or tx is tuple:
            out[k] = _walk(x, refs)
    return out


_LOOKUPS: dict[int, tuple[Sealed, dict[tuple[type, Any], Mapping[str, str]]]] = {}


def _cached_lookup(sealed: Sealed) -> dict[tuple[type, Any], Mapping[str, str]]:
    """:func:`_lookup`, once per sealed mapping: the engine keeps one per dossier (``procflow.engine.memo``)
    until its personal values change, and every fire that writes an outbox row asks for it. Keyed by identity
    (the mapping is held, so its id is not reused while cached); bounded. Only for mappings nobody changes
    in place, as the engine's are."""
    hit = _LOOKUPS.get(id(sealed))
    if hit is not None and hit[0] is sealed:
        return hit[1]
    refs = _lookup(sealed)
    if len(_LOOKUPS) >= 65_536:
        _LOOKUPS.clear()
    _LOOKUPS[id(sealed)] = (sealed, refs)
    return refs


def seal_messages(messages: Sequence[OutboxMessage], sealed: Sealed | None, *,
                  frozen: bool = False) -> list[OutboxMessage]:
    """:func:`seal_payload` for each message (a no-op when there is nothing sealed or no message).
    ``frozen``: ``sealed`` is never changed in place (the engine's), so its lookup table is reused."""
    refs = (_cached_lookup(sealed) if frozen else _lookup(sealed)) if messages and sealed else None
    if not refs:
        return list(messages)
    return [OutboxMessage(m.topic, m.key, m.dossier_id, _sealed(m.payload, refs)) for m in messages]


def payload_refs(value: Any) -> list[str]:
    """The fields of the vault references a payload holds, in order of appearance (empty: none)."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            ref = v.get(MARKER)
            if ref is not None:
                out.append(str(ref).rsplit("/", 1)[-1])
            else:
                stack.extend(reversed(list(v.values())))
        elif t is list or t is tuple:
            stack.extend(reversed(v))
    return out


def clear_fields(payload: Any, values: Mapping[str, Any]) -> set[str]:
    """The fields among ``values`` (``{field: real value}``) whose value ``payload`` holds whole in clear,
    by the rule :func:`seal_payload` replaces them (non-empty strings and integers, type included): the
    check that a value with no reference found is not about to be stored as it is."""
    wanted: dict[tuple[type, Any], set[str]] = {}
    for k, v in values.items():
        t = type(v)
        if (t is str and v) or t is int:
            wanted.setdefault((t, v), set()).add(k)
    out: set[str] = set()
    stack = [payload]
    while stack and wanted:
        v = stack.pop()
        t = type(v)
        if t is dict:
            if MARKER not in v:
                stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        elif t is str or t is int:
            out |= wanted.get((t, v), set())
    return out
