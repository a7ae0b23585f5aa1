"""An imported history, checked against the law of the procedure and against the sender's own chain.

A member node's key proves who sent an envelope, not that the history in it happened: a trusted sender
could otherwise write events into states the procedure does not have, skip from one state to another,
or credit an act to an agency that never held the dossier — and once imported and re-chained here, this
node's ``audit verify`` would call the forgery intact. So before anything is stored, every event is
checked against the *registered* definition version it names (DESIGN invariant 4, one custodian at a
time; Decree 118/2025/ND-CP art. 4: the dossier is handled in the order and by the bodies the procedure
sets, and every hand-over is recorded in the control slip, form 06 of Circular 03/2025/TT-VPCP):

* the to-state is a state of that version (``unknown-state``);
* each event starts where the previous one ended, and only a migration changes the version
  (``discontinuous-history``);
* a fired trigger leaves its from-state (``trigger-not-allowed``) and arrives at the transition's
  destination, with that step's portal status and holder (``wrong-destination``); facts that move
  nothing (escalation, lateness, form 04) keep state, status and custodian;
* the acting agency held the dossier at that moment (the receiving desk for the filing, the new holder
  for a migration), and an actor named ``official@AGENCY`` acts for that agency (``actor-not-custodian``);
* the sender's chain links, carried with each event, link up from the genesis and each hashes the event's
  content as the sender stored it (``broken-chain``) — :func:`verify_links` is the one place that knows
  how a link is made, so a keyed chain changes only it.

The roles an official held are not in the log (the event records who, not with which role), so they
cannot be checked here; nor can a sender that recomputes its whole chain be caught by the chain alone —
the law checks above are what hold it to the procedure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import attrs

from procflow.definition.model import ProcedureDefinition, Step, Transition
from procflow.dossier import DossierEvent, EventKind
from procflow.exchange.errors import (
    ActorNotCustodian,
    BrokenChain,
    DiscontinuousHistory,
    ForbiddenTrigger,
    UnknownState,
    WrongDestination,
)
from procflow.exchange.model import PayloadEvent
from procflow.exchange.redaction import shown
from procflow.privacy.hashchain import GENESIS, event_hash, is_keyed
from procflow.privacy.sealed import make_ref

__all__ = ["KEYED_SCHEME", "LINK_SCHEME", "check_history", "payload_links", "sealed_event", "verify_links"]

# procflow.privacy.hashchain's unkeyed links: SHA-256 over the previous link and the event's content
LINK_SCHEME = "sha256"
# Keyed links (issue 19: HMAC with the sender's chain key, which never leaves the sender) are carried with this
# scheme; the receiver checks their linkage and shape, while their content is covered by the envelope signature
# and, later, by the sender's exported checkpoints (the rule: procflow.privacy.provenance).
KEYED_SCHEME = "hmac-sha256"


def payload_links(e: DossierEvent) -> dict[str, str | None]:
    """The sender's side of :func:`verify_links`: the stored event's links as the envelope carries them."""
    if e.hash is None:
        return {"prev_link": None, "link": None, "link_scheme": None}
    return {"prev_link": (e.prev_hash or GENESIS).hex(), "link": e.hash.hex(),
            "link_scheme": KEYED_SCHEME if is_keyed(e.hash) else LINK_SCHEME}


def sealed_event(e: DossierEvent, personal: Mapping[str, str]) -> DossierEvent:
    """``e`` as its sender stored (and hashed) it: personal values replaced by their vault references, which
    name (dossier, seq, field) and so are the same on every node (``procflow.privacy.vault.Vault.seal``)."""
    fx = e.effects
    data = fx.get("data") if fx else None
    if not personal or not isinstance(data, Mapping):
        return e
    sealed = {k: make_ref(e.dossier_id, e.seq, k) if k in personal and v is not None else v for k, v in data.items()}
    return attrs.evolve(e, effects={**fx, "data": sealed})  # type: ignore[dict-item]


def verify_links(events: Sequence[DossierEvent], carried: Sequence[PayloadEvent], personal: Mapping[str, str], *,
                 source: str, required: bool = True) -> None:
    """Check the sender's chain links: event 1 links to the genesis, each later one to its predecessor's
    link, and each link is the hash of the event's stored content. ``required=False`` accepts a history
    the sender wrote without chaining (no link on any event)."""
    if not required and all(p.link is None and p.prev_link is None for p in carried):
        return
    expected_prev = GENESIS
    for e, p in zip(events, carried, strict=True):
        where = f"{source}: dossier {_named(e.dossier_id)}, event {e.seq}"

        def broken(problem: str, e: DossierEvent = e, where: str = where) -> BrokenChain:
            return BrokenChain(f"{where}: {problem}", dossier_id=e.dossier_id, seq=e.seq)

        if p.link is None or p.prev_link is None:
            raise broken("carries no chain link from the sender's log (links are required on every event)")
        scheme = p.link_scheme or LINK_SCHEME
        if scheme not in (LINK_SCHEME, KEYED_SCHEME):
            raise broken(f"its link is made with scheme {shown(scheme)}, which this node cannot verify")
        try:
            prev, link = bytes.fromhex(p.prev_link), bytes.fromhex(p.link)
        except ValueError:
            raise broken("its link is not hexadecimal") from None
        if prev != expected_prev:
            raise broken("does not link to the previous event's link" if e.seq > 1 else
                         "the first event does not link to the genesis")
        if scheme == KEYED_SCHEME:
            if not is_keyed(link):
                raise broken("its keyed link is not shaped as one (version byte, key fingerprint, HMAC)")
        elif event_hash(sealed_event(e, personal), prev) != link:
            raise broken("its content does not hash to its link: the event is not the one the sender's log holds")
        expected_prev = link


def _named(value: object) -> str:
    """An agency code, actor or dossier id read from the envelope, as an error message may show it."""
    return shown(value, quote=False)


def _agency_of_actor(actor: str, is_agency: Callable[[str], bool]) -> str | None:
    """The agency an ``official@AGENCY`` actor id names (None when the id names no known agency)."""
    _, sep, suffix = actor.rpartition("@")
    return suffix if sep and suffix and is_agency(suffix) else None


class _Where(TypedDict):
    """The offending event, as every ForgedHistory carries it."""

    dossier_id: str
    seq: int | None


@attrs.define
class _Position:
    """Where the dossier stands after an event: what the next event must start from."""

    state: str
    status: int
    custodian: str
    version: int
    agencies: dict[str, str]


def check_history(events: Sequence[DossierEvent], definition: Callable[[int], ProcedureDefinition], *,
                  source: str, is_agency: Callable[[str], bool] = lambda _code: False) -> None:
    """Refuse the first event the procedure's law does not allow (see the module docstring).

    ``definition(version)`` returns the registered definition of the dossier's procedure (it raises when
    that version is not registered); ``is_agency(code)`` says whether a code names a known agency."""
    at: _Position | None = None
    tables: dict[int, dict[tuple[str, str], Transition]] = {}
    for e in events:
        defn = definition(e.definition_version)
        table = tables.get(defn.version)
        if table is None:
            table = tables[defn.version] = {(s, t.trigger): t for t in defn.transitions for s in t.source}
        steps = {s.name: s for s in defn.states}
        where = f"{source}: dossier {_named(e.dossier_id)}, event {e.seq} ({_named(e.kind)})"
        ids: _Where = {"dossier_id": e.dossier_id, "seq": e.seq}
        step = steps.get(e.to_state)
        if step is None:
            raise UnknownState(f"{where}: state {shown(e.to_state)} is not a state of procedure {defn.code} "
                               f"v{defn.version}", **ids)
        named = _agency_of_actor(e.actor, is_agency)
        if named is not None and named != e.agency:
            raise ActorNotCustodian(f"{where}: actor {_named(e.actor)} is an official of {named}, not of "
                                    f"{_named(e.agency)} "
                                    "that the event says acted", **ids)
        if at is None:
            at = _filed(e, defn, step, where, ids)
            continue
        if e.from_state != at.state:
            raise DiscontinuousHistory(f"{where}: starts in {shown(e.from_state)} but the previous event ended in "
                                       f"{at.state!r}", **ids)
        if e.kind != EventKind.MIGRATED and e.definition_version != at.version:
            raise DiscontinuousHistory(f"{where}: names version {e.definition_version} of the procedure; only a "
                                       f"migration moves a dossier off version {at.version}", **ids)
        fx = e.effects or {}
        if "agencies" in fx and e.kind != EventKind.MIGRATED:
            raise WrongDestination(f"{where}: rewrites the dossier's agencies; only the filing and a migration "
                                   "set them", **ids)
        if e.kind == EventKind.FIRED:
            _fired(e, table, step, at, where, ids)
        elif e.kind == EventKind.MIGRATED:
            agencies = fx.get("agencies", at.agencies)
            if not isinstance(agencies, Mapping):
                raise WrongDestination(f"{where}: its agencies are not a mapping of roles to codes", **ids)
            at.agencies = dict(agencies)
            _holds(e, step, at.agencies, where, ids)
            if e.agency not in (at.custodian, e.custodian):
                raise ActorNotCustodian(f"{where}: {_named(e.agency)} migrated the dossier, which "
                                        f"{_named(at.custodian)} held", **ids)
        else:  # a fact that moves nothing: escalation, lateness, form 04, a recount
            if e.agency != at.custodian:
                raise ActorNotCustodian(f"{where}: {_named(e.agency)} acted while {_named(at.custodian)} held the "
                                        "dossier", **ids)
            if (e.to_state, e.status, e.custodian) != (at.state, at.status, at.custodian):
                raise WrongDestination(f"{where}: a {shown(e.kind)} event moves nothing, yet it changes the dossier's "
                                       "state, status or custodian", **ids)
        at.state, at.status, at.custodian, at.version = e.to_state, e.status, e.custodian, e.definition_version


def _holds(e: DossierEvent, step: Step, agencies: Mapping[str, Any], where: str, ids: _Where) -> None:
    """The event leaves the dossier in ``step`` with that step's portal status and holder."""
    if e.status != step.portal_status:
        raise WrongDestination(f"{where}: state {step.name!r} shows portal status {step.portal_status}, "
                               f"not {shown(e.status)}", **ids)
    holder = agencies.get(step.holder)
    if e.custodian != holder:
        raise WrongDestination(f"{where}: in state {step.name!r} the dossier is held by its {step.holder} "
                               f"agency {_named(holder)}, not by {_named(e.custodian)}", **ids)


