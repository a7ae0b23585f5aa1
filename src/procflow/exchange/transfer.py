"""Hand-offs between procflow nodes: a dossier leaves one node's store as a signed envelope and enters another's.

The country shards itself (DESIGN, "Scale-out story"): each province or ministry runs its own node, and a
hand-off to an agency hosted elsewhere is an outbox message carrying a signed envelope to that node. An
:class:`ExchangeNode` is one node's side of that, bound to its engine:

* **sending** — :meth:`~ExchangeNode.attach` subscribes the ``exchange.handoff`` outbox topic: a transition
  whose new custodian lives on another node writes, in the transition's own transaction, one outbox row
  holding the envelope *already signed* (keys are loaded once per node), so every retry resends identical
  bytes. :meth:`~ExchangeNode.export` makes the same envelope by hand (``procflow exchange export``).
* **receiving** — :meth:`~ExchangeNode.receive` verifies (signature, signer, recipient, time window,
  digests) outside any transaction, then in ONE transaction records the message id (the replay guard is
  the ``exchange_received`` table) and imports the dossier: new to this node with its whole history, or
  the events it has not seen appended. Anything refused raises an :class:`EnvelopeRejected` subclass and
  rolls back everything, the message id included.

Both sides' event logs end up identical: the envelope carries every event with its seq, time, actor,
agency, custodian, status, note and effects, and the receiver stores them as they are (sealing personal
values in its own vault and chaining hashes as its engine does, under its own chain key; vault references
name (dossier, seq, field), so even the stored rows agree). Each event also carries the sender's chain link,
kept with the import point in the receiver's audit chain (procflow.privacy.provenance), and nothing is
imported before the whole history passed :mod:`procflow.exchange.history` (the procedure's law, custody
at each step, the sender's chain). Envelopes carry personal values in clear to the receiving node,
which must be a member of the trust store; nothing here logs them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from procflow.definition.model import ProcedureDefinition
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind, replay
from procflow.engine.core import Engine
from procflow.engine.outbox import EXCHANGE_HANDOFF, OutboxTopic, topic_rule
from procflow.errors import DefinitionError, DossierNotFound, HandoffError, ProcflowError, UsageError
from procflow.exchange.builder import envelope_tree
from procflow.exchange.errors import (
    DefinitionMismatch,
    EnvelopeRejected,
    HistoryConflict,
    InconsistentPayload,
    NotAHandoff,
    ReplayedMessage,
    SenderNotCustodian,
    UnknownProcedure,
    WrongCustodian,
)
from procflow.exchange.history import check_history, verify_links
from procflow.exchange.model import Attachment, DocumentInfo, DossierPayload, Envelope, Party, TraceHop
from procflow.exchange.nodekeys import NodeKeys, TrustStore
from procflow.exchange.parser import DEFAULT_LIMITS, Limits
from procflow.exchange.payload import (
    StoreReplayGuard,
    _comparable,
    _last_handoff,
    dossier_event,
    dossier_payload,
    handoff_message_id,
)
from procflow.exchange.redaction import redacted, shown
from procflow.exchange.signing import sign_envelope
from procflow.exchange.verifier import Verifier
from procflow.privacy.access import record_disclosure
from procflow.privacy.hashchain import GENESIS
from procflow.privacy.provenance import import_entry

__all__ = [
    "ExchangeNode",
    "Received",
]

log = logging.getLogger("procflow.exchange")

_ALL_COLUMNS = frozenset({"sla", "step_due_at", "data", "agencies"})
_HANDOFF_PURPOSE = "inter-agency hand-off (liên thông)"


def _named(value: object) -> str:
    """A code read from a received envelope, as a refusal may show it (procflow.exchange.errors.shown)."""
    return shown(value, quote=False)


@attrs.frozen
class Received:
    """What an import did: the verified envelope, the dossier as this node now holds it, the new events."""

    envelope: Envelope
    dossier: Dossier
    new_events: tuple[DossierEvent, ...]
    created: bool


@attrs.frozen
class _Plan:
    envelope: Envelope
    definition: ProcedureDefinition
    events: tuple[DossierEvent, ...]
    known: int  # events this node already has


class ExchangeNode:
    """One procflow node's end of the federation, bound to its engine.

    ``agency`` is the node's identity: the agency code its key signs as and other nodes address it by.
    ``hosts`` are further agencies whose dossiers this node holds (a provincial node hosts the province's
    departments); ``directory`` maps agencies hosted elsewhere to their node, where the node's code is not
    the agency's own. ``keys`` (loaded once, at start-up) are needed to send; receiving needs only ``trust``.
    """

    def __init__(self, engine: Engine, agency: str, *, trust: TrustStore, keys: NodeKeys | None = None,
                 hosts: Iterable[str] = (), directory: Mapping[str, str] | None = None,
                 window: timedelta = timedelta(hours=24), future_skew: timedelta = timedelta(minutes=5),
                 limits: Limits = DEFAULT_LIMITS, require_links: bool = True) -> None:
        if keys is not None and keys.agency != agency:
            raise UsageError(f"node {agency}: its keys are {keys.agency}'s")
        self.engine = engine
        self.agency = agency
        self.keys = keys
        self.trust = trust
        self.hosts = frozenset({agency, *hosts})
        self.directory = dict(directory or {})
        self.require_links = require_links  # False: also import histories a sender wrote without chaining
        self.replay = StoreReplayGuard(engine.store, clock=engine.clock)
        self.verifier = Verifier(trust, agency, self.replay, window=window, future_skew=future_skew,
                                 clock=engine.clock.now, limits=limits)

    def node_of(self, agency: str) -> str:
        """The node holding ``agency``'s dossiers."""
        return self.agency if agency in self.hosts else self.directory.get(agency, agency)

    # -- sending -----------------------------------------------------------------------------------------
    def handoff_topic(self) -> OutboxTopic:
        """``exchange.handoff``: an event that gives custody to an agency hosted elsewhere sends the dossier."""

        def payloads(d: Dossier, e: DossierEvent, defn: ProcedureDefinition) -> Iterator[dict[str, Any]]:
            if e.custodian in self.hosts or not (e.handoff or e.kind == EventKind.FILED):
                return
            to = self.node_of(e.custodian)
            stored = [x for x in self.engine.store.events(d.id) if x.seq < e.seq]
            history = self._open([*stored, e])
            envelope = self._envelope(replay(history), history, defn, to=to, created_at=e.at,
                                      trigger=e.trigger, message_id=handoff_message_id(d.id, e.seq))
            signed = self._sign(envelope)
            self._disclosed(d.id, defn, to)
            log.info("hand-off %s of dossier %s to node %s enqueued", envelope.message_id, d.id, to)
            # The signed envelope carries the citizen's data in clear: at rest it lives in the vault (encrypted,
            # erased with the dossier's other values by retention) under the dossier's id and the NEGATIVE seq
            # of the event, apart from the event's own entry; the delivery worker opens it just before sending.
            # Signed once here, so every retry sends the same bytes and message id.
            sealed = self.engine.vault.seal(d.id, -e.seq, {"envelope": signed.decode("utf-8")},
                                            {"envelope": "document"})
            yield {"to_agency": to, "message_id": envelope.message_id, "dossier_id": d.id, "seq": e.seq,
                   "envelope": sealed["envelope"]}

        return OutboxTopic(EXCHANGE_HANDOFF, payloads, "signed hand-off envelopes to other agencies' nodes")

    def attach(self) -> None:
        """Subscribe this node's engine to :meth:`handoff_topic` (its rows go to ``procflow_deliver_handoff``)."""
        self.engine.outbox_rules.append(topic_rule([self.handoff_topic()]))

    def envelope_for(self, dossier_id: str, *, to: str | None = None, message_id: str | None = None,
                     created_at: datetime | None = None, trigger: str | None = None,
                     attachments: Sequence[Attachment] = ()) -> Envelope:
        """The hand-off envelope of a dossier this node handed to an agency hosted elsewhere (unsigned)."""
        d = self.engine.get(dossier_id)
        history = self.engine.history(dossier_id)
        node = self.node_of(d.custodian) if to is None else to
        if d.custodian in self.directory and self.directory[d.custodian] != node:
            raise HandoffError(f"dossier {dossier_id} is held by {d.custodian}, which node "
                               f"{self.directory[d.custodian]} hosts, not {node}")
        if d.custodian in self.hosts:
            raise HandoffError(f"dossier {dossier_id} is held here ({d.custodian}): only a transition that gives "
                               "custody to another agency hands it off")
        last = _last_handoff(history)
        if self.node_of(last.previous) != self.agency:
            raise HandoffError(f"dossier {dossier_id} was handed to {d.custodian} by {last.previous}, "
                               f"which is not hosted by this node ({self.agency})")
        return self._envelope(d, history, self.engine.definition(d.procedure, d.definition_version), to=node,
                              created_at=created_at or self.engine.clock.now(),
                              trigger=trigger if trigger is not None else last.event.trigger,
                              message_id=message_id or handoff_message_id(d.id, last.event.seq),
                              attachments=attachments)

    def export(self, dossier_id: str, *, actor: Actor | None = None, purpose: str = _HANDOFF_PURPOSE,
               **options: Any) -> bytes:
        """The signed hand-off envelope (see :meth:`envelope_for` for ``options``).

        An export is a read: the envelope carries the dossier's whole history with every personal value, so
        ``actor`` (default: this node's system identity) must be allowed to read it unmasked — checked and
        audited through :meth:`Engine.read_history`, ``AccessDenied`` otherwise, before anything is
        built — and the disclosure is audited under that actor."""
        reader = actor if actor is not None else Actor.system(self.agency, "exchange")
        self.engine.read_history(dossier_id, reader, purpose=purpose, unmask=True)
        envelope = self.envelope_for(dossier_id, **options)
        signed = self._sign(envelope)
        assert envelope.payload is not None
        defn = self.engine.definition(envelope.payload.procedure_code, envelope.payload.procedure_version)
        self._disclosed(dossier_id, defn, envelope.recipient_codes[0], reader, purpose)
        return signed

    def _disclosed(self, dossier_id: str, defn: ProcedureDefinition, to: str, actor: Actor | None = None,
                   purpose: str = _HANDOFF_PURPOSE) -> None:
        """Personal values leave in clear to another node: the access audit records it (not the values)."""
        fields = [f.name for f in defn.fields if f.personal is not None]
        if fields:
            record_disclosure(self.engine, actor or Actor.system(self.agency, "exchange"), dossier_id,
                              channel="exchange", purpose=purpose, fields=fields, recipient=to)

    def _sign(self, envelope: Envelope) -> bytes:
        if self.keys is None:
            raise HandoffError(f"node {self.agency} has no signing keys: it can receive, not send")
        if envelope.recipient_codes[0] not in self.trust:
            raise HandoffError(f"node {envelope.recipient_codes[0]} is not in this node's trust store: dossiers "
                               "(with their personal data) go only to member nodes")
        return sign_envelope(envelope_tree(envelope), self.keys)

    def _open(self, events: Sequence[DossierEvent]) -> list[DossierEvent]:
        opener = getattr(self.engine, "open_events", None)  # personal values from the vault (system path)
        return list(opener(events)) if opener is not None else list(events)

    def _party(self, code: str) -> Party:
        try:
            return Party(code, self.engine.registry.agency(code).name)
        except ProcflowError:
            return Party(code)

    def _envelope(self, d: Dossier, history: Sequence[DossierEvent], defn: ProcedureDefinition, *, to: str,
                  created_at: datetime, trigger: str | None, message_id: str,
                  attachments: Sequence[Attachment] = ()) -> Envelope:
        return Envelope(
            message_id=message_id,
            sender=self._party(self.agency),
            recipients=(self._party(to),),
            created_at=created_at,
            subject=f"Liên thông hồ sơ {d.id}: {defn.name_vi}",
            document=DocumentInfo.for_message(self.agency, created_at.date(), str(d.revision), "LT"),
            trigger=trigger,
            trace=(TraceHop(self.agency, created_at.replace(microsecond=0)),),
            payload=dossier_payload(d, history, defn),
            attachments=tuple(attachments),
        )

    # -- receiving ---------------------------------------------------------------------------------------
    def receive(self, data: bytes, *, source: str = "envelope") -> Received:
        """Verify ``data`` and import the hand-off it carries; raise an EnvelopeRejected subclass otherwise.

        A message id imported before raises :class:`ReplayedMessage` and changes nothing: for a sender
        retrying at least once, that answer means "delivered".
        """
        try:
            envelope = self.verifier.check(data, source=source)  # crypto and parsing outside the lock
            store = self.engine.store
            with store.transaction():
                payload = envelope.payload
                if not self.replay.record(envelope.message_id, sender=envelope.sender.code,
                                          dossier_id=payload.dossier_id if payload is not None else None):
                    raise ReplayedMessage(f"{source}: message {_named(envelope.message_id)} from "
                                          f"{_named(envelope.sender.code)} was already received")
                plan = self._plan(envelope, source)
                new_events = self._apply(plan)
                # the import point and the sender's links, in the audit chain (procflow.privacy.provenance)
                store.record_audit(import_entry(
                    at=self.engine.clock.now(), receiver=self.agency, sender=envelope.sender.code,
                    message_id=envelope.message_id, dossier_id=plan.events[0].dossier_id, first=new_events[0].seq,
                    last=new_events[-1].seq, envelope=data,
                    carried=[(p.prev_link, p.link) for p in (payload.events if payload else ())[plan.known:]]))
        except EnvelopeRejected as exc:
            log.info("refused envelope (%s) [%s]", source, exc.reason)  # the message may quote values: not logged
            raise
        dossier_id = plan.events[0].dossier_id
        log.info("imported hand-off %s from %s: dossier %s, events %d-%d", envelope.message_id,
                 envelope.sender.code, dossier_id, new_events[0].seq, new_events[-1].seq)
        return Received(envelope=envelope, dossier=self.engine.get(dossier_id), new_events=tuple(new_events),
                        created=plan.known == 0)

    def _plan(self, envelope: Envelope, source: str) -> _Plan:
        """Every refusal, before anything is written (the caller's transaction rolls back the replay record)."""
        p = envelope.payload
        if p is None:
            raise NotAHandoff(f"{source}: message {_named(envelope.message_id)} carries no procflow dossier; a foreign "
                              "document is attached to a dossier, not imported as one")
        if p.custodian not in self.hosts:
            raise WrongCustodian(f"{source}: dossier {_named(p.dossier_id)} is handed to {_named(p.custodian)}, "
                                 f"which this node ({self.agency}) does not host")
        try:
            defn = self.engine.definition(p.procedure_code, p.procedure_version)
        except DefinitionError as exc:
            raise UnknownProcedure(f"{source}: procedure {_named(p.procedure_code)} v{p.procedure_version} is not "
                                   "registered on this node") from exc
        if p.definition_hash is not None and p.definition_hash != defn.content_hash:
            raise DefinitionMismatch(f"{source}: procedure {_named(p.procedure_code)} v{p.procedure_version} is "
                                     "registered here with other content; both nodes must run the same definition")
        events = self._payload_events(p, defn, source)
        last = _last_handoff(events)
        if self.node_of(last.previous) != envelope.sender.code:
            raise SenderNotCustodian(f"{source}: dossier {_named(p.dossier_id)} was handed to {_named(p.custodian)} by "
                                     f"{_named(last.previous)}, which node {_named(envelope.sender.code)} does not "
                                     "host")
        try:
            local = self.engine.store.get(p.dossier_id)
        except DossierNotFound:
            return _Plan(envelope, defn, events, 0)
        if local.custodian in self.hosts:
            raise HistoryConflict(f"{source}: dossier {_named(p.dossier_id)} is held here ({_named(local.custodian)}); "
                                  f"{_named(envelope.sender.code)} cannot hand it on")
        mine = self.engine.history(p.dossier_id)  # personal values opened, as the envelope carries them
        if len(mine) >= len(events):
            raise HistoryConflict(f"{source}: dossier {_named(p.dossier_id)}: the envelope has {len(events)} events, "
                                  f"this node already has {len(mine)}")
        for ours, theirs in zip(mine, events, strict=False):
            if _comparable(ours) != _comparable(theirs):
                raise HistoryConflict(f"{source}: dossier {_named(p.dossier_id)}: event {ours.seq} differs from this "
                                      "node's copy; the histories diverged")
        return _Plan(envelope, defn, events, len(mine))

    def _payload_events(self, p: DossierPayload, defn: ProcedureDefinition, source: str
                        ) -> tuple[DossierEvent, ...]:
        try:
            events = tuple(dossier_event(p.dossier_id, pe) for pe in p.events)
            if not events or events[0].kind != EventKind.FILED:
                raise UsageError("the history does not start with the filing")
            if [e.seq for e in events] != list(range(1, len(events) + 1)):
                raise UsageError("event numbers are not 1, 2, 3, ...")
        except (ValueError, KeyError, TypeError) as exc:
            raise InconsistentPayload(f"{source}: dossier {_named(p.dossier_id)}: {redacted(str(exc))}") from exc
        self._check_history(p, defn, events, source)
        try:
            snapshot = replay(events)
        except (ValueError, KeyError, TypeError) as exc:
            raise InconsistentPayload(f"{source}: dossier {_named(p.dossier_id)}: {redacted(str(exc))}") from exc
        expected = {"procedure": p.procedure_code, "definition_version": p.procedure_version, "state": p.state,
                    "custodian": p.custodian, "receiving": p.receiving_agency,
                    "data": {f.name: f.to_python() for f in p.fields}}
        for name, value in expected.items():
            if getattr(snapshot, name) != value:
                raise InconsistentPayload(f"{source}: dossier {_named(p.dossier_id)}: replaying its events gives "
                                          f"another {name} than the snapshot sent")
        return events

    def _check_history(self, p: DossierPayload, defn: ProcedureDefinition, events: Sequence[DossierEvent],
                       source: str) -> None:
        """The sender's chain, then every event against the registered procedure (procflow.exchange.history)."""
        personal = {f.name: f.personal for f in defn.fields if f.personal is not None}
        verify_links(events, p.events, personal, source=source, required=self.require_links)

        def definition(version: int) -> ProcedureDefinition:
            try:
                return self.engine.definition(p.procedure_code, version)
            except DefinitionError as exc:
                raise UnknownProcedure(f"{source}: dossier {_named(p.dossier_id)} names procedure "
                                       f"{_named(p.procedure_code)} v{version}, which is not registered on this "
                                       "node") from exc

        def is_agency(code: str) -> bool:
            try:
                self.engine.registry.agency(code)
            except (ProcflowError, KeyError):
                return False
            return True

        check_history(events, definition, source=source, is_agency=is_agency)

    def _apply(self, plan: _Plan) -> list[DossierEvent]:
        """Write the new events as the sender's engine wrote them (inside the caller's transaction)."""
        engine, store = self.engine, self.engine.store
        # the one event writer (procflow.engine.eventwriter): vault, chain, timers, one transaction
        writer = engine.writer
        defn = plan.definition
        did = plan.events[0].dossier_id
        personal = {f.name: f.personal for f in defn.fields if f.personal is not None}
        timers = engine.timer_table(defn.code, defn.version)
        rows = store.events(did) if plan.known else []
        prev_hash = (rows[-1].hash or GENESIS) if rows else GENESIS
        before = replay(rows) if rows else None
        written = []
        for e in plan.events[plan.known:]:
            fx = e.effects
            if personal and fx and isinstance(fx.get("data"), Mapping):
                e = attrs.evolve(e, effects={**fx, "data": writer.seal(did, e.seq, fx["data"], personal)[1]})
            linked = writer.link(e, before, prev_hash=prev_hash)
            prev_hash = linked if linked is not None else prev_hash
            rows.append(e)
            after = replay(rows)
            changes = None
            if timers is not None:
                changes = (timers.on_file(after, engine.calendar, e.at) if before is None
                           else timers.on_fire(before, after, engine.calendar, e.at))
            # the sender's outbox rows stay with the sender: an imported event emits none here
            writer.write(after, e, expected=None if e.seq == 1 else e.seq - 1, changed=_ALL_COLUMNS, timers=changes)
            before = after
            written.append(e)
        return written


