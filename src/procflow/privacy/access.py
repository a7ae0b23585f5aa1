"""Who may read a dossier, and the audit of every read.

Least privilege by default: an official's agency may read a dossier only while that agency is on the
dossier's **custody path** — it holds the dossier, held it (a custodian in its event log), or is its
receiving point of contact (đầu mối tiếp nhận, where the citizen collects the result). Beyond that, a role
``oversight:<province code>`` (e.g. ``oversight:92``) grants province-wide oversight of dossiers received,
handled or located in that province, and ``oversight:*`` national oversight. System actors (role ``*``:
the simulator, reconciliation, the scheduler, bundle coordination) act under an explicit system identity.

Two ways to read, on purpose:

* ``Engine.get`` / ``history`` / ``replay`` — the internal, system path: no check, real values, not
  audited. For procflow's own machinery and for code that already runs as the system.
* ``Engine.read`` / ``read_history`` / ``find_dossiers`` — the path for people (CLI, web UIs, exports):
  the reader is resolved through the identity provider (``procflow.privacy.identity``: roles come from it,
  not from the caller), checked against :class:`AccessPolicy`, audited (actor, agency, dossier, purpose,
  time, outcome) in the store's ``audit`` table whether allowed or refused, and masked by default.
  ``unmask=True`` returns real values to actors with the role ``personal_data:unmask`` (or system actors),
  and is audited as such.

Machine channels (signed envelopes to the next agency, portal sync, a full backup) carry real values; a
caller records each disclosure with :func:`record_disclosure` — audited, never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from procflow.dossier import Actor, Dossier, DossierEvent
from procflow.errors import AccessDenied, DossierNotFound, JurisdictionError, ProcflowError
from procflow.privacy.masking import mask_dossier, mask_event
from procflow.store.base import AuditEntry

if TYPE_CHECKING:
    from procflow.clock import Clock
    from procflow.definition.model import ProcedureDefinition
    from procflow.jurisdiction import Registry
    from procflow.privacy.vault import Vault
    from procflow.store.base import Store

__all__ = [
    "OVERSIGHT_PREFIX",
    "SYSTEM_ROLE",
    "UNMASK_ROLE",
    "AccessDecision",
    "AccessPolicy",
    "Reader",
    "record_disclosure",
]

log = logging.getLogger("procflow.privacy.access")

OVERSIGHT_PREFIX = "oversight:"
UNMASK_ROLE = "personal_data:unmask"
SYSTEM_ROLE = "*"


@attrs.frozen
class AccessDecision:
    allowed: bool
    reason: str


class AccessPolicy:
    """The default read rule (custody path + province oversight). Subclass and override ``decide`` for a
    province's own rule; pass it as ``Engine(access_policy=...)``."""

    def __init__(self, registry: Registry | None) -> None:
        self.registry = registry

    @staticmethod
    def custody_path(d: Dossier, events: Iterable[DossierEvent]) -> frozenset[str]:
        """Agencies that hold, held or receive the dossier."""
        path = {d.custodian, d.agencies.get("receiving", d.custodian)}
        for e in events:
            path.add(e.custodian)
            fx = e.effects
            if fx and "custodian_from" in fx:
                path.add(fx["custodian_from"])
        return frozenset(path)

    def provinces(self, d: Dossier) -> frozenset[str]:
        """Province codes the dossier belongs to (where it was received, is handled, or is located)."""
        out: set[str] = set()
        if self.registry is None:
            return frozenset()
        for code in {*d.agencies.values(), d.custodian}:
            try:
                province = self.registry.agency(code).province_code
            except (JurisdictionError, KeyError):
                continue
            if province:
                out.add(province)
        return frozenset(out)

    def quick(self, actor: Actor, d: Dossier) -> AccessDecision | None:
        """A decision that needs no event log, or None."""
        if SYSTEM_ROLE in actor.roles:
            return AccessDecision(True, "system actor")
        if actor.agency == d.custodian:
            return AccessDecision(True, "holds the dossier (custodian)")
        if actor.agency == d.agencies.get("receiving"):
            return AccessDecision(True, "receiving point of contact")
        scopes = {r[len(OVERSIGHT_PREFIX):] for r in actor.roles if r.startswith(OVERSIGHT_PREFIX)}
        if "*" in scopes:
            return AccessDecision(True, "national oversight")
        hit = sorted(scopes & self.provinces(d))
        if hit:
            return AccessDecision(True, f"province-wide oversight ({', '.join(hit)})")
        return None

    def decide(self, actor: Actor, d: Dossier, events: Sequence[DossierEvent]) -> AccessDecision:
        quick = self.quick(actor, d)
        if quick is not None:
            return quick
        if actor.agency in self.custody_path(d, events):
            return AccessDecision(True, "held the dossier earlier (on its custody path)")
        return AccessDecision(False, "the agency is not on the dossier's custody path and has no oversight role "
                                     "for its province")

    def may_unmask(self, actor: Actor) -> bool:
        return SYSTEM_ROLE in actor.roles or UNMASK_ROLE in actor.roles


# -- reading (Engine.read / read_history / find_dossiers delegate here) ------------------------------------
class _Audited(Protocol):
    """What recording an access needs: a store and a clock (an ``Engine`` has both)."""

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...


