"""Changes to a dossier that are not moves: a deadline amended (form 04, a recount), a fact recorded.

A mixin of Engine: these write an event and its outbox rows through the same event writer as a fire, but
take no transition, so they live apart from the state machine's hot path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

import attrs

from procflow.calendar import WorkingCalendar
from procflow.clock import Clock
from procflow.dossier import Actor, Dossier, DossierEvent, sla_to_dict
from procflow.engine.authoriser import Authoriser
from procflow.engine.compiled import CompiledDefinition
from procflow.engine.eventwriter import EventWriter
from procflow.sla import SlaClock
from procflow.store.base import OutboxMessage, Store

__all__ = ["Amendments"]


if TYPE_CHECKING:
    from procflow.engine.core import Engine


class Amendments:
    store: Store
    clock: Clock
    calendar: WorkingCalendar
    writer: EventWriter
    authoriser: Authoriser
    outbox_rules: list[Any]  # Engine.outbox_rules (OutboxRule, defined beside Engine)

    if TYPE_CHECKING:  # provided by the class this mixes into
        def _get_compiled(self, code: str, version: int | None = None) -> CompiledDefinition: ...  # Engine's

        def _stored(self, dossier_id: str) -> Dossier: ...  # Engine's

    # -- deadline amendments and recorded facts ----------------------------------------------------------
    def amend_deadline(self, dossier: Dossier | str, kind: str, actor: Actor, *, sla: SlaClock,
                       step_due_at: datetime | None, effects: Mapping[str, Any] | None = None,
                       note: str | None = None) -> Dossier:
        """Append a fact that moves the dossier's deadline but not its state (an extension, form 04; a recount
        of the limit): one event carrying the new clock, its outbox rows (the portal's NgayHenTra) and the
        timers anchored to the due date re-armed, in one transaction. The system path: callers check who
        may do it."""
        d = self._stored(dossier) if isinstance(dossier, str) else dossier
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
        w.link(event, d)
        # data is not among the changed columns: the stored (sealed) values stay as they are
        w.write(new, event, expected=d.revision, changed=frozenset(changed),
                outbox=w.outbox(new, event, compiled.definition, compiled.personal) if self.outbox_rules else (),
                timers=compiled.timers.on_fire(d, new, self.calendar, now) if compiled.timers else None)
        if isinstance(dossier, Dossier):
            for name in ("updated_at", "revision", "sla", "step_due_at"):
                setattr(dossier, name, getattr(new, name))
            return dossier
        return new

    def record(self, dossier: Dossier | str, kind: str, actor: Actor, *, effects: Mapping[str, Any] | None = None,
               note: str | None = None, outbox: Sequence[OutboxMessage] = ()) -> Dossier:
        """Append a fact that moves nothing (an escalation, recorded lateness): one event with ``outbox``,
        under the same custody and revision checks as a fire. Replay keeps the snapshot as it was.
        Personal values of the dossier in ``outbox`` payloads are stored as vault references."""
        d = self._stored(dossier) if isinstance(dossier, str) else dossier
        actor = self.authoriser.custodian(actor, d, kind)
        now = self.clock.now()
        new = attrs.evolve(d, updated_at=now, revision=d.revision + 1)
        event = DossierEvent(dossier_id=d.id, seq=new.revision, at=now, kind=kind, trigger=None, from_state=d.state,
                             to_state=d.state, status=d.status, actor=actor.id, agency=actor.agency,
                             custodian=d.custodian, definition_version=d.definition_version,
                             effects=dict(effects) if effects else None, note=note)
        w = self.writer
        w.link(event, d)
        if outbox:
            outbox = w.seal_outbox(list(outbox), d, self._get_compiled(d.procedure, d.definition_version).personal)
        w.write(new, event, expected=d.revision, outbox=outbox)
        if isinstance(dossier, Dossier):
            dossier.updated_at, dossier.revision = new.updated_at, new.revision
            return dossier
        return new

    def extend(self, dossier: Dossier | str, actor: Actor, *, reason: str, new_due: datetime | date,
               signer_role: str = "") -> Dossier:
        """Issue form 04 (apology and new appointment) before the due date, once per dossier, as the custodian.

        The new appointment drives the portal's NgayHenTra and reminders; the legal due date stays in the SLA
        clock, so statistics still count lateness against it. Refusals raise ``ExtensionRefused`` /
        ``NotCustodian``, change nothing and are audited (``procflow.forms.extension``)."""
        from procflow.forms.extension import extend

        return extend(cast("Engine", self), dossier, actor, reason=reason, new_due=new_due, signer_role=signer_role)
