"""The engine: fires triggers on plain dossier records, durably, one custodian at a time.

Each definition version is compiled ONCE into a ``transitions.Machine`` (``add_model`` per dossier is
O(models) and would make each transition slower as the number of live dossiers grows). A fire checks
custody, roles and guards in memory, moves the state through the compiled machine, updates the SLA clock
and writes snapshot + event + outbox in one store transaction guarded by an optimistic revision check.
A refusal changes nothing on the dossier; it is recorded only in the audit table.

Declared personal fields never reach the snapshot or the event log: their values are sealed in the vault
(``procflow.privacy.vault``, encrypted by default) in the same transaction, and references take their place; every
event carries the hash of the dossier's previous event (``procflow.privacy.hashchain``). Records the engine hands
back (``file``, ``fire``, ``get``, ``history``, ``replay``) hold the real values — the system path; reads
for people go through ``read`` / ``read_history`` (``procflow.privacy.access``: checked, audited, masked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from procflow.calendar import WorkingCalendar
from procflow.clock import Clock, SystemClock
from procflow.definition.model import ClockMode, ProcedureDefinition
from procflow.definition.reader import parse_definition
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind, filed_effects, replay, sla_to_dict
from procflow.engine.amendments import Amendments
from procflow.engine.authoriser import Authoriser
from procflow.engine.clockmove import advance_clock
from procflow.engine.compiled import CompiledDefinition, VersionsInForce
from procflow.engine.eventwriter import EventWriter
from procflow.engine.guards import BUILTIN_GUARDS
from procflow.engine.sealing import Sealing
from procflow.engine.timers import TimerTable
from procflow.errors import DefinitionError, GuardRejected, InvalidData, Problem, ProcflowError
from procflow.fieldtypes import check_values, field_checkers
from procflow.jurisdiction import Registry
from procflow.privacy.access import AccessPolicy, Reader
from procflow.privacy.directory import Directory
from procflow.privacy.identity import DirectoryIdentity
from procflow.privacy.masking import mask_record
from procflow.privacy.vault import Vault
from procflow.sla import SlaClock
from procflow.store.base import OutboxMessage, Store

if TYPE_CHECKING:
    from procflow.privacy.identity import IdentityProvider

__all__ = ["Engine", "Guard", "OutboxRule"]

Guard = Callable[[Dossier, Mapping[str, Any]], bool]
"""A pure, in-process check: ``guard(dossier, data) -> bool``. Never I/O (that belongs in adapters)."""

OutboxRule = Callable[[Dossier, DossierEvent, ProcedureDefinition], Iterable[OutboxMessage]]
"""Called inside the transition to decide which external effects the event causes (hooks that subscribe)."""

_log = logging.getLogger("procflow.engine.core")
_NO_TX = nullcontext()


class Engine(Sealing, Amendments):
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
        ``procflow.privacy.env_keys.default_key_provider``); ``hash_chain``: link each event to the previous one
        (``procflow audit verify``); ``access_policy``: who may ``read`` a dossier (custody path + oversight);
        ``identity``: who the acting officials are and which roles they hold (``procflow.privacy.identity``; default:
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
        self._in_force = VersionsInForce(self._compiled)
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
        self._in_force.clear()
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
        ``version`` None: the version in force on the filing day (``effective_from`` / ``effective_until``;
        ``procflow.engine.compiled.VersionsInForce``), not merely the latest registered.

        ``location`` is the commune where the subject is (residence, land); when it differs from
        ``filed_at`` the dossier is location-independent and routed to the competent agency, while the
        filing commune stays the point of contact for the result.
        """
        now = self.clock.now()
        compiled = ((version is None and self._in_force.on(procedure, now.astimezone(self.calendar.tz).date()))
                    or self._get_compiled(procedure, version))  # the version in force on the filing day
        defn = compiled.definition
        if online and defn.online_initial is None:
            raise DefinitionError(f"procedure {defn.code} v{defn.version} takes no online filing "
                                  "(its definition declares no online_initial state)")
        initial = defn.online_initial if online and defn.online_initial is not None else defn.initial
        routing = self.registry.route(filed_at=filed_at, location=location or filed_at,
                                      competent_kind=defn.competent_kind)
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
                w.memo.set_refs(dossier.id, dossier.data, stored)
                row = attrs.evolve(dossier, data=stored)
            event = DossierEvent(dossier_id=dossier.id, seq=1, at=now, kind=EventKind.FILED, trigger=None,
                                 from_state=None, to_state=dossier.state, status=dossier.status, actor=actor.id,
                                 agency=actor.agency, custodian=dossier.custodian,
                                 definition_version=defn.version, effects=filed_effects(row))
            w.link(event, None)
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
        d = self._stored(dossier) if isinstance(dossier, str) else dossier
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
        sla = d.sla if clock_fixed else advance_clock(self.calendar, src, dest, d.sla, now, defn)
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
                      sla=sla, step_due_at=step_due, data=new_data, revision=d.revision + 1)
        # personal values written here go to the vault in the same transaction as the snapshot and event
        with self.store.transaction() if personal and values and not personal.keys().isdisjoint(values) else _NO_TX:
            row = self._sealed_row(d, new, values, personal, effects) if personal and values else new
            event = DossierEvent(dossier_id=d.id, seq=new.revision, at=now, kind=EventKind.FIRED, trigger=trigger,
                                 from_state=d.state, to_state=dest.name, status=dest.portal_status, actor=actor.id,
                                 agency=actor.agency, custodian=custodian, definition_version=d.definition_version,
                                 effects=effects or None, note=note)
            w = self.writer
            w.link(event, d)
            w.write(row, event, expected=d.revision, changed=frozenset(changed),
                    outbox=w.outbox(new, event, defn, compiled.personal) if self.outbox_rules else (),
                    timers=compiled.timers.on_fire(d, new, self.calendar, now) if compiled.timers else None)
        if isinstance(dossier, Dossier):  # the caller's record follows the committed row (no string setattr: hot)
            dossier.state, dossier.status, dossier.custodian, dossier.updated_at = dest.name, new.status, custodian, now
            dossier.sla, dossier.step_due_at, dossier.data, dossier.revision = sla, step_due, new.data, new.revision
            return dossier
        return new

    # -- lookups and refusals ---------------------------------------------------------------------------
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
        """Whether refusals are written to the audit table (``procflow.engine.authoriser``)."""
        return self.authoriser.audit_refusals

    def _refuse(self, actor: Actor, d: Dossier | None, action: str, exc: ProcflowError) -> NoReturn:
        """Audit and raise a refusal; a bare trigger name is audited as ``fire:<trigger>``."""
        self.authoriser.refuse(actor, d, action if ":" in action else f"fire:{action}", exc)

    # -- reading ----------------------------------------------------------------------------------------
    # get / history / replay are the internal, system path: real values, no access check, no audit.
    # Reads on behalf of a person go through read / read_history / find_dossiers (procflow.privacy.access).
    def get(self, dossier_id: str) -> Dossier:
        return self.open_record(self._stored(dossier_id))

    def _stored(self, dossier_id: str) -> Dossier:
        """The stored record (personal values as references); the store's chain head, when it reads it with the
        record, is remembered so the next event links without another read."""
        get_with_head = getattr(self.store, "get_with_head", None)
        if get_with_head is None:
            return self.store.get(dossier_id)
        d: Dossier
        d, head = get_with_head(dossier_id)
        if head is not None:
            self.writer.memo.set_head(d.id, d.revision, head)
        return d

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

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit for bulk work and simulation: all fires inside commit together or not at all (a
        rolled-back batch also empties what the engine remembers of the dossiers, ``procflow.engine.memo``)."""
        try:
            with self.store.batch():
                yield
        except BaseException:
            self.writer.memo.clear()
            raise
