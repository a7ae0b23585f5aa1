"""The engine: fires triggers on plain dossier records, durably, one custodian at a time.

Each definition version is compiled ONCE into a ``transitions.Machine`` (``add_model`` per dossier is
O(models) and would make each transition slower as the number of live dossiers grows). A fire checks
custody, roles and guards in memory, moves the state through the compiled machine, updates the SLA clock
and writes snapshot + event + outbox in one store transaction guarded by an optimistic revision check.
A refusal changes nothing on the dossier; it is recorded only in the audit table.

Declared personal fields never reach the snapshot or the event log: their values are sealed in the vault
(``procflow.vault``, encrypted by default) in the same transaction, and references take their place; every
event carries the hash of the dossier's previous event (``procflow.hashchain``). Records the engine hands
back (``file``, ``fire``, ``get``, ``history``, ``replay``) hold the real values — the system path; reads
for people go through ``read`` / ``read_history`` (``procflow.access``: checked, audited, masked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import attrs
from transitions import Machine

from procflow.access import AccessPolicy, Reader
from procflow.authoriser import Authoriser
from procflow.calendar import ClockPolicy, SlaClock, WorkingCalendar
from procflow.clock import Clock, SystemClock
from procflow.definition import ClockMode, ProcedureDefinition, Step, Transition, parse_definition
from procflow.directory import Directory
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind, filed_effects, replay, sla_to_dict
from procflow.errors import (
    DefinitionError,
    GuardRejected,
    InvalidData,
    Problem,
    ProcflowError,
)
from procflow.eventwriter import EventWriter
from procflow.fieldtypes import check_values, field_checkers
from procflow.guards import BUILTIN_GUARDS
from procflow.identity import DirectoryIdentity
from procflow.jurisdiction import Registry
from procflow.masking import mask_record
from procflow.store.base import OutboxMessage, Store
from procflow.timers import TimerTable
from procflow.vault import Vault, has_refs, is_ref

if TYPE_CHECKING:
    from procflow.identity import IdentityProvider

__all__ = ["CompiledDefinition", "Engine", "Guard", "OutboxRule"]

Guard = Callable[[Dossier, Mapping[str, Any]], bool]
"""A pure, in-process check: ``guard(dossier, data) -> bool``. Never I/O (that belongs in adapters)."""

OutboxRule = Callable[[Dossier, DossierEvent, ProcedureDefinition], Iterable[OutboxMessage]]
"""Called inside the transition to decide which external effects the event causes (hooks that subscribe)."""

_log = logging.getLogger("procflow.engine")
_NO_TX = nullcontext()


@attrs.frozen
class CompiledDefinition:
    definition: ProcedureDefinition
    machine: Machine
    table: Mapping[tuple[str, str], Transition]
    steps: Mapping[str, Step]
    allowed: Mapping[str, tuple[str, ...]]
    # (state, trigger) → (source step, destination step, SLA clock surely unchanged): what a fire needs that
    # depends only on the definition, looked up once instead of recomputed per fire
    moves: Mapping[tuple[str, str], tuple[Step, Step, bool]] = attrs.field(factory=dict)
    timers: TimerTable | None = None  # None: no timers declared, and the hot path skips them entirely
    personal: Mapping[str, str] = attrs.field(factory=dict)  # {field: personal kind}: these go to the vault

    @classmethod
    def compile(cls, defn: ProcedureDefinition) -> CompiledDefinition:
        machine = Machine(
            model=None,
            states=[s.name for s in defn.states],
            initial=defn.initial,
            transitions=[{"trigger": t.trigger, "source": list(t.source), "dest": t.dest}
                         for t in defn.transitions],
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        # The hot path reads the machine's compiled event table directly (DESIGN invariant 1): the
        # destinations come from transitions' own Event/Transition objects, so the machine stays the
        # single source of truth, without paying its callback machinery on every fire.
        table = {}
        for t in defn.transitions:
            event = machine.events[t.trigger]
            for src in t.source:
                compiled_dest = event.transitions[src][0].dest
                assert compiled_dest is not None  # only internal transitions lack a dest; we add none
                table[(src, t.trigger)] = attrs.evolve(t, dest=compiled_dest) if compiled_dest != t.dest else t
        by_source: dict[str, list[str]] = {s.name: [] for s in defn.states}  # linear, not states × transitions
        for t in defn.transitions:
            for src in t.source:
                by_source.setdefault(src, []).append(t.trigger)
        allowed = {name: tuple(sorted(set(triggers))) for name, triggers in by_source.items()}
        steps = {s.name: s for s in defn.states}
        moves = {key: (steps[key[0]], steps[t.dest], _clock_fixed(defn, steps[key[0]], steps[t.dest]))
                 for key, t in table.items()}
        return cls(definition=defn, machine=machine, table=table, steps=steps, moves=moves,
                   allowed=allowed, timers=TimerTable.compile(defn),
                   personal={f.name: f.personal for f in defn.fields if f.personal is not None})


def _clock_fixed(defn: ProcedureDefinition, src: Step, dest: Step) -> bool:
    """Whether moving ``src`` → ``dest`` leaves any SLA clock as it is (``Engine._advance_clock`` returns it
    unchanged): same clock mode, and not the desk's receipt of an online filing (which starts the limit)."""
    leaves_online = src.name == defn.online_initial and src.name != dest.name
    return not leaves_online and src.clock is dest.clock


