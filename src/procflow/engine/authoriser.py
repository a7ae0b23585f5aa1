"""Who may do what: the engine's authorisation, kept apart from moving states.

Every write the engine makes on behalf of someone passes here first: the acting official is resolved
through the identity provider (``procflow.privacy.identity``). Strict by default: a caller-built ``Actor`` is
a claim, not a credential, so an official the provider does not know is refused even when it knows nobody
yet (an empty directory); only procflow's own machinery (``Actor.system``) skips the lookup. Unknown
officials, officials of another agency or outside their dates, and roles the provider does not grant are
refused (``UnknownOfficial``, ``RoleNotGranted``); then custody (one custodian at a time, DESIGN invariant
4), the step's roles and level are checked. A refusal changes nothing and is recorded only in the audit table.

The provider is asked once per official per engine, and each ``Actor`` value as the caller built it (the
same official may claim different roles for different steps) is resolved once, so the hot path pays one
dict lookup per fire; ``invalidate`` empties both caches (the engine's directory changes call
it). Roles come from the provider: an actor that claims no roles acts with all the provider grants; one
that claims some acts with exactly those, each of which must be granted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NoReturn

from procflow.dossier import Actor, Dossier
from procflow.errors import NotCustodian, ProcflowError, RoleNotGranted, TransitionNotAllowed, UnknownOfficial
from procflow.privacy.identity import unknown_reason
from procflow.store.base import AuditEntry

if TYPE_CHECKING:
    from procflow.clock import Clock
    from procflow.definition.model import Transition
    from procflow.jurisdiction import Registry
    from procflow.privacy.directory import Official
    from procflow.privacy.identity import IdentityProvider
    from procflow.store.base import Store

__all__ = ["Authoriser"]

_log = logging.getLogger("procflow.engine.core")
_CACHE_LIMIT = 50_000  # distinct actors remembered per engine; beyond that the cache starts over


class Authoriser:
    """Authentication (through the identity provider) and authorisation (custody, roles, level)."""

    def __init__(self, *, store: Store, clock: Clock, registry: Registry, identity: IdentityProvider,
                 audit_refusals: bool = True) -> None:
        self.store = store
        self.clock = clock
        self.registry = registry
        self.identity = identity
        self.audit_refusals = audit_refusals
        self._cache: dict[Actor, tuple[Actor, Official]] = {}  # as the caller built it → as resolved
        self._officials: dict[str, Official | None] = {}  # the provider's answers, one question per official

    def invalidate(self) -> None:
        """Forget every resolved official (after a grant or revoke, or a new directory)."""
        self._cache.clear()
        self._officials.clear()

    # -- authentication -------------------------------------------------------------------------------
    def authenticate(self, actor: Actor, d: Dossier | None = None, action: str = "act",
                     dossier_id: str | None = None) -> Actor:
        """The actor with the roles the provider grants, or a refusal (audited; ``dossier_id`` names the
        dossier in the audit entry when the record has not been read yet)."""
        if actor.system_actor:
            return actor
        hit = self._cache.get(actor)
        if hit is not None:
            official = hit[1]
            if (official.valid_from is None and official.valid_to is None) \
                    or official.valid_on(self.clock.now().date()):
                return hit[0]
        return self._resolve(actor, d, action, dossier_id)

    def _resolve(self, actor: Actor, d: Dossier | None, action: str, dossier_id: str | None) -> Actor:
        if actor.id in self._officials:
            official = self._officials[actor.id]
        else:
            official = self._officials[actor.id] = self.identity.resolve_official(actor.id)
            if len(self._officials) > _CACHE_LIMIT:
                self._officials.clear()
        if official is None:
            self.refuse(actor, d, action, UnknownOfficial(actor=actor.id, agency=actor.agency,
                                                          reason=unknown_reason(self.identity)), dossier_id)
        if official.agency != actor.agency:
            self.refuse(actor, d, action, UnknownOfficial(
                actor=actor.id, agency=actor.agency,
                reason=f"the officials directory has this official at {official.agency}"), dossier_id)
        today = self.clock.now().date()
        if not official.valid_on(today):
            self.refuse(actor, d, action, UnknownOfficial(
                actor=actor.id, agency=actor.agency,
                reason=f"may act from {official.valid_from or '-'} to {official.valid_to or '-'}, not on {today}"),
                dossier_id)
        granted = official.roles - {"*"}  # the system role is never an official's
        extra = actor.roles - granted
        if extra:
            self.refuse(actor, d, action, RoleNotGranted(
                dossier_id=d.id if d is not None else dossier_id or "", actor=actor.id, trigger=action,
                needed=sorted(extra), held=granted, claimed=True), dossier_id)
        effective = Actor(id=actor.id, agency=official.agency, roles=actor.roles or granted)
        self._remember(actor, effective, official)
        return effective

    def _remember(self, actor: Actor, effective: Actor, official: Official) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[actor] = (effective, official)

    # -- authorisation --------------------------------------------------------------------------------
    def file(self, actor: Actor, procedure: str, receiving: str, receiving_name: str) -> Actor:
        """Who may receive a new dossier: an official of the receiving commune's one-stop desk."""
        actor = self.authenticate(actor, None, f"file:{procedure}")
        if actor.agency != receiving and "*" not in actor.roles:
            self.refuse(actor, None, f"file:{procedure}", NotCustodian(
                dossier_id="(new)", agency=actor.agency, custodian=receiving, trigger="file",
                reason=f"a dossier filed at {receiving_name} ({receiving}) is received by that "
                       f"commune's one-stop desk, not by {actor.agency}"))
        return actor

    def fire(self, actor: Actor, d: Dossier, trigger: str, t: Transition | None,
             allowed: tuple[str, ...]) -> tuple[Actor, Transition]:
        """Who may fire ``trigger`` on ``d`` (``t``: its transition from the dossier's state, if any)."""
        action = f"fire:{trigger}"
        actor = self.authenticate(actor, d, action)
        if actor.agency != d.custodian:
            self.refuse(actor, d, action, NotCustodian(dossier_id=d.id, agency=actor.agency,
                                                        custodian=d.custodian, trigger=trigger))
        if t is None:
            self.refuse(actor, d, action, TransitionNotAllowed(
                dossier_id=d.id, state=d.state, trigger=trigger, allowed=allowed))
        if t.roles and not actor.roles.intersection(t.roles) and "*" not in actor.roles:
            self.refuse(actor, d, action, RoleNotGranted(dossier_id=d.id, actor=actor.id, trigger=trigger,
                                                          needed=t.roles, held=actor.roles))
        if t.level is not None and self.registry.agency(d.custodian).level != t.level:
            self.refuse(actor, d, action, NotCustodian(
                dossier_id=d.id, agency=actor.agency, custodian=d.custodian, trigger=trigger,
                reason=f"dossier {d.id}: trigger {trigger!r} is fired at {t.level} level; "
                       f"{d.custodian} is not a {t.level}-level agency"))
        return actor, t

    def custodian(self, actor: Actor, d: Dossier, action: str) -> Actor:
        """Who may append a fact to ``d`` (an escalation, a form): its custodian's officials."""
        audited = action if ":" in action else f"fire:{action}"
        actor = self.authenticate(actor, d, audited)
        if actor.agency != d.custodian:
            self.refuse(actor, d, audited, NotCustodian(dossier_id=d.id, agency=actor.agency,
                                                        custodian=d.custodian, trigger=action))
        return actor

    def refuse(self, actor: Actor, d: Dossier | None, action: str, exc: ProcflowError,
               dossier_id: str | None = None) -> NoReturn:
        """Record the refusal in the audit table under ``action`` (the dossier is untouched) and raise ``exc``."""
        if self.audit_refusals:
            self.store.record_audit(AuditEntry(at=self.clock.now(), actor=actor.id, agency=actor.agency,
                                               dossier_id=d.id if d is not None else dossier_id,
                                               action=action,
                                               outcome=f"refused:{type(exc).__name__}", detail=str(exc)))
        _log.info("refused %s by %s (%s) on %s: %s", action, actor.id, actor.agency,
                  d.id if d is not None else dossier_id or "-", type(exc).__name__)
        raise exc
