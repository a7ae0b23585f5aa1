"""``dossier_story``: scenario tests that read like the dossier's paper trail.

::

    def test_supplement_then_approval(dossier_story):
        story = dossier_story("1.001193", filed_at="31135", data=CHILD)      # filed at phường Ninh Kiều
        story.expect(status=2, custodian="receiving", sla="running")
        story.fire("accept").fire("request_supplement").expect(status=5, sla="paused")
        story.wait(working_days=2).fire("resubmit").expect(sla="running", due="2026-04-22")
        story.fire("approve", data={"documents_complete": True}).fire("return_result")
        story.expect(status=10, on_time=True).deliver().expect_portal(2, 4, 5, 4, 9, 10)

Each step acts as the right official unless told otherwise: an officer of the agency holding the dossier,
with the role the transition asks for. ``by=`` names another agency (code or ward code) or an ``Actor``
to write the refusals. The officials a story names are enrolled in the engine's officials directory with
the roles they claim (``procflow.testing.directory``), so the engine's identity checks run as deployed.
``story.refused("approve", by="31120")`` asserts the engine said no *and* that the
dossier, its events and the outbox are exactly as before. A failed expectation shows the whole timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from procflow.dossier import Actor, Dossier, DossierEvent
from procflow.engine.core import Engine
from procflow.engine.outbox import STATUS_SYNC
from procflow.errors import InvalidData, ProcflowError
from procflow.testing.directory import staff_of

__all__ = ["Story", "StoryFactory"]

_ROLES = ("receiving", "competent", "location")


class Story:
    """One dossier's life in a test. Every method returns the story, so steps chain."""

    def __init__(self, engine: Engine, dossier: Dossier, *, deliver: Callable[[], object] | None = None,
                 bundles: Any = None) -> None:
        self.engine = engine
        self.dossier = dossier
        self._deliver = deliver
        self._bundles = bundles

    # -- who ------------------------------------------------------------------------------------------------
    def _agency(self, who: str) -> str:
        if who in self.dossier.agencies:
            return self.dossier.agencies[who]
        if who.isdigit():
            return self.engine.registry.commune(who).code
        return self.engine.registry.agency(who).code

    def actor(self, trigger: str, by: str | Actor | None = None) -> Actor:
        """The official who would fire ``trigger`` now: the custodian (or ``by``) with the needed role."""
        if isinstance(by, Actor):
            staff_of(self.engine).actors(by)
            return by
        defn = self.engine.definition(self.dossier.procedure, self.dossier.definition_version)
        roles = next((t.roles for t in defn.transitions if t.trigger == trigger and self.dossier.state in t.source),
                     ())
        agency = self._agency(by) if by is not None else self.dossier.custodian
        name = roles[0] if roles else "official"
        actor = Actor(id=f"{name}@{agency}", agency=agency, roles=frozenset(roles))
        staff_of(self.engine).actors(actor)  # the official the story picks is one the directory knows
        return actor

    # -- acting ---------------------------------------------------------------------------------------------
    def fire(self, trigger: str, *, by: str | Actor | None = None, data: Mapping[str, Any] | None = None,
             note: str | None = None) -> Story:
        """Fire ``trigger`` as the right official (or ``by``); a refusal fails the test with the timeline."""
        actor = self.actor(trigger, by)
        try:
            if self._bundles is not None and self._bundles.bundle_of(self.dossier.id) is not None:
                self.dossier = self._bundles.fire(self.dossier, trigger, actor, data=data, note=note).dossier
            else:
                self.dossier = self.engine.fire(self.dossier, trigger, actor, data=data, note=note)
        except ProcflowError as exc:
            raise AssertionError(f"{trigger!r} by {actor.id} was refused: {exc}\n{self.timeline()}") from exc
        return self

    def refused(self, trigger: str, *, by: str | Actor | None = None, data: Mapping[str, Any] | None = None,
                error: type[ProcflowError] = ProcflowError) -> ProcflowError:
        """Fire and expect a refusal of type ``error``; check nothing about the dossier changed."""
        store = self.engine.store
        before = (store.get(self.dossier.id), store.events(self.dossier.id), store.outbox(), self.dossier.copy())
        audits = len(store.audit(dossier_id=self.dossier.id))
        actor = self.actor(trigger, by)
        try:
            self.engine.fire(self.dossier, trigger, actor, data=data)
        except ProcflowError as exc:
            if not isinstance(exc, error):
                raise AssertionError(f"{trigger!r} by {actor.id}: expected {error.__name__}, got "
                                     f"{type(exc).__name__}: {exc}") from exc
            after = (store.get(self.dossier.id), store.events(self.dossier.id), store.outbox(), self.dossier)
            for what, a, b in zip(("snapshot", "events", "outbox", "record"), before, after, strict=True):
                if a != b:
                    raise AssertionError(f"refused {trigger!r} changed the dossier's {what}") from exc
            if not isinstance(exc, InvalidData) and self.engine.audit_refusals and \
                    len(store.audit(dossier_id=self.dossier.id)) != audits + 1:
                raise AssertionError(f"refused {trigger!r} was not recorded in the audit log") from exc
            return exc
        raise AssertionError(f"{trigger!r} by {actor.id} was accepted; expected {error.__name__}\n{self.timeline()}")

    def wait(self, *, working_days: int = 0, days: float = 0, hours: float = 0, minutes: float = 0,
             at: str | None = None) -> Story:
        """Let time pass: ``working_days`` jumps over weekends and holidays (then ``at``, default 08:00)."""
        clock: Any = self.engine.clock
        if working_days:
            clock.add_working_days(working_days, at=at or "08:00")
        elif at is not None and not (days or hours or minutes):
            clock.at(at)
        if days or hours or minutes:
            clock.advance(days=days, hours=hours, minutes=minutes)
        return self

    def deliver(self) -> Story:
        """Run the delivery worker until nothing is due, so the recording adapter sees the messages."""
        if self._deliver is None:
            raise AssertionError("this story has no delivery worker (use the dossier_story fixture)")
        self._deliver()
        return self

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def events(self) -> list[DossierEvent]:
        """The dossier's events as stored, oldest first."""
        return self.engine.store.events(self.dossier.id)

    @property
    def custody(self) -> list[str]:
        """The custodian after each event: the hand-off trail (phiếu kiểm soát quá trình giải quyết)."""
        return [e.custodian for e in self.events]

    @property
    def portal_messages(self) -> list[Mapping[str, Any]]:
        """The ``portal.status`` payloads the engine produced for this dossier (outbox, delivered or not)."""
        return [r["payload"] for r in self.engine.store.outbox() if r["topic"] == STATUS_SYNC
                and r["dossier_id"] == self.dossier.id]

    def timeline(self) -> str:
        """The events as lines a person reads (what a failed expectation prints)."""
        lines = [f"dossier {self.dossier.id} ({self.dossier.procedure}):"]
        for e in self.events:
            sla = (e.effects or {}).get("sla") or {}
            clock = " clock stopped" if sla.get("stopped_at") else " clock paused" if sla.get("paused_at") else ""
            lines.append(f"  {e.seq:>2} {e.at:%Y-%m-%d %H:%M} {e.trigger or e.kind:<20} {e.from_state or '∅'} → "
                         f"{e.to_state} [{e.status}] held by {e.custodian} (acted: {e.actor}){clock}")
        return "\n".join(lines)

    # -- expectations ---------------------------------------------------------------------------------------
    def expect(self, *, state: str | None = None, status: int | None = None, custodian: str | None = None,
               sla: str | None = None, due: str | date | None = None, on_time: bool | None = None,
               overdue: bool | None = None) -> Story:
        """Check the dossier now. ``custodian`` is an agency code, a ward code or a role ("receiving");
        ``sla`` is "running", "paused" or "stopped"; ``due`` a date or "YYYY-MM-DD[ HH:MM]"."""
        d, now = self.dossier, self.engine.clock.now()
        problems = []
        if state is not None and d.state != state:
            problems.append(f"state is {d.state!r}, expected {state!r}")
        if status is not None and d.status != status:
            problems.append(f"portal status is {d.status}, expected {status}")
        if custodian is not None and d.custodian != self._agency(custodian):
            problems.append(f"held by {d.custodian}, expected {custodian} ({self._agency(custodian)})")
        if sla is not None:
            actual = "stopped" if d.sla.stopped else "paused" if d.sla.paused else "running"
            if actual != sla:
                problems.append(f"SLA clock is {actual}, expected {sla}")
        if due is not None:
            got = d.sla.due_at
            text = str(due)
            if got is None or (got.strftime("%Y-%m-%d %H:%M") != text and got.date().isoformat() != text):
                problems.append(f"due {got}, expected {text}")
        if on_time is not None:
            late = d.sla.due_at is not None and (d.sla.stopped_at or now) > d.sla.due_at
            if late == on_time:
                problems.append(f"{'late' if late else 'on time'} (due {d.sla.due_at}), expected "
                                f"{'on time' if on_time else 'late'}")
        if overdue is not None and d.sla.is_overdue(now) != overdue:
            problems.append(f"overdue is {d.sla.is_overdue(now)} at {now:%Y-%m-%d %H:%M}, expected {overdue}")
        if self.engine.replay(d.id) != d:
            problems.append("replaying the events does not give the snapshot")
        if problems:
            raise AssertionError("; ".join(problems) + "\n" + self.timeline())
        return self

    def expect_custody(self, *agencies: str) -> Story:
        """The distinct custodians in order, e.g. ``("receiving", "competent", "receiving")``."""
        trail = [c for i, c in enumerate(self.custody) if i == 0 or self.custody[i - 1] != c]
        want = [self._agency(a) for a in agencies]
        if trail != want:
            raise AssertionError(f"custody trail {trail}, expected {want}\n{self.timeline()}")
        return self

    def expect_portal(self, *statuses: int) -> Story:
        """The national-portal statuses synced for this dossier, in order (from the outbox)."""
        got = [m["status"] for m in self.portal_messages]
        if got != list(statuses):
            raise AssertionError(f"portal messages carried statuses {got}, expected {list(statuses)}\n"
                                 f"{self.timeline()}")
        return self