def _filed(e: DossierEvent, defn: ProcedureDefinition, step: Step, where: str, ids: _Where) -> _Position:
    if e.kind != EventKind.FILED or e.from_state is not None:
        raise DiscontinuousHistory(f"{where}: a history starts with the filing, from no state", **ids)
    if e.to_state not in (defn.initial, defn.online_initial):
        raise WrongDestination(f"{where}: a dossier is filed into {defn.initial!r}"
                               + (f" or {defn.online_initial!r}" if defn.online_initial else "")
                               + f", not {shown(e.to_state)}", **ids)
    agencies = (e.effects or {}).get("agencies")
    if not isinstance(agencies, Mapping) or not all(isinstance(v, str) for v in agencies.values()):
        raise WrongDestination(f"{where}: the filing does not name the dossier's agencies", **ids)
    _holds(e, step, agencies, where, ids)
    receiving = agencies.get("receiving")
    if e.agency != receiving:
        raise ActorNotCustodian(f"{where}: {_named(e.agency)} filed a dossier received at "
                                f"{_named(receiving)}; only the "
                                "receiving one-stop desk files it", **ids)
    return _Position(e.to_state, e.status, e.custodian, e.definition_version, dict(agencies))


def _fired(e: DossierEvent, table: Mapping[tuple[str, str], Transition], step: Step, at: _Position, where: str,
           ids: _Where) -> None:
    t = table.get((at.state, e.trigger or ""))
    if t is None:
        raise ForbiddenTrigger(f"{where}: trigger {shown(e.trigger)} is not allowed from state {at.state!r}", **ids)
    if t.dest != e.to_state:
        raise WrongDestination(f"{where}: trigger {e.trigger!r} leads to {t.dest!r}, not {shown(e.to_state)}", **ids)
    if e.agency != at.custodian:
        raise ActorNotCustodian(f"{where}: {_named(e.agency)} fired {e.trigger!r} while {_named(at.custodian)} "
                                "held the dossier", **ids)
    _holds(e, step, at.agencies, where, ids)
