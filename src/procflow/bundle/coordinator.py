"""The coordinator: files a bundle, fires its members and keeps the bundle's status and clock in step.

How the bundle reacts to a member's move (the liên thông rules) is in ``procflow.bundle.reaction``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from procflow.bundle.definition import BundleDefinition, bundled_bundle_definitions, check_members, parse_bundle
from procflow.bundle.reaction import _FLAGS, BundleReaction
from procflow.bundle.records import (
    BUNDLE_PREFIX,
    Bundle,
    BundleEvent,
    MembershipCache,
    _MemoryBackend,
    _StoreBackend,
    keeps_bundles,
    replay_bundle,
)
from procflow.dossier import Actor, Dossier, sla_to_dict
from procflow.engine.core import Engine
from procflow.errors import (
    DefinitionError,
    InvalidData,
    NotCustodian,
    ProcflowError,
    StoreError,
    TransitionNotAllowed,
)
from procflow.sla import SlaClock
from procflow.store.base import AuditEntry

__all__ = ["BundleCoordinator", "Fired"]


@attrs.frozen
class Fired:
    """What a fire through the coordinator did: the member dossier, its bundle (if any), members started."""

    dossier: Dossier
    bundle: Bundle | None = None
    started: tuple[Dossier, ...] = ()
    bundle_changed: bool = False


class BundleCoordinator(BundleReaction):
    """Files bundles, fires their members and keeps each bundle's status, clock and members in step.

    ``persist`` (default: when the store keeps bundle records, as SQLite and PostgreSQL do) keeps bundles in
    tables beside the dossiers; otherwise
    they live in this object only. Member dossiers the coordinator filed or fired are kept in memory (and
    dropped when their bundle closes), so a bundle reacts without reading its members back from the store.
    """

    def __init__(self, engine: Engine, definitions: Iterable[BundleDefinition] | None = None, *,
                 persist: bool | None = None) -> None:
        self.engine = engine
        if persist is None:
            persist = keeps_bundles(engine.store)
        elif persist and not keeps_bundles(engine.store):
            raise StoreError(f"{type(engine.store).__name__} keeps no bundle records (it does not implement "
                             "procflow.store.contracts.BundleRecords); pass persist=False to keep bundles in memory")
        self._b: _MemoryBackend | _StoreBackend = _StoreBackend(engine.store) if persist else _MemoryBackend()
        self.persistent = persist
        self._defs: dict[tuple[str, int], BundleDefinition] = {}
        self._latest: dict[str, int] = {}
        self._member_of = MembershipCache()  # bounded: a forgotten dossier is read from the store again
        self._dossiers: dict[str, Dossier] = {}
        self._open: dict[str, Bundle] = {}  # bundles still moving, as last saved (never mutated in place)
        for code, version, source in self._b.definition_sources():
            self._install(parse_bundle(source, file=f"<store bundle {code} v{version}>"))
        for d in bundled_bundle_definitions() if definitions is None else definitions:
            self.register(d)

    # -- definitions ------------------------------------------------------------------------------------
    def register(self, bdef: BundleDefinition) -> None:
        """Check every member procedure is registered with the engine, then keep the definition."""
        missing = check_members(bdef, {d.code: d for d in self.engine.definitions()})
        if missing:
            raise DefinitionError(missing, file=bdef.file)
        with self.engine.store.transaction():
            stored = self._b.stored_hash(bdef.key)
            if stored is None:
                self._b.add_definition(bdef)
            elif stored != bdef.content_hash:
                raise StoreError(f"bundle {bdef.code} version {bdef.version} is already registered with different "
                                 "content; give the new content a new version number")
        self._install(bdef)

    def _install(self, bdef: BundleDefinition) -> None:
        self._defs[bdef.key] = bdef
        self._latest[bdef.code] = max(self._latest.get(bdef.code, 0), bdef.version)

    def definition(self, code: str, version: int | None = None) -> BundleDefinition:
        found = self._defs.get((code, version if version is not None else self._latest.get(code, 0)))
        if found is None:
            raise DefinitionError(f"bundle {code!r} version {version} is not registered "
                                  f"(registered: {', '.join(f'{c} v{v}' for c, v in sorted(self._defs)) or 'none'})")
        return found

    def definitions(self) -> list[BundleDefinition]:
        return [d for _, d in sorted(self._defs.items())]

    def is_bundle(self, code: str) -> bool:
        return code in self._latest

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, bundle_id: str) -> Bundle:
        found = self._b.get(bundle_id)
        if found is None:
            raise ProcflowError(f"no bundle {bundle_id!r} in this store")
        return found

    def _current(self, bundle_id: str) -> Bundle:
        found = self._open.get(bundle_id)
        return found if found is not None else self.get(bundle_id)

    def iter_bundles(self) -> Iterator[Bundle]:
        return self._b.iter_bundles()

    def events(self, bundle_id: str) -> list[BundleEvent]:
        return self._b.events(bundle_id)

    def replay(self, bundle_id: str) -> Bundle:
        return replay_bundle(self.events(bundle_id))

    def bundle_of(self, dossier_id: str) -> str | None:
        """The bundle a dossier is a member of, or None. Cached: membership never changes once made."""
        cache = self._member_of
        if dossier_id in cache:
            found = cache[dossier_id]
        else:
            found = self._b.member_of(dossier_id)
            cache.remember(dossier_id, found)
        return None if found is None else found[0]

    def standalone(self, dossier_id: str) -> None:
        """A dossier just filed outside any bundle is no member (only a bundle makes members): ``bundle_of``
        then answers from memory, not with one store read per dossier (the simulator files ~45,000 a month)."""
        self._member_of.remember(dossier_id, None)

    def member_dossiers(self, bundle: Bundle | str) -> dict[str, Dossier]:
        b = self._current(bundle) if isinstance(bundle, str) else bundle
        out = {}
        order = [m.name for m in self.definition(b.code, b.version).members if m.name in b.members]
        for name in order:  # the definition's order, whatever order the stored record lists them in
            did = b.members[name]
            d = self._dossiers.get(did)
            if d is None:
                d = self.engine.get(did)  # personal values opened: members pass them on to the next ones
                if b.open or d.status == 9:  # still to be fired through us: keep this very object
                    self._dossiers[did] = d
            out[name] = d
        return out

    def remember(self, dossiers: Iterable[Dossier]) -> None:
        """Use these objects for members from now on (a caller that holds and fires them, e.g. a resumed
        simulator, must share them with the coordinator rather than have two copies drift apart)."""
        for d in dossiers:
            if self.bundle_of(d.id) is not None:
                self._dossiers[d.id] = d

    # -- acting -----------------------------------------------------------------------------------------
    def file(self, code: str, *, filed_at: str, actor: Actor, location: str | None = None,
             data: Mapping[str, Any] | None = None, version: int | None = None) -> Bundle:
        """Receive one application for the whole bundle; the members with no predecessor start now."""
        bdef = self.definition(code, version)
        values = dict(data or {})
        fields = {m.name: self._fields(m.procedure) for m in bdef.members}
        unknown = sorted(set(values) - set().union(*fields.values()) - _FLAGS)
        if unknown:
            raise InvalidData(f"bundle {bdef.code}: no member declares field(s) {', '.join(unknown)}", field=unknown[0])
        engine = self.engine
        error: ProcflowError | None = None
        with engine.store.transaction():
            started: dict[str, Dossier] = {}
            for m in bdef.roots:
                subset = {k: v for k, v in values.items() if k in fields[m.name]}
                try:
                    started[m.name] = engine.file(m.procedure, filed_at=filed_at, location=location, actor=actor,
                                                  data=subset, sla_days=bdef.member_limits.get(m.name))
                except ProcflowError as exc:
                    if started:
                        raise
                    error = exc  # commit the refusal's audit entry, then raise outside the transaction
                    break
            if error is None:
                first = next(iter(started.values()))
                now = engine.clock.now()
                consumed = set().union(*(fields[m.name] for m in bdef.roots))
                bundle_id = f"{BUNDLE_PREFIX}{first.id}"
                b = Bundle(id=bundle_id, code=bdef.code, version=bdef.version, receiving=first.receiving,
                           location=first.location, status=self._status(bdef, started, ()),
                           members={n: d.id for n, d in started.items()}, skipped=(),
                           sla=SlaClock.start(engine.calendar, now, bdef.sla_days), received_at=now, updated_at=now,
                           extra=engine.seal_values(bundle_id, 1,  # personal values: in the vault
                                                    {k: v for k, v in values.items() if k not in consumed}))
                fx = {"code": b.code, "version": b.version, "receiving": b.receiving, "location": b.location,
                      "members": b.members, "sla": sla_to_dict(b.sla), "extra": b.extra}
                self._save(b, "filed", actor.id, fx, b.members, started)
        if error is not None:
            raise error
        return b

    def fire(self, dossier: Dossier | str, trigger: str, actor: Actor, *, data: Mapping[str, Any] | None = None,
             note: str | None = None) -> Fired:
        """Fire a trigger on a dossier; when it is a bundle member, the bundle reacts in the same transaction."""
        dossier_id = dossier if isinstance(dossier, str) else dossier.id
        bundle_id = self.bundle_of(dossier_id)
        if isinstance(dossier, str) and dossier in self._dossiers:
            dossier = self._dossiers[dossier]
        before = None
        if bundle_id is not None and not isinstance(dossier, str):
            before = (dossier.status, self._final(dossier))
        error: ProcflowError | None = None
        with self.engine.store.transaction():
            try:
                d = self.engine.fire(dossier, trigger, actor, data=data, note=note)
            except ProcflowError as exc:
                error = exc  # the engine audited the refusal; let that commit, then raise
            else:
                if bundle_id is None:
                    result = Fired(d)
                elif before == (d.status, self._final(d)) and not self._enters_verification(bundle_id, d):
                    # same portal status: nothing the bundle joins changed
                    self._dossiers[d.id] = d
                    result = Fired(d, self._current(bundle_id))
                else:
                    self._dossiers[d.id] = d
                    b, started, changed = self._reconcile(self._current(bundle_id), actor.id, "changed")
                    result = Fired(d, b, started, changed)
        if error is not None:
            raise error
        return result

    def sync(self, bundle_id: str, *, reload: bool = True) -> tuple[Bundle, tuple[Dossier, ...]]:
        """Bring a bundle up to date after its members were fired directly on the engine (a timer, say).

        ``reload=False`` when the caller has already refreshed the member records it shares with the
        coordinator (see ``remember``): they are used as they are, not read again."""
        self._open.pop(bundle_id, None)
        b = self.get(bundle_id)
        if reload:
            for did in b.members.values():
                self._dossiers.pop(did, None)  # re-read: someone else moved them
        with self.engine.store.transaction():
            b, started, _ = self._reconcile(b, "lienthong", "synced")
        return b, started

    def return_result(self, bundle_id: str, actor: Actor) -> Bundle:
        """Return the joined result at the receiving commune: every member with a result is handed over."""
        b = self._current(bundle_id)
        bdef = self.definition(b.code, b.version)
        if actor.agency != b.receiving:
            self._refuse(actor, b, NotCustodian(
                dossier_id=b.id, agency=actor.agency, custodian=b.receiving, trigger=bdef.return_trigger,
                reason=f"bundle {b.id}: the joined result is returned at the receiving commune {b.receiving}, "
                       f"not by {actor.agency}"))
        members = self.member_dossiers(b)
        ready = [d for d in members.values() if bdef.return_trigger in self.engine.allowed_triggers(d)]
        if b.open or not ready:
            self._refuse(actor, b, TransitionNotAllowed(
                dossier_id=b.id, state=f"bundle status {b.status}", trigger=bdef.return_trigger,
                reason=f"bundle {b.id} (status {b.status}) has no joined result to return yet: "
                       + ", ".join(f"{n} is {d.state}" for n, d in members.items())))
        with self.engine.store.transaction():
            for d in ready:
                self._dossiers[d.id] = self.engine.fire(d, bdef.return_trigger, actor)
            b, _, _ = self._reconcile(b, actor.id, "returned")
        return b

    def rehome(self, mapping: Mapping[str, str]) -> list[str]:
        """Open bundles received or located at a merged unit follow it to the new agency (one event each,
        kind ``migrated``). Called by ``procflow.migrate.migrate_units`` in its transaction."""
        moved = []
        now = self.engine.clock.now()
        for b in list(self.iter_bundles()):
            if b.status == 10 or not (b.receiving in mapping or b.location in mapping):
                continue
            fx = {"receiving": mapping.get(b.receiving, b.receiving), "location": mapping.get(b.location, b.location)}
            new = attrs.evolve(b, receiving=fx["receiving"], location=fx["location"], updated_at=now,
                               revision=b.revision + 1)
            self._save(new, "migrated", "migrate", fx, {}, {})
            moved.append(b.id)
        return moved

    def _save(self, b: Bundle, kind: str, actor_id: str, fx: Mapping[str, Any], new_members: Mapping[str, str],
              dossiers: Mapping[str, Dossier]) -> None:
        event = BundleEvent(b.id, b.revision, b.updated_at, kind, b.status, actor_id, fx)
        try:
            self._b.save(b, event, new_members)
        except StoreError:
            self._open.pop(b.id, None)  # another writer moved it: read it afresh next time
            raise
        self._open[b.id] = b
        for name, did in new_members.items():
            self._member_of.remember(did, (b.id, name))
        for d in dossiers.values():
            self._dossiers[d.id] = d

    def _refuse(self, actor: Actor, b: Bundle, exc: ProcflowError) -> None:
        if self.engine.audit_refusals:
            self.engine.store.record_audit(AuditEntry(
                at=self.engine.clock.now(), actor=actor.id, agency=actor.agency, dossier_id=b.id,
                action=f"bundle:{getattr(exc, 'trigger', '')}", outcome=f"refused:{type(exc).__name__}",
                detail=str(exc)))
        raise exc