class StoryFactory:
    """What the ``dossier_story`` fixture returns: call it to file a dossier and start its story."""

    def __init__(self, engine: Engine, *, deliver: Callable[[], object] | None = None, bundles: Any = None) -> None:
        self.engine = engine
        self._deliver = deliver
        self._bundles = bundles

    def __call__(self, procedure: str, *, filed_at: str, location: str | None = None,
                 data: Mapping[str, Any] | None = None, by: str | Actor | None = None,
                 at: str | datetime | None = None) -> Story:
        """File ``procedure`` at the desk ``filed_at`` (agency or ward code), about ``location`` (default the
        same commune), ``at`` a time today ("14:30") or a moment; ``by`` the desk's officer by default."""
        reg = self.engine.registry
        desk_code = reg.commune(filed_at).code if filed_at.isdigit() else filed_at
        loc = reg.commune(location).code if location and location.isdigit() else location
        if at is not None:  # "14:30" today, or a moment ("2026-04-24 16:00")
            clock: Any = self.engine.clock
            if isinstance(at, str) and len(at) <= 5:
                clock.at(at)
            else:
                clock.jump_to(at)
        actor = by if isinstance(by, Actor) else Actor(id=f"one_stop_officer@{desk_code}", agency=desk_code,
                                                       roles=frozenset({"one_stop_officer"}))
        staff_of(self.engine).actors(actor)
        d = self.engine.file(procedure, filed_at=desk_code, location=loc, actor=actor, data=data)
        return Story(self.engine, d, deliver=self._deliver, bundles=self._bundles)

    def of(self, dossier: Dossier | str) -> Story:
        """A story for a dossier that already exists (e.g. a bundle member started by the coordinator)."""
        d = self.engine.store.get(dossier) if isinstance(dossier, str) else dossier
        return Story(self.engine, d, deliver=self._deliver, bundles=self._bundles)