class Engine:
    """Runs procedures on a store. Time comes from ``clock``; nothing here reads the wall clock."""

    def __init__(
        self,
        store: Store,
        *,
        registry: Registry | None = None,
        calendar: WorkingCalendar | None = None,
        clock: Clock | None = None,
        guards: Mapping[str, Guard] | None = None,
        outbox_rules: Sequence[OutboxRule] = (),
        audit_refusals: bool = True,
        vault: Vault | None = None,
        hash_chain: bool = True,
        access_policy: AccessPolicy | None = None,
        identity: IdentityProvider | None = None,
    ) -> None:
        """``vault``: where declared personal fields go (default: encrypted, keys from
        ``procflow.keys.default_key_provider``); ``hash_chain``: link each event to the previous one
        (``procflow audit verify``); ``access_policy``: who may ``read`` a dossier (custody path + oversight);
        ``identity``: who the acting officials are and which roles they hold (``procflow.identity``; default:
        the store's officials directory, ``engine.directory``)."""
        self.store = store
        self.registry = registry if registry is not None else Registry.default()
        self.calendar = calendar if calendar is not None else WorkingCalendar()
        self.clock = clock if clock is not None else SystemClock()
        self.guards: dict[str, Guard] = {**BUILTIN_GUARDS, **(guards or {})}
        self.outbox_rules = list(outbox_rules)
        self.vault = vault if vault is not None else Vault(store)
        self.hash_chain = hash_chain
        self.access_policy = access_policy if access_policy is not None else AccessPolicy(self.registry)
        if identity is None:
            identity = DirectoryIdentity(Directory(store, self.clock))
        self.authoriser = Authoriser(store=store, clock=self.clock, registry=self.registry, identity=identity,
                                     audit_refusals=audit_refusals)
        # changes made through this engine's directory empty its cache of resolved officials
        self.directory = Directory(store, self.clock, registry=self.registry, on_change=self.authoriser.invalidate)
        self.reader = Reader(store=store, clock=self.clock, policy=self.access_policy, vault=self.vault,
                             authenticate=self.authoriser.authenticate, open_record=self.open_record,
                             open_events=self.open_events, definition=self.definition)
        self.writer = EventWriter(self)  # every event goes through it (vault, chain, outbox, timers)
        self._compiled: dict[tuple[str, int], CompiledDefinition] = {}
        self._latest: dict[str, int] = {}
        for code, version, source in store.definition_sources():
            self._install(parse_definition(source, file=f"<store {code} v{version}>"), persist=False)

    # -- definitions ------------------------------------------------------------------------------------
    def add_guard(self, name: str, guard: Guard) -> None:
        self.guards[name] = guard

    def register(self, defn: ProcedureDefinition) -> CompiledDefinition:
        """Compile and persist a definition version; it runs beside earlier versions."""
        missing = [Problem(f"transitions[{i}].guards[{j}]", f"unknown guard {g!r} (registered: "
                           f"{', '.join(sorted(self.guards)) or 'none'})", defn.file)
                   for i, t in enumerate(defn.transitions) for j, g in enumerate(t.guards) if g not in self.guards]
        if missing:
            raise DefinitionError(missing, file=defn.file)
        kinds = self.registry.kinds()
        bad = [Problem(f"roles.{role}", f"unknown agency kind {kind!r} (known: {', '.join(sorted(kinds))})",
                       defn.file) for role, kind in defn.roles.items() if kind not in kinds]
        if defn.competent_kind not in kinds:
            bad.append(Problem("competent_kind", f"unknown agency kind {defn.competent_kind!r}", defn.file))
        if bad:
            raise DefinitionError(bad, file=defn.file)
        return self._install(defn, persist=True)

    def _install(self, defn: ProcedureDefinition, *, persist: bool) -> CompiledDefinition:
        existing = self._compiled.get(defn.key)
        if persist:
            self.store.register_definition(defn.code, defn.version, defn.content_hash, defn.source)
        if existing is not None and existing.definition.content_hash == defn.content_hash:
            return existing
        compiled = CompiledDefinition.compile(defn)
        self._compiled[defn.key] = compiled
        if defn.version > self._latest.get(defn.code, 0):
            self._latest[defn.code] = defn.version
        return compiled

    def definition(self, code: str, version: int | None = None) -> ProcedureDefinition:
        return self._get_compiled(code, version).definition

    def definitions(self) -> list[ProcedureDefinition]:
        return [c.definition for _, c in sorted(self._compiled.items())]

    def _get_compiled(self, code: str, version: int | None = None) -> CompiledDefinition:
        if version is None:
            version = self._latest.get(code)
        compiled = self._compiled.get((code, version)) if version is not None else None
        if compiled is None:
            known = ", ".join(f"{c} v{v}" for c, v in sorted(self._compiled)) or "none"
            raise DefinitionError(f"procedure {code!r} version {version} is not registered (registered: {known})")
        return compiled

    # -- filing -----------------------------------------------------------------------------------------
    def file(
        self,
        procedure: str,
        *,
        filed_at: str,
        actor: Actor,
        location: str | None = None,
        data: Mapping[str, Any] | None = None,
        version: int | None = None,
        online: bool = False,
        sla_days: int | None = None,
    ) -> Dossier:
        """Receive a dossier (tiếp nhận) at the one-stop desk of commune ``filed_at``.

        ``online=True`` files it as submitted on the public-service portal: it starts in the definition's
        ``online_initial`` state (portal status 1, newly registered) and its time limit starts only when the
        desk receives it (status 2); the desk may instead refuse it (status 3) or ask for a supplement.
        ``sla_days`` overrides the definition's limit for this dossier: a liên thông bundle gives its members
        their (shorter) limits inside the bundle.

        ``location`` is the commune where the subject is (residence, land); when it differs from
        ``filed_at`` the dossier is location-independent and routed to the competent agency, while the
        filing commune stays the point of contact for the result.
        """
        compiled = self._get_compiled(procedure, version)
        defn = compiled.definition
        if online and defn.online_initial is None:
            raise DefinitionError(f"procedure {defn.code} v{defn.version} takes no online filing "
                                  "(its definition declares no online_initial state)")
        initial = defn.online_initial if online and defn.online_initial is not None else defn.initial
        routing = self.registry.route(filed_at=filed_at, location=location or filed_at,
                                      competent_kind=defn.competent_kind)
        now = self.clock.now()
        receiving = routing.receiving.code
        actor = self.authoriser.file(actor, procedure, receiving, routing.receiving.name)
        values = self._check_data(defn, None, data or {}, filing=True)
        agencies = {"receiving": receiving, "competent": routing.competent.code,
                    "location": routing.location.code}
        for role, kind in defn.roles.items():
            agencies[role] = self.registry.resolve(kind, routing.location.code).code
        step = compiled.steps[initial]
        sla = SlaClock.start(self.calendar, now, defn.sla_days if sla_days is None else sla_days)
        if online:  # the limit counts from the desk's receipt (status 2), not from the submission
            sla = sla.pause(now)
        elif step.clock is ClockMode.STOPPED:
            sla = sla.stop(now)
        elif step.clock is not ClockMode.RUNNING:
            sla = sla.pause(now)
        day = now.astimezone(self.calendar.tz).strftime("%y%m%d")
        with self.store.transaction():
            seq = self.store.next_sequence(receiving, day)
            dossier = Dossier(
                id=f"{receiving}-{day}-{seq:04d}", procedure=defn.code, definition_version=defn.version,
                state=initial, status=step.portal_status, custodian=agencies[step.holder],
                agencies=agencies, location_independent=routing.location_independent, received_at=now,
                updated_at=now, sla=sla,
                step_due_at=self.calendar.due_at(now, step.sla_days) if step.sla_days is not None else None,
                data=values, revision=1,
            )
            row = dossier  # what the store gets: personal values sealed in the vault, references in their place
            w = self.writer
            if compiled.personal:
                dossier.data, stored = w.seal(dossier.id, 1, values, compiled.personal)
                dossier.sealed = {k: (dossier.data[k], v) for k, v in stored.items() if is_ref(v)}
                row = attrs.evolve(dossier, data=stored)
            event = DossierEvent(dossier_id=dossier.id, seq=1, at=now, kind=EventKind.FILED, trigger=None,
                                 from_state=None, to_state=dossier.state, status=dossier.status, actor=actor.id,
                                 agency=actor.agency, custodian=dossier.custodian,
                                 definition_version=defn.version, effects=filed_effects(row))
            dossier.chain = w.link(event, None)
            w.write(row, event, expected=None, outbox=w.outbox(dossier, event, defn, compiled.personal),
                    timers=compiled.timers.on_file(dossier, self.calendar, now) if compiled.timers else None)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("filed %s (%s v%d) at %s by %s: %s", dossier.id, defn.code, defn.version, receiving, actor.id,
                       mask_record(dossier.data, defn))
        return dossier

    # -- firing -----------------------------------------------------------------------------------------
    def fire(
        self,
        dossier: Dossier | str,
        trigger: str,
        actor: Actor,
        *,
        data: Mapping[str, Any] | None = None,
        note: str | None = None,
    ) -> Dossier:
        """Fire ``trigger`` as ``actor``. The passed record is updated only after the store commits."""
        d = self.store.get(dossier) if isinstance(dossier, str) else dossier
        compiled = self._compiled.get((d.procedure, d.definition_version)) or self._get_compiled(
            d.procedure, d.definition_version)
        actor, t = self.authoriser.fire(actor, d, trigger, compiled.table.get((d.state, trigger)),
                                        compiled.allowed.get(d.state, ()))
        defn = compiled.definition
        values = self._check_data(defn, d.id, data, filing=False) if data else None
        if t.guards:
            view = {**d.data, **values} if values else d.data
            for g in t.guards:
                if not self.guards[g](d, view):
                    self._refuse(actor, d, trigger, GuardRejected(dossier_id=d.id, state=d.state, trigger=trigger,
                                                                  guard=g))
        src, dest, clock_fixed = compiled.moves[(d.state, trigger)]
        now = self.clock.now()
        changed: set[str] = set()
        effects: dict[str, Any] = {}
        sla = d.sla if clock_fixed else self._advance_clock(src, dest, d.sla, now, defn)
        if sla is not d.sla:
            changed.add("sla")
            effects["sla"] = sla_to_dict(sla)
        step_due = d.step_due_at
        if dest.sla_days is not None:
            step_due = self.calendar.due_at(now, dest.sla_days)
        elif step_due is not None and dest.name != d.state:
            step_due = None
        if step_due != d.step_due_at:
            changed.add("step_due_at")
            effects["step_due_at"] = None if step_due is None else step_due.isoformat()
        custodian = d.agencies[dest.holder]
        if custodian != d.custodian:
            effects["custodian_from"] = d.custodian
        new_data = d.data
        personal = compiled.personal if values else None
        if values:
            new_data = {**d.data, **values}
            changed.add("data")
            effects["data"] = values
        new = Dossier(id=d.id, procedure=d.procedure, definition_version=d.definition_version, state=dest.name,
                      status=dest.portal_status, custodian=custodian, agencies=d.agencies,
                      location_independent=d.location_independent, received_at=d.received_at, updated_at=now,
                      sla=sla, step_due_at=step_due, data=new_data, revision=d.revision + 1, sealed=d.sealed)
        # personal values written here go to the vault in the same transaction as the snapshot and event
        with self.store.transaction() if personal and values and not personal.keys().isdisjoint(values) else _NO_TX:
            row = self._sealed_row(d, new, values, personal, effects) if personal and values else new
            event = DossierEvent(dossier_id=d.id, seq=new.revision, at=now, kind=EventKind.FIRED, trigger=trigger,
                                 from_state=d.state, to_state=dest.name, status=dest.portal_status, actor=actor.id,
                                 agency=actor.agency, custodian=custodian, definition_version=d.definition_version,
                                 effects=effects or None, note=note)
            w = self.writer
            new.chain = w.link(event, d)
            w.write(row, event, expected=d.revision, changed=frozenset(changed),
                    outbox=w.outbox(new, event, defn, compiled.personal) if self.outbox_rules else (),
                    timers=compiled.timers.on_fire(d, new, self.calendar, now) if compiled.timers else None)
        if isinstance(dossier, Dossier):  # the caller's record follows the committed row (no string setattr: hot)
            dossier.state, dossier.status, dossier.custodian, dossier.updated_at = dest.name, new.status, custodian, now
            dossier.sla, dossier.step_due_at, dossier.data, dossier.revision = sla, step_due, new.data, new.revision
            dossier.sealed, dossier.chain = new.sealed, new.chain
            return dossier
        return new

    # -- personal data and the hash chain (see procflow.vault, procflow.hashchain) --------------------------
    def _sealed_row(self, d: Dossier, new: Dossier, values: Mapping[str, Any], personal: Mapping[str, str],
                    effects: dict[str, Any]) -> Dossier:
        """Seal the personal values among ``values``; ``new`` keeps real values, the returned row (for the
        store) and ``effects`` carry references."""
        if personal.keys().isdisjoint(values):
            real, stored = dict(values), dict(values)
        else:
            real, stored = self.writer.seal(d.id, new.revision, values, personal)
        effects["data"] = stored
        base = dict(d.data)
        sealed = dict(d.sealed or {})
        unknown = False
        for k in personal:
            v = base.get(k)
            if is_ref(v):
                continue
            s = sealed.get(k)
            if s is not None and s[0] == v:  # also None: a value retention erased keeps its reference
                base[k] = s[1]
            elif v is not None:
                unknown = True
        if unknown:  # a record built without its vault references (by hand, or replayed): the store has them
            raw = self.store.get(d.id).data
            for k in personal:
                if is_ref(raw.get(k)) and not is_ref(base.get(k)):
                    base[k] = raw[k]
        new.data = {**d.data, **real}
        row_data = {**base, **stored}
        new.sealed = {k: (new.data[k], v) for k, v in row_data.items() if is_ref(v)}
        return Dossier(id=new.id, procedure=new.procedure, definition_version=new.definition_version,
                       state=new.state, status=new.status, custodian=new.custodian, agencies=new.agencies,
                       location_independent=new.location_independent, received_at=new.received_at,
                       updated_at=new.updated_at, sla=new.sla, step_due_at=new.step_due_at, data=row_data,
                       revision=new.revision)

    def seal_values(self, owner_id: str, seq: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Seal the personal values among ``values`` kept outside a dossier (a liên thông bundle's data for
        members not filed yet) in the vault as entry ``(owner_id, seq)``; returns them with references in
        their place. Kinds come from the registered definitions' fields of the same name. Passing the result
        to ``file`` later opens and re-seals the values for the new dossier. Call inside the transaction
        that stores the references."""
        kinds = {f.name: f.personal for c in self._compiled.values() for f in c.definition.fields
                 if f.personal is not None and f.name in values}
        return self.writer.seal(owner_id, seq, values, kinds)[1] if kinds else dict(values)

    def open_record(self, d: Dossier) -> Dossier:
        """A stored record with its personal values opened from the vault (the system path: not audited)."""
        if not has_refs(d.data):
            return d
        stored = d.data
        d.data = self.vault.resolve(stored)
        d.sealed = {k: (d.data[k], v) for k, v in stored.items() if is_ref(v)}
        return d

    def open_events(self, events: Sequence[DossierEvent]) -> list[DossierEvent]:
        """Stored events with the personal values they carry opened from the vault (system path)."""
        idx = [i for i, e in enumerate(events)
               if e.effects and isinstance(e.effects.get("data"), Mapping) and has_refs(e.effects["data"])]
        out = list(events)
        if idx:
            opened = self.vault.resolve_many([events[i].effects["data"] for i in idx])  # type: ignore[index]
            for i, data in zip(idx, opened, strict=True):
                out[i] = attrs.evolve(events[i], effects={**events[i].effects, "data": data})  # type: ignore[dict-item]
        return out

    def _advance_clock(self, src: Step, dest: Step, sla: SlaClock, now: datetime,
                       defn: ProcedureDefinition) -> SlaClock:
        if src.name == defn.online_initial and src.name != dest.name and not sla.stopped:
            # an online filing leaves "newly registered": received → the limit starts now; refused → stopped
            if dest.clock is ClockMode.STOPPED:
                return sla.stop(now)
            if dest.portal_status == 5:  # asked to supplement before receipt: still not received
                return sla
            started = SlaClock.start(self.calendar, now, sla.working_days)
            return started if dest.clock is ClockMode.RUNNING else started.pause(now)
        if src.clock is dest.clock or sla.stopped:
            return sla
        if dest.clock is ClockMode.STOPPED:
            return sla.stop(now)
        if dest.clock is ClockMode.RUNNING:
            if src.resume_policy is not None:
                return sla.resume(self.calendar, now, ClockPolicy(src.resume_policy))
            if src.clock is ClockMode.CITIZEN:
                return sla.resume(self.calendar, now, ClockPolicy(defn.supplement_policy))
            return sla.resume(self.calendar, now, ClockPolicy.PAUSE)
        return sla.pause(now) if sla.running else sla

    def amend_deadline(self, dossier: Dossier | str, kind: str, actor: Actor, *, sla: SlaClock,
                       step_due_at: datetime | None, effects: Mapping[str, Any] | None = None,
                       note: str | None = None) -> Dossier:
        """Append a fact that moves the dossier's deadline but not its state (an extension, form 04; a recount
        of the limit): one event carrying the new clock, its outbox rows (the portal's NgayHenTra) and the
        timers anchored to the due date re-armed, in one transaction. The system path: callers check who
        may do it."""
        d = self.store.get(dossier) if isinstance(dossier, str) else dossier
        compiled = self._get_compiled(d.procedure, d.definition_version)
        now = self.clock.now()
        changed = {"sla"} | ({"step_due_at"} if step_due_at != d.step_due_at else set())
        fx: dict[str, Any] = {**(effects or {}), "sla": sla_to_dict(sla)}
        if "step_due_at" in changed:
            fx["step_due_at"] = None if step_due_at is None else step_due_at.isoformat()
        new = attrs.evolve(d, updated_at=now, revision=d.revision + 1, sla=sla, step_due_at=step_due_at)
        event = DossierEvent(dossier_id=d.id, seq=new.revision, at=now, kind=kind, trigger=None, from_state=d.state,
                             to_state=d.state, status=d.status, actor=actor.id, agency=actor.agency,
                             custodian=d.custodian, definition_version=d.definition_version, effects=fx, note=note)
        w = self.writer
        new.chain = w.link(event, d)
        # data is not among the changed columns: the stored (sealed) values stay as they are
        w.write(new, event, expected=d.revision, changed=frozenset(changed),
                outbox=w.outbox(new, event, compiled.definition, compiled.personal) if self.outbox_rules else (),
                timers=compiled.timers.on_fire(d, new, self.calendar, now) if compiled.timers else None)
        if isinstance(dossier, Dossier):
            for name in ("updated_at", "revision", "sla", "step_due_at", "chain"):
                setattr(dossier, name, getattr(new, name))
            return dossier
        return new

    def record(self, dossier: Dossier | str, kind: str, actor: Actor, *, effects: Mapping[str, Any] | None = None,
               note: str | None = None, outbox: Sequence[OutboxMessage] = ()) -> Dossier:
        """Append a fact that moves nothing (an escalation, recorded lateness): one event with ``outbox``,
        under the same custody and revision checks as a fire. Replay keeps the snapshot as it was.
        Personal values of the dossier in ``outbox`` payloads are stored as vault references."""
        d = self.store.get(dossier) if isinstance(dossier, str) else dossier
        actor = self.authoriser.custodian(actor, d, kind)
        now = self.clock.now()
        new = attrs.evolve(d, updated_at=now, revision=d.revision + 1)
        event = DossierEvent(dossier_id=d.id, seq=new.revision, at=now, kind=kind, trigger=None, from_state=d.state,
                             to_state=d.state, status=d.status, actor=actor.id, agency=actor.agency,
                             custodian=d.custodian, definition_version=d.definition_version,
                             effects=dict(effects) if effects else None, note=note)
        w = self.writer
        new.chain = w.link(event, d)
        if outbox:
            outbox = w.seal_outbox(list(outbox), d, self._get_compiled(d.procedure, d.definition_version).personal)
        w.write(new, event, expected=d.revision, outbox=outbox)
        if isinstance(dossier, Dossier):
            dossier.updated_at, dossier.revision, dossier.chain = new.updated_at, new.revision, new.chain
            return dossier
        return new

    def extend(self, dossier: Dossier | str, actor: Actor, *, reason: str, new_due: datetime | date,
               signer_role: str = "") -> Dossier:
        """Issue form 04 (apology and new appointment) before the due date, once per dossier, as the custodian.

        The new appointment drives the portal's NgayHenTra and reminders; the legal due date stays in the SLA
        clock, so statistics still count lateness against it. Refusals raise ``ExtensionRefused`` /
        ``NotCustodian``, change nothing and are audited (``procflow.forms.extension``)."""
        from procflow.forms.extension import extend

        return extend(self, dossier, actor, reason=reason, new_due=new_due, signer_role=signer_role)

    def timer_table(self, procedure: str, version: int) -> TimerTable | None:
        """The compiled timers of a definition version (None when it declares none)."""
        return self._get_compiled(procedure, version).timers

    def allowed_triggers(self, dossier: Dossier) -> tuple[str, ...]:
        return self._get_compiled(dossier.procedure, dossier.definition_version).allowed.get(dossier.state, ())

    def _check_data(self, defn: ProcedureDefinition, dossier_id: str | None, data: Mapping[str, Any], *,
                    filing: bool) -> dict[str, Any]:
        declared = field_checkers(defn)  # compiled once per definition (procflow.fieldtypes)
        unknown = sorted(data.keys() - declared.keys())
        if unknown:
            raise InvalidData(f"procedure {defn.code} v{defn.version} declares no field(s) {', '.join(unknown)} "
                              f"(declared: {', '.join(sorted(declared)) or 'none'})", dossier_id=dossier_id,
                              field=unknown[0])
        if filing:
            missing = [f.name for f in defn.fields if f.required and data.get(f.name) in (None, "")]
            if missing:
                raise InvalidData(f"procedure {defn.code}: required field(s) missing: {', '.join(missing)}",
                                  field=missing[0])
        return check_values(defn, data, dossier_id=dossier_id)  # declared types; only the fields given

    @property
    def audit_refusals(self) -> bool:
        """Whether refusals are written to the audit table (``procflow.authoriser``)."""
        return self.authoriser.audit_refusals

    def _refuse(self, actor: Actor, d: Dossier | None, action: str, exc: ProcflowError) -> NoReturn:
        """Audit and raise a refusal; a bare trigger name is audited as ``fire:<trigger>``."""
        self.authoriser.refuse(actor, d, action if ":" in action else f"fire:{action}", exc)

    # -- reading ----------------------------------------------------------------------------------------
    # get / history / replay are the internal, system path: real values, no access check, no audit.
    # Reads on behalf of a person go through read / read_history / find_dossiers (procflow.access).
    def get(self, dossier_id: str) -> Dossier:
        return self.open_record(self.store.get(dossier_id))

    def history(self, dossier_id: str) -> list[DossierEvent]:
        return self.open_events(self.store.events(dossier_id))

    def replay(self, dossier_id: str) -> Dossier:
        return replay(self.history(dossier_id))

    def read(self, dossier_id: str, actor: Actor, *, purpose: str, unmask: bool = False) -> Dossier:
        """The dossier as ``actor`` may see it: access-checked (``AccessDenied``), audited, masked unless
        ``unmask`` (which needs the role ``personal_data:unmask``)."""
        return self.reader.read(dossier_id, actor, purpose=purpose, unmask=unmask)

    def read_history(self, dossier_id: str, actor: Actor, *, purpose: str, unmask: bool = False) -> list[DossierEvent]:
        """The dossier's events as ``actor`` may see them (checked, audited, masked unless ``unmask``)."""
        return self.reader.read_history(dossier_id, actor, purpose=purpose, unmask=unmask)

    def find_dossiers(self, national_id: str, actor: Actor, *, purpose: str) -> list[str]:
        """Dossiers whose national-ID fields hold ``national_id`` that ``actor`` may read (HMAC index; audited)."""
        return self.reader.find_dossiers(national_id, actor, purpose=purpose)

    def batch(self) -> AbstractContextManager[None]:
        """Group commit for bulk work and simulation: all fires inside commit together or not at all."""
        return self.store.batch()
