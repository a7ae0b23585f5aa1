"""The JSON text the stores write for snapshots and outbox payloads: compact, keys sorted, UTF-8 as is.

Every durable transition serialises its outbox payload (the portal status row: ~25 keys) and any changed
snapshot column; with the standard library that was the largest single Python cost of a fire (measured
with ``benchmarks/bench_engine.py --profile``). ``orjson`` writes the same text about six times faster, so
it is used when installed; the standard library stays the reference and the fallback, and both give the
same bytes for everything procflow stores (a property test in ``tests/test_jsontext.py`` checks it).

What ``orjson`` would write differently is sent to the standard library instead, so the text never
depends on which encoder ran: non-string keys and integers beyond 64 bits (``orjson`` refuses them),
datetimes, dataclasses and other objects (``orjson`` would serialise what ``json`` refuses: passed
through, they raise ``TypeError`` as before). Non-finite floats never reach a store (``procflow.fieldtypes``
refuses them) and are sent to the standard library too when they do.

The event log's effects text is NOT written here: it is hashed into the chain (``procflow.privacy.hashchain``)
in its historical form (``json.dumps`` with the default separators), which must not change.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

__all__ = ["dumps", "effects_text_of", "isotext"]

try:  # an optional speed-up: the text is identical without it
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    orjson = None  # type: ignore[assignment]


_last_iso: tuple[Any, str] = (None, "")
_ISO_BOUND = 65_536
_iso_seen: dict[tuple[datetime, Any, int], str] = {}


def isotext(instant: datetime) -> str:
    """``instant.isoformat()``, remembered: one fire writes its instant in the event row, the outbox payload
    and the snapshot, a simulation fires many times at one simulated instant, and an SLA clock's start and
    due instants are written again with every snapshot that changes the clock. Formatting an instant in a
    ``ZoneInfo`` zone costs ~2.5 µs; looking it up, a fraction of that.

    The key is the instant with its ``tzinfo`` and ``fold``: two datetimes that compare equal with the same
    ``tzinfo`` have the same wall-clock fields, and ``fold`` settles the one ambiguous hour a zone may have,
    so equal keys always format alike. At the bound the whole table is dropped (cheap, and the next
    instants are the ones that matter)."""
    global _last_iso
    last = _last_iso  # one tuple: a reader in another thread sees a consistent pair
    if last[0] is instant:
        return last[1]
    key = (instant, instant.tzinfo, instant.fold)
    text = _iso_seen.get(key)
    if text is None:
        text = instant.isoformat()
        if len(_iso_seen) >= _ISO_BOUND:
            _iso_seen.clear()
        _iso_seen[key] = text
    _last_iso = (instant, text)
    return text


# One encoder each, built once: ``json.dumps`` with keyword arguments builds a new ``JSONEncoder`` per call
# (measurable on the hot path); the same class with the same arguments writes the same text.
_reference = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode

effects_text_of = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
"""An event's effects as the hash chain has always read them: ``json.dumps(effects, ensure_ascii=False,
sort_keys=True)`` (default separators). Never change it: the text is hashed into every chain."""


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# what a float leaves in orjson's text (a string may look the same: the walk below then decides)
_FLOATISH = re.compile(rb"[0-9][.eE]")

if orjson is not None:
    _fast = orjson.dumps
    _OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS \
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    _JSONError = orjson.JSONEncodeError

    def dumps(value: Any) -> str:
        """``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``, faster."""
        try:
            text = _fast(value, default=_refuse, option=_OPTIONS)
        except (_JSONError, TypeError):
            return _reference(value)  # what orjson refuses: the reference encoder decides (and may raise)
        # orjson formats floats its own way (1e-05 as 0.00001, 1e-08 as 1e-8, NaN as null) where json writes
        # repr(); a value holding any float is written by the reference encoder, so the text never differs
        if (b"null" in text or _FLOATISH.search(text)) and _has_float(value):
            return _reference(value)
        return text.decode()
else:  # pragma: no cover
    dumps = _reference


def _has_float(value: Any) -> bool:
    """Whether a float hides in ``value`` (iterative: payloads nest)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is float:
            return True
        if t is not dict and t is not list and t is not tuple:
            continue
        for x in v.values() if t is dict else v:
            tx = type(x)
            if tx is float:
                return True
            if tx is dict or tx is list or tx is tuple:
                stack.append(x)
    return False
