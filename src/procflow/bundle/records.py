"""A bundle's record, its events and where they are kept (the store's bundle tables, or memory only)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

import attrs

from procflow.bundle.definition import BundleDefinition
from procflow.dossier import sla_from_dict, sla_to_dict
from procflow.errors import StoreError, UsageError
from procflow.sla import SlaClock

__all__ = ["BUNDLE_PREFIX", "FINAL_STATUSES", "Bundle", "BundleEvent", "MembershipCache", "keeps_bundles",
           "replay_bundle", "stored_membership"]

FINAL_STATUSES = frozenset({3, 7, 8, 9, 10})
BUNDLE_PREFIX = "LT-"  # a bundle's id: this prefix + its first member's dossier id (also its vault owner id)


@attrs.define(eq=True)
class Bundle:
    """One application's bundle: which member dossiers exist, the joined status and the bundle's SLA."""

    id: str
    code: str
    version: int
    receiving: str
    location: str
    status: int
    members: dict[str, str]  # member name -> dossier id, for members that have started
    skipped: tuple[str, ...]  # members that can no longer start (a predecessor failed)
    sla: SlaClock
    received_at: datetime
    updated_at: datetime
    extra: dict[str, Any] = attrs.field(factory=dict)  # application data for members not started yet
    revision: int = 1

    @property
    def open(self) -> bool:
        return self.status not in FINAL_STATUSES


@attrs.frozen
class BundleEvent:
    bundle_id: str
    seq: int
    at: datetime
    kind: str  # filed | changed | returned | synced | migrated
    status: int
    actor: str
    effects: Mapping[str, Any]


def replay_bundle(events: Iterable[BundleEvent]) -> Bundle:
    """Fold a bundle's events into its record (the events are the truth, the record a cache)."""
    b: Bundle | None = None
    for e in events:
        fx = e.effects
        if e.kind == "filed":
            b = Bundle(id=e.bundle_id, code=fx["code"], version=fx["version"], receiving=fx["receiving"],
                       location=fx["location"], status=e.status, members=dict(fx["members"]), skipped=(),
                       sla=sla_from_dict(fx["sla"]), received_at=e.at, updated_at=e.at, extra=dict(fx["extra"]),
                       revision=e.seq)
            continue
        if b is None:
            raise UsageError(f"bundle {e.bundle_id}: first event is {e.kind!r}, not 'filed'")
        b.status, b.updated_at, b.revision = e.status, e.at, e.seq
        b.members.update(fx.get("started", {}))
        b.skipped = b.skipped + tuple(fx.get("skipped", ()))
        if "sla" in fx:
            b.sla = sla_from_dict(fx["sla"])
        if "extra" in fx:
            b.extra = dict(fx["extra"])
        if "receiving" in fx:  # re-homed after units merged
            b.receiving, b.location = fx["receiving"], fx["location"]
    if b is None:
        raise UsageError("no events to replay")
    return b


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _record(b: Bundle) -> str:
    return _dumps({"id": b.id, "code": b.code, "version": b.version, "receiving": b.receiving,
                   "location": b.location, "status": b.status, "members": b.members, "skipped": list(b.skipped),
                   "sla": sla_to_dict(b.sla), "received_at": b.received_at.isoformat(),
                   "updated_at": b.updated_at.isoformat(), "extra": b.extra, "revision": b.revision})


def _from_record(text: str) -> Bundle:
    r = json.loads(text)
    return Bundle(id=r["id"], code=r["code"], version=r["version"], receiving=r["receiving"], location=r["location"],
                  status=r["status"], members=r["members"], skipped=tuple(r["skipped"]), sla=sla_from_dict(r["sla"]),
                  received_at=datetime.fromisoformat(r["received_at"]),
                  updated_at=datetime.fromisoformat(r["updated_at"]), extra=r["extra"], revision=r["revision"])


