"""A bundle's record, its events and where they are kept (SQLite tables, or memory only)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs

from procflow.bundle.definition import BundleDefinition
from procflow.calendar import SlaClock
from procflow.dossier import sla_from_dict, sla_to_dict
from procflow.errors import StoreError

__all__ = ["BUNDLE_PREFIX", "FINAL_STATUSES", "Bundle", "BundleEvent", "replay_bundle", "stored_membership"]

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
            raise ValueError(f"bundle {e.bundle_id}: first event is {e.kind!r}, not 'filed'")
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
        raise ValueError("no events to replay")
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


class _SQLiteBackend:
    """The bundle tables on a SQLite store's own connection, so writes join the engine's transaction.

    Stand-in until the store protocol offers ``put_record(kind, key, value)`` / ``get_record`` / ``records``
    on both backends; then this class becomes three calls.
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS bundle_definitions (code TEXT NOT NULL, version INTEGER NOT NULL,"
        " content_hash TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (code, version))",
        "CREATE TABLE IF NOT EXISTS bundles (id TEXT PRIMARY KEY, record TEXT NOT NULL, status INTEGER NOT NULL,"
        " revision INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS bundle_members (dossier_id TEXT PRIMARY KEY, bundle_id TEXT NOT NULL,"
        " member TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS bundle_events (bundle_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,"
        " kind TEXT NOT NULL, status INTEGER NOT NULL, actor TEXT NOT NULL, effects TEXT NOT NULL,"
        " PRIMARY KEY (bundle_id, seq)) WITHOUT ROWID",
    )

    def __init__(self, store: Any) -> None:
        self.sql = store.execute
        with store.transaction():
            for stmt in self.SCHEMA:
                self.sql(stmt)

    def definition_sources(self) -> list[tuple[str, int, str]]:
        return [tuple(r) for r in self.sql("SELECT code, version, source FROM bundle_definitions "  # type: ignore[misc]
                                           "ORDER BY code, version")]

    def stored_hash(self, key: tuple[str, int]) -> str | None:
        rows = self.sql("SELECT content_hash FROM bundle_definitions WHERE code=? AND version=?", key)
        return rows[0][0] if rows else None

    def add_definition(self, bdef: BundleDefinition) -> None:
        self.sql("INSERT INTO bundle_definitions VALUES (?,?,?,?)",
                 (bdef.code, bdef.version, bdef.content_hash, bdef.source))

    def get(self, bundle_id: str) -> Bundle | None:
        rows = self.sql("SELECT record FROM bundles WHERE id=?", (bundle_id,))
        return _from_record(rows[0][0]) if rows else None

    def iter_bundles(self) -> Iterator[Bundle]:
        for (text,) in self.sql("SELECT record FROM bundles ORDER BY id"):
            yield _from_record(text)

    def save(self, b: Bundle, event: BundleEvent, new_members: Mapping[str, str]) -> None:
        if b.revision == 1:
            self.sql("INSERT INTO bundles VALUES (?,?,?,?)", (b.id, _record(b), b.status, b.revision))
        elif not self.sql("UPDATE bundles SET record=?, status=?, revision=? WHERE id=? AND revision=? RETURNING id",
                          (_record(b), b.status, b.revision, b.id, b.revision - 1)):
            raise StoreError(f"bundle {b.id} changed concurrently (expected revision {b.revision - 1}); retry")
        self.sql("INSERT INTO bundle_events VALUES (?,?,?,?,?,?,?)",
                 (b.id, event.seq, event.at.isoformat(), event.kind, event.status, event.actor, _dumps(event.effects)))
        for name, did in new_members.items():
            self.sql("INSERT INTO bundle_members VALUES (?,?,?)", (did, b.id, name))

    def events(self, bundle_id: str) -> list[BundleEvent]:
        return [BundleEvent(bundle_id, seq, datetime.fromisoformat(at), kind, status, actor, json.loads(fx))
                for seq, at, kind, status, actor, fx in self.sql(
                    "SELECT seq, at, kind, status, actor, effects FROM bundle_events WHERE bundle_id=? ORDER BY seq",
                    (bundle_id,))]

    def member_of(self, dossier_id: str) -> tuple[str, str] | None:
        rows = self.sql("SELECT bundle_id, member FROM bundle_members WHERE dossier_id=?", (dossier_id,))
        return (rows[0][0], rows[0][1]) if rows else None


def stored_membership(store: Any, bundle_ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]] | None:
    """``bundle id -> (status, member dossier ids)`` for the given bundles, read from a SQLite store's bundle
    tables without creating them (ids with no stored record are left out); ``None`` when the store keeps no
    bundle tables (PostgreSQL, a store never given a persisting coordinator: bundles live in memory)."""
    from procflow.store.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        return None
    tables = {r[0] for r in store.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                          "AND name IN ('bundles', 'bundle_members')")}
    if tables != {"bundles", "bundle_members"}:
        return None
    out: dict[str, tuple[int, tuple[str, ...]]] = {}
    for bundle_id in bundle_ids:
        rows = store.execute("SELECT status FROM bundles WHERE id=?", (bundle_id,))
        if rows:
            members = store.execute("SELECT dossier_id FROM bundle_members WHERE bundle_id=? ORDER BY dossier_id",
                                    (bundle_id,))
            out[bundle_id] = (int(rows[0][0]), tuple(r[0] for r in members))
    return out
