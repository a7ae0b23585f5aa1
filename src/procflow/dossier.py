"""The dossier (hồ sơ) record, its events and the acting official.

A dossier is a plain record: the engine never attaches it to a state machine. Its snapshot is a cache of
its event log: folding the events (``replay``) reproduces it exactly, which tests check as a property.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from procflow.errors import UsageError
from procflow.jsontext import effects_text_of, isotext
from procflow.sla import SlaClock

__all__ = ["Actor", "Dossier", "DossierEvent", "EventKind", "replay"]


class EventKind:
    FILED = "filed"
    FIRED = "fired"
    MIGRATED = "migrated"
    ESCALATED = "escalated"  # a timer escalated the dossier to the head of the unit (state unchanged)
    OVERDUE = "overdue"  # the due date passed: lateness recorded (state unchanged; the dossier stays counted late)
    EXTENDED = "extended"  # form 04 issued before the due date: apology + new appointment (Engine.extend)
    DUE_RECOUNTED = "due_recounted"  # `procflow db upgrade` recounted the deadline by Civil Code art. 147


def _roles(roles: Iterable[str]) -> frozenset[str]:
    # a named converter, not ``frozenset``: mypy's attrs plugin cannot type a generic class used as converter
    return frozenset(roles)


@attrs.frozen
class Actor:
    """An official (cán bộ) acting for an agency, as the caller names them. The engine resolves the official
    through its identity provider (``procflow.privacy.identity``): ``roles`` left empty means "the roles the
    provider grants"; roles named here are a claim, refused (``RoleNotGranted``) unless granted."""

    id: str
    agency: str
    roles: frozenset[str] = attrs.field(default=frozenset(), converter=_roles)
    # procflow's own machinery (``Actor.system``), trusted in-process: never looked up in the officials
    # directory, never made from a command line or a file; an actor that merely claims the role "*" is not one
    system_actor: bool = attrs.field(default=False, kw_only=True, repr=False)

    @classmethod
    def system(cls, agency: str, name: str = "system") -> Actor:
        """The simulator, scheduler and reconciliation act under an explicit system identity."""
        return cls(id=f"{name}@{agency}", agency=agency, roles=frozenset({"*"}), system_actor=True)


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isotext(value)  # a filing writes its instant five times: formatted once


def sla_to_dict(c: SlaClock) -> dict[str, Any]:
    out = {
        "working_days": c.working_days,
        "started_at": _iso(c.started_at),
        "due_at": _iso(c.due_at),
        "paused_at": _iso(c.paused_at),
        "stopped_at": _iso(c.stopped_at),
    }
    if c.extended_due_at is not None:  # only when extended: older events and snapshots hash as before
        out["extended_due_at"] = _iso(c.extended_due_at)
    return out


def sla_from_dict(d: Mapping[str, Any]) -> SlaClock:
    return SlaClock(
        working_days=d["working_days"],
        started_at=_dt(d["started_at"]),
        due_at=_dt(d["due_at"]),
        paused_at=_dt(d["paused_at"]),
        stopped_at=_dt(d["stopped_at"]),
        extended_due_at=_dt(d.get("extended_due_at")),
    )


@attrs.define(slots=True, eq=True)
class Dossier:
    """The current snapshot of one dossier. ``revision`` is the optimistic-concurrency version."""

    id: str
    procedure: str
    definition_version: int
    state: str
    status: int
    custodian: str
    agencies: dict[str, str]
    location_independent: bool
    received_at: datetime
    updated_at: datetime
    sla: SlaClock
    step_due_at: datetime | None = None
    data: dict[str, Any] = attrs.field(factory=dict)
    revision: int = 1

    @property
    def receiving(self) -> str:
        """The point of contact (đầu mối tiếp nhận) where the citizen filed and collects the result."""
        return self.agencies["receiving"]

    @property
    def location(self) -> str:
        return self.agencies["location"]

    def copy(self) -> Dossier:
        return attrs.evolve(self, agencies=dict(self.agencies), data=dict(self.data))


@attrs.frozen
class DossierEvent:
    """One append-only fact about a dossier. ``effects`` holds only what changed besides state/custodian."""

    dossier_id: str
    seq: int
    at: datetime
    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str
    status: int
    actor: str
    agency: str
    custodian: str
    definition_version: int
    effects: Mapping[str, Any] | None = None
    note: str | None = None
    prev_hash: bytes | None = None  # hash of the dossier's previous event (procflow.privacy.hashchain)
    hash: bytes | None = None  # SHA-256 over prev_hash and this event's content
    effects_text: str | None = attrs.field(default=None, init=False, eq=False, repr=False)  # cached JSON

    @property
    def handoff(self) -> bool:
        return "custodian_from" in (self.effects or {})

    def effects_json(self) -> str | None:
        if self.effects_text is not None:
            return self.effects_text
        return None if not self.effects else effects_text_of(self.effects)


def filed_effects(d: Dossier, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything a 'filed' event must carry for replay to rebuild the dossier."""
    return {
        "procedure": d.procedure,
        "agencies": dict(d.agencies),
        "location_independent": d.location_independent,
        "received_at": _iso(d.received_at),
        "sla": sla_to_dict(d.sla),
        "step_due_at": _iso(d.step_due_at),
        "data": dict(d.data if data is None else data),
    }


def replay(events: Iterable[DossierEvent]) -> Dossier:
    """Fold a dossier's events into its snapshot (the event log is the truth)."""
    d: Dossier | None = None
    for e in events:
        fx = e.effects or {}
        if e.kind == EventKind.FILED:
            d = Dossier(
                id=e.dossier_id,
                procedure=fx["procedure"],
                definition_version=e.definition_version,
                state=e.to_state,
                status=e.status,
                custodian=e.custodian,
                agencies=dict(fx["agencies"]),
                location_independent=fx["location_independent"],
                received_at=datetime.fromisoformat(fx["received_at"]),
                updated_at=e.at,
                sla=sla_from_dict(fx["sla"]),
                step_due_at=_dt(fx["step_due_at"]),
                data=dict(fx["data"]),
                revision=e.seq,
            )
            continue
        if d is None:
            raise UsageError(f"dossier {e.dossier_id}: first event is {e.kind!r}, not 'filed'")
        d.state = e.to_state
        d.status = e.status
        d.custodian = e.custodian
        d.definition_version = e.definition_version
        d.updated_at = e.at
        d.revision = e.seq
        if "sla" in fx:
            d.sla = sla_from_dict(fx["sla"])
        if "step_due_at" in fx:
            d.step_due_at = _dt(fx["step_due_at"])
        if "data" in fx:
            d.data.update(fx["data"])
        if "agencies" in fx:
            d.agencies = dict(fx["agencies"])
    if d is None:
        raise UsageError("no events to replay")
    return d
