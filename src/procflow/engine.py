"""The engine: fires triggers on plain dossier records, durably, one custodian at a time.

Each definition version is compiled ONCE into a ``transitions.Machine`` (``add_model`` per dossier is
O(models) and would make each transition slower as the number of live dossiers grows). A fire checks
custody, roles and guards in memory, moves the state through the compiled machine, updates the SLA clock
and writes snapshot + event + outbox in one store transaction guarded by an optimistic revision check.
A refusal changes nothing on the dossier; it is recorded only in the audit table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import attrs
from transitions import Machine

from procflow.calendar import ClockPolicy, SlaClock, WorkingCalendar
from procflow.clock import Clock, SystemClock
from procflow.definition import ClockMode, ProcedureDefinition, Step, Transition, parse_definition
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind, filed_effects, replay, sla_to_dict
from procflow.errors import (
    DefinitionError,
    GuardRejected,
    InvalidData,
    NotCustodian,
    Problem,
    ProcflowError,
    TransitionNotAllowed,
)
from procflow.guards import BUILTIN_GUARDS
from procflow.jurisdiction import Registry
from procflow.store.base import AuditEntry, OutboxMessage, Store

__all__ = ["CompiledDefinition", "Engine", "Guard", "OutboxRule"]

Guard = Callable[[Dossier, Mapping[str, Any]], bool]
"""A pure, in-process check: ``guard(dossier, data) -> bool``. Never I/O (that belongs in adapters)."""

OutboxRule = Callable[[Dossier, DossierEvent, ProcedureDefinition], Iterable[OutboxMessage]]
"""Called inside the transition to decide which external effects the event causes (hooks that subscribe)."""


@attrs.frozen
class CompiledDefinition:
    definition: ProcedureDefinition
    machine: Machine
    table: Mapping[tuple[str, str], Transition]
    steps: Mapping[str, Step]
    allowed: Mapping[str, tuple[str, ...]]

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
                table[(src, t.trigger)] = attrs.evolve(t, dest=compiled_dest) if compiled_dest != t.dest else t
        allowed = {s.name: tuple(sorted(t.trigger for t in defn.transitions if s.name in t.source))
                   for s in defn.states}
        return cls(definition=defn, machine=machine, table=table, steps={s.name: s for s in defn.states},
                   allowed=allowed)


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
    ) -> None:
        self.store = store
        self.registry = registry if registry is not None else Registry.default()
        self.calendar = calendar if calendar is not None else WorkingCalendar()
        self.clock = clock if clock is not None else SystemClock()
        self.guards: dict[str, Guard] = {**BUILTIN_GUARDS, **(guards or {})}
        self.outbox_rules = list(outbox_rules)
        self.audit_refusals = audit_refusals
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
    ) -> Dossier:
        """Receive a dossier (tiếp nhận) at the one-stop desk of commune ``filed_at``.

        ``location`` is the commune where the subject is (residence, land); when it differs from
        ``filed_at`` the dossier is location-independent and routed to the competent agency, while the
        filing commune stays the point of contact for the result.
        """
        compiled = self._get_compiled(procedure, version)
        defn = compiled.definition
        routing = self.registry.route(filed_at=filed_at, location=location or filed_at,
                                      competent_kind=defn.competent_kind)
        now = self.clock.now()
        receiving = routing.receiving.code
        if actor.agency != receiving and "*" not in actor.roles:
            self._refuse(actor, None, f"file:{procedure}", NotCustodian(
                dossier_id="(new)", agency=actor.agency, custodian=receiving, trigger="file",
                reason=f"a dossier filed at {routing.receiving.name} ({receiving}) is received by that "
                       f"commune's one-stop desk, not by {actor.agency}"))
        values = self._check_data(defn, None, data or {}, filing=True)
        agencies = {"receiving": receiving, "competent": routing.competent.code,
                    "location": routing.location.code}
        for role, kind in defn.roles.items():
            agencies[role] = self.registry.resolve(kind, routing.location.code).code
        step = compiled.steps[defn.initial]
        sla = SlaClock.start(self.calendar, now, defn.sla_days)
        if step.clock is ClockMode.STOPPED:
            sla = sla.stop(now)
        elif step.clock is not ClockMode.RUNNING:
            sla = sla.pause(now)
        day = now.astimezone(self.calendar.tz).strftime("%y%m%d")
        with self.store.transaction():
            seq = self.store.next_sequence(receiving, day)
            dossier = Dossier(
                id=f"{receiving}-{day}-{seq:04d}", procedure=defn.code, definition_version=defn.version,
                state=defn.initial, status=step.portal_status, custodian=agencies[step.holder],
                agencies=agencies, location_independent=routing.location_independent, received_at=now,
                updated_at=now, sla=sla,
                step_due_at=self.calendar.due_at(now, step.sla_days) if step.sla_days is not None else None,
                data=values, revision=1,
            )
            event = DossierEvent(dossier_id=dossier.id, seq=1, at=now, kind=EventKind.FILED, trigger=None,
                                 from_state=None, to_state=dossier.state, status=dossier.status, actor=actor.id,
                                 agency=actor.agency, custodian=dossier.custodian,
                                 definition_version=defn.version, effects=filed_effects(dossier))
            self.store.insert_dossier(dossier, event, self._outbox(dossier, event, defn))
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
        if actor.agency != d.custodian:
            self._refuse(actor, d, trigger, NotCustodian(dossier_id=d.id, agency=actor.agency,
                                                         custodian=d.custodian, trigger=trigger))
        t = compiled.table.get((d.state, trigger))
        if t is None:
            self._refuse(actor, d, trigger, TransitionNotAllowed(
                dossier_id=d.id, state=d.state, trigger=trigger, allowed=compiled.allowed.get(d.state, ())))
            raise AssertionError("unreachable")
        if t.roles and not actor.roles.intersection(t.roles) and "*" not in actor.roles:
            self._refuse(actor, d, trigger, NotCustodian(
                dossier_id=d.id, agency=actor.agency, custodian=d.custodian, trigger=trigger,
                reason=f"dossier {d.id}: trigger {trigger!r} needs role {' or '.join(t.roles)}; "
                       f"{actor.id} has {', '.join(sorted(actor.roles)) or 'no roles'}"))
        if t.level is not None and self.registry.agency(d.custodian).level != t.level:
            self._refuse(actor, d, trigger, NotCustodian(
                dossier_id=d.id, agency=actor.agency, custodian=d.custodian, trigger=trigger,
                reason=f"dossier {d.id}: trigger {trigger!r} is fired at {t.level} level; "
                       f"{d.custodian} is not a {t.level}-level agency"))
        defn = compiled.definition
        values = self._check_data(defn, d.id, data, filing=False) if data else None
        if t.guards:
            view = {**d.data, **values} if values else d.data
            for g in t.guards:
                if not self.guards[g](d, view):
                    self._refuse(actor, d, trigger, GuardRejected(dossier_id=d.id, state=d.state, trigger=trigger,
                                                                  guard=g))
        dest = compiled.steps[t.dest]
        now = self.clock.now()
        changed: set[str] = set()
        effects: dict[str, Any] = {}
        sla = self._advance_clock(compiled.steps[d.state], dest, d.sla, now, defn)
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
        if values:
            new_data = {**d.data, **values}
            changed.add("data")
            effects["data"] = values
        new = Dossier(id=d.id, procedure=d.procedure, definition_version=d.definition_version, state=dest.name,
                      status=dest.portal_status, custodian=custodian, agencies=d.agencies,
                      location_independent=d.location_independent, received_at=d.received_at, updated_at=now,
                      sla=sla, step_due_at=step_due, data=new_data, revision=d.revision + 1)
        event = DossierEvent(dossier_id=d.id, seq=new.revision, at=now, kind=EventKind.FIRED, trigger=trigger,
                             from_state=d.state, to_state=dest.name, status=dest.portal_status, actor=actor.id,
                             agency=actor.agency, custodian=custodian, definition_version=d.definition_version,
                             effects=effects or None, note=note)
        self.store.apply(new, d.revision, event, self._outbox(new, event, defn) if self.outbox_rules else (),
                         frozenset(changed))
        if isinstance(dossier, Dossier):
            for name in ("state", "status", "custodian", "updated_at", "sla", "step_due_at", "data", "revision"):
                setattr(dossier, name, getattr(new, name))
            return dossier
        return new

    def _advance_clock(self, src: Step, dest: Step, sla: SlaClock, now: datetime,
                       defn: ProcedureDefinition) -> SlaClock:
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

    def allowed_triggers(self, dossier: Dossier) -> tuple[str, ...]:
        return self._get_compiled(dossier.procedure, dossier.definition_version).allowed.get(dossier.state, ())

    def _check_data(self, defn: ProcedureDefinition, dossier_id: str | None, data: Mapping[str, Any], *,
                    filing: bool) -> dict[str, Any]:
        declared = {f.name: f for f in defn.fields}
        unknown = sorted(set(data) - set(declared))
        if unknown:
            raise InvalidData(f"procedure {defn.code} v{defn.version} declares no field(s) {', '.join(unknown)} "
                              f"(declared: {', '.join(sorted(declared)) or 'none'})", dossier_id=dossier_id,
                              field=unknown[0])
        if filing:
            missing = [f.name for f in defn.fields if f.required and data.get(f.name) in (None, "")]
            if missing:
                raise InvalidData(f"procedure {defn.code}: required field(s) missing: {', '.join(missing)}",
                                  field=missing[0])
        return dict(data)

    def _outbox(self, d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> list[OutboxMessage]:
        out: list[OutboxMessage] = []
        for rule in self.outbox_rules:
            out.extend(rule(d, e, defn))
        return out

    def _refuse(self, actor: Actor, d: Dossier | None, action: str, exc: ProcflowError) -> None:
        if self.audit_refusals:
            self.store.record_audit(AuditEntry(at=self.clock.now(), actor=actor.id, agency=actor.agency,
                                               dossier_id=d.id if d is not None else None,
                                               action=action if ":" in action else f"fire:{action}",
                                               outcome=f"refused:{type(exc).__name__}", detail=str(exc)))
        raise exc

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, dossier_id: str) -> Dossier:
        return self.store.get(dossier_id)

    def history(self, dossier_id: str) -> list[DossierEvent]:
        return self.store.events(dossier_id)

    def replay(self, dossier_id: str) -> Dossier:
        return replay(self.store.events(dossier_id))

    def batch(self) -> AbstractContextManager[None]:
        """Group commit for bulk work and simulation: all fires inside commit together or not at all."""
        return self.store.batch()