def _audit(store: Store, clock: Clock, actor: Actor, dossier_id: str | None, action: str, outcome: str, detail: str,
           purpose: str) -> None:
    store.record_audit(AuditEntry(at=clock.now(), actor=actor.id, agency=actor.agency, dossier_id=dossier_id,
                                  action=action, outcome=outcome, detail=detail, purpose=purpose))


def _check_purpose(purpose: str) -> str:
    purpose = (purpose or "").strip()
    if not purpose:
        raise ProcflowError("a read of a dossier needs a purpose (why it is read), e.g. purpose='processing'")
    return purpose


class Reader:
    """The people's read path: authenticate the reader (identity provider), check the policy, audit, mask.

    Built by the engine with what it needs — no reference to the engine itself, so ``procflow.engine.core``
    depends on this module and never the other way round."""

    def __init__(self, *, store: Store, clock: Clock, policy: AccessPolicy, vault: Vault,
                 authenticate: Callable[[Actor, Dossier | None, str, str | None], Actor],
                 open_record: Callable[[Dossier], Dossier],
                 open_events: Callable[[Sequence[DossierEvent]], list[DossierEvent]],
                 definition: Callable[[str, int], ProcedureDefinition]) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.vault = vault
        self.authenticate = authenticate
        self.open_record = open_record
        self.open_events = open_events
        self.definition = definition

    def _authorise(self, dossier_id: str, actor: Actor, purpose: str, action: str, unmask: bool,
                   want_events: bool) -> tuple[Dossier, list[DossierEvent] | None]:
        purpose = _check_purpose(purpose)
        actor = self.authenticate(actor, None, action, dossier_id)
        policy = self.policy
        try:
            raw = self.store.get(dossier_id)
        except DossierNotFound as exc:
            _audit(self.store, self.clock, actor, dossier_id, action, "refused:DossierNotFound", str(exc), purpose)
            raise
        events = self.store.events(dossier_id) if want_events else None
        decision = policy.quick(actor, raw)
        if decision is None:
            if events is None:
                events = self.store.events(dossier_id)
            decision = policy.decide(actor, raw, events)
        if not decision.allowed:
            _audit(self.store, self.clock, actor, dossier_id, action, "refused:AccessDenied", decision.reason,
                   purpose)
            log.info("read refused: %s (%s) on %s for %r", actor.id, actor.agency, dossier_id, purpose)
            raise AccessDenied(dossier_id=dossier_id, actor=actor.id, agency=actor.agency, reason=decision.reason)
        if unmask and not policy.may_unmask(actor):
            reason = f"seeing unmasked personal data needs the role {UNMASK_ROLE!r}"
            _audit(self.store, self.clock, actor, dossier_id, action + ":unmasked", "refused:AccessDenied", reason,
                   purpose)
            raise AccessDenied(dossier_id=dossier_id, actor=actor.id, agency=actor.agency, reason=reason)
        _audit(self.store, self.clock, actor, dossier_id, action + (":unmasked" if unmask else ""), "allowed",
               decision.reason, purpose)
        return raw, events

    def read(self, dossier_id: str, actor: Actor, *, purpose: str, unmask: bool = False) -> Dossier:
        """The dossier as ``actor`` may see it (masked unless ``unmask``); raises ``AccessDenied``. Audited."""
        raw, _ = self._authorise(dossier_id, actor, purpose, "read", unmask, want_events=False)
        d = self.open_record(raw)
        if unmask:
            return d
        return mask_dossier(d, self.definition(d.procedure, d.definition_version))

    def read_history(self, dossier_id: str, actor: Actor, *, purpose: str,
                     unmask: bool = False) -> list[DossierEvent]:
        """The dossier's events as ``actor`` may see them (data masked unless ``unmask``). Audited."""
        raw, events = self._authorise(dossier_id, actor, purpose, "read:history", unmask, want_events=True)
        opened = self.open_events(events or [])
        if unmask:
            return opened
        defn = self.definition(raw.procedure, raw.definition_version)
        return [mask_event(e, defn) for e in opened]

    def find_dossiers(self, national_id: str, actor: Actor, *, purpose: str) -> list[str]:
        """Dossiers whose national-ID fields hold ``national_id`` (via the HMAC index), limited to those
        ``actor`` may read. The search itself is audited (without the number)."""
        purpose = _check_purpose(purpose)
        actor = self.authenticate(actor, None, "find:national_id", None)
        found = self.vault.find_national_id(national_id)
        policy = self.policy
        visible = []
        for did in found:
            try:
                d = self.store.get(did)
            except DossierNotFound:
                continue
            decision = policy.quick(actor, d) or policy.decide(actor, d, self.store.events(did))
            if decision.allowed:
                visible.append(did)
        _audit(self.store, self.clock, actor, None, "find:national_id", "allowed",
               f"{len(visible)} of {len(found)} match(es) visible: {', '.join(visible) or '-'}", purpose)
        return visible


def record_disclosure(engine: _Audited, actor: Actor, dossier_id: str, *, channel: str, purpose: str,
                      fields: Iterable[str] = (), recipient: str = "") -> None:
    """Audit real personal values leaving on a machine channel (envelope, portal sync, backup export)."""
    detail = f"to {recipient or '?'} via {channel}: {', '.join(sorted(fields)) or 'dossier'}"
    _audit(engine.store, engine.clock, actor, dossier_id, f"disclose:{channel}", "sent", detail,
           _check_purpose(purpose))