class _MemoryBackend:
    """Bundles kept in memory only: for stores without a record API, and for the parallel simulator, whose
    processes must decide everything from memory (another process may not have written a member yet)."""

    def __init__(self) -> None:
        self._defs: dict[tuple[str, int], tuple[str, str]] = {}
        self._bundles: dict[str, Bundle] = {}  # saved objects are never mutated: a change is a new object
        self._events: dict[str, list[BundleEvent]] = {}
        self._members: dict[str, tuple[str, str]] = {}

    def definition_sources(self) -> list[tuple[str, int, str]]:
        return [(c, v, src) for (c, v), (_, src) in sorted(self._defs.items())]

    def stored_hash(self, key: tuple[str, int]) -> str | None:
        found = self._defs.get(key)
        return None if found is None else found[0]

    def add_definition(self, bdef: BundleDefinition) -> None:
        self._defs[bdef.key] = (bdef.content_hash, bdef.source)

    def get(self, bundle_id: str) -> Bundle | None:
        found = self._bundles.get(bundle_id)
        return None if found is None else attrs.evolve(found, members=dict(found.members), extra=dict(found.extra))

    def iter_bundles(self) -> Iterator[Bundle]:
        for key in sorted(self._bundles):
            yield self.get(key)  # type: ignore[misc]

    def save(self, b: Bundle, event: BundleEvent, new_members: Mapping[str, str]) -> None:
        old = self._bundles.get(b.id)
        if (old is None) != (b.revision == 1) or (old is not None and old.revision != b.revision - 1):
            raise StoreError(f"bundle {b.id} changed concurrently (expected revision {b.revision - 1}); retry")
        self._bundles[b.id] = b
        self._events.setdefault(b.id, []).append(event)
        for name, did in new_members.items():
            self._members[did] = (b.id, name)

    def events(self, bundle_id: str) -> list[BundleEvent]:
        return list(self._events.get(bundle_id, ()))

    def member_of(self, dossier_id: str) -> tuple[str, str] | None:
        return self._members.get(dossier_id)


class _StoreBackend:
    """The bundle tables of the engine's store (``procflow.store.contracts.BundleRecords``, on SQLite and
    PostgreSQL alike), written on the store's connection so a bundle's writes join the engine's transaction."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def definition_sources(self) -> list[tuple[str, int, str]]:
        return list(self.store.bundle_definition_sources())

    def stored_hash(self, key: tuple[str, int]) -> str | None:
        found: str | None = self.store.bundle_definition_hash(*key)
        return found

    def add_definition(self, bdef: BundleDefinition) -> None:
        self.store.add_bundle_definition(bdef.code, bdef.version, bdef.content_hash, bdef.source)

    def get(self, bundle_id: str) -> Bundle | None:
        text = self.store.bundle_record(bundle_id)
        return None if text is None else _from_record(text)

    def iter_bundles(self) -> Iterator[Bundle]:
        for text in self.store.bundle_records():
            yield _from_record(text)

    def save(self, b: Bundle, event: BundleEvent, new_members: Mapping[str, str]) -> None:
        self.store.save_bundle(b.id, _record(b), status=b.status, revision=b.revision, members=new_members,
                               event=(event.seq, event.at.isoformat(), event.kind, event.status, event.actor,
                                      _dumps(event.effects)))

    def events(self, bundle_id: str) -> list[BundleEvent]:
        return [BundleEvent(bundle_id, seq, datetime.fromisoformat(at), kind, status, actor, json.loads(fx))
                for seq, at, kind, status, actor, fx in self.store.bundle_events(bundle_id)]

    def member_of(self, dossier_id: str) -> tuple[str, str] | None:
        found: tuple[str, str] | None = self.store.bundle_member_of(dossier_id)
        return found


class MembershipCache:
    """dossier id → (bundle id, member name), or None for a dossier known to be no member; at most ``limit``
    dossiers.

    Membership never changes once made, so a remembered answer is never stale and the only question is how
    much to keep. At the bound the first-remembered tenth is forgotten in one go (as
    ``procflow.engine.memo.RecordMemo`` does): a forgotten dossier costs one store read when next asked. Clearing
    everything at the bound instead sent every lookup after it back to the store at once."""

    __slots__ = ("_rows", "limit")

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._rows: dict[str, tuple[str, str] | None] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, dossier_id: object) -> bool:
        return dossier_id in self._rows

    def __getitem__(self, dossier_id: str) -> tuple[str, str] | None:
        return self._rows[dossier_id]

    def remember(self, dossier_id: str, membership: tuple[str, str] | None) -> None:
        rows = self._rows
        if dossier_id not in rows and len(rows) >= self.limit:
            for key in list(islice(rows, max(1, self.limit // 10))):
                del rows[key]
        rows[dossier_id] = membership


def keeps_bundles(store: Any) -> bool:
    """Whether ``store`` keeps bundle records (implements ``procflow.store.contracts.BundleRecords``)."""
    return callable(getattr(store, "save_bundle", None))


def stored_membership(store: Any, bundle_ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]] | None:
    """``bundle id -> (status, member dossier ids)`` for the given bundles as the store records them (ids
    with no stored record are left out); ``None`` when the store keeps no bundle records (bundles then live
    in a coordinator's memory only)."""
    if not keeps_bundles(store):
        return None
    found: dict[str, tuple[int, tuple[str, ...]]] = store.bundle_membership(list(bundle_ids))
    return found
