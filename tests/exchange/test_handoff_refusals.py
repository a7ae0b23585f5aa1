"""Authentic envelopes a node still must not import: each refused with its reason, nothing stored.

Every crafted envelope here is signed by a real member node, so signature, signer, recipient and time all
pass: what is refused is the hand-off itself (custody, procedure, history). "Nothing stored" is checked on
the events, the replay table and the vault, and the message id must stay unrecorded so that a corrected
resend could still be accepted.
"""

from __future__ import annotations

import attrs
import pytest
from exchange_support import sample_envelope
from forgery import relinked
from handoff_support import deliver

from procflow.dossier import Actor
from procflow.exchange import (
    DefinitionMismatch,
    ExchangeNode,
    HandoffError,
    HistoryConflict,
    InconsistentPayload,
    NotAHandoff,
    SenderNotCustodian,
    UnknownProcedure,
    envelope_tree,
    sign_envelope,
)


def _resigned(node, envelope, message_id: str, **payload_changes) -> bytes:
    payload = attrs.evolve(envelope.payload, **payload_changes) if payload_changes else envelope.payload
    return sign_envelope(envelope_tree(attrs.evolve(envelope, message_id=message_id, payload=payload)), node.keys)


def _refused(node, data: bytes, error: type, reason: str) -> None:
    before = node.counts()
    with pytest.raises(error) as info:
        node.exchange.receive(data)
    assert info.value.reason == reason
    assert node.counts() == before
    return info.value


@pytest.mark.parametrize(
    ("changes", "error", "reason"),
    [
        ({"procedure_version": 99}, UnknownProcedure, "unknown-procedure"),
        ({"definition_hash": "0" * 64}, DefinitionMismatch, "definition-mismatch"),
        ({"state": "returned"}, InconsistentPayload, "inconsistent-payload"),
        ({"fields": ()}, InconsistentPayload, "inconsistent-payload"),
    ],
)
def test_payloads_that_would_not_replay_here_are_refused(federation, changes, error, reason):
    d, _ = federation.hand_to_office()
    envelope = federation.a.exchange.envelope_for(d.id, created_at=federation.clock.now())
    data = _resigned(federation.a.exchange, envelope, "crafted-1", **changes)
    _refused(federation.b, data, error, reason)
    assert "crafted-1" not in federation.b.exchange.replay


def test_a_history_with_a_gap_is_inconsistent(federation):
    d, _ = federation.hand_to_office()
    envelope = federation.a.exchange.envelope_for(d.id, created_at=federation.clock.now())
    events = envelope.payload.events
    data = _resigned(federation.a.exchange, envelope, "gap-1", events=(*events[:1], *events[2:]))
    _refused(federation.b, data, InconsistentPayload, "inconsistent-payload")


def test_a_foreign_document_is_not_a_hand_off(federation):
    fed = federation
    envelope = attrs.evolve(sample_envelope(sender=fed.commune, recipient=fed.office, created_at=fed.clock.now()),
                            payload=None)
    data = sign_envelope(envelope_tree(envelope), federation.a.exchange.keys)
    _refused(federation.b, data, NotAHandoff, "no-payload")


def test_a_node_cannot_hand_on_a_dossier_it_did_not_hold(federation):
    _, signed = federation.hand_to_office()
    federation.b.exchange.directory[federation.commune] = "000.99.99.H92"  # the commune is hosted elsewhere
    error = _refused(federation.b, signed, SenderNotCustodian, "sender-not-custodian")
    assert federation.commune in str(error)


def test_histories_that_diverge_or_bring_nothing_new_are_conflicts(federation):
    d, _ = federation.hand_to_office()
    deliver(federation.a, federation.clock)
    a, b, clock = federation.a, federation.b, federation.clock

    # the office holds the dossier now: the commune cannot send it again, however it rewrites it
    envelope = a.exchange.envelope_for(d.id, created_at=clock.now())
    _refused(b, _resigned(a.exchange, envelope, "again-1"), HistoryConflict, "history-conflict")

    # the office hands it back with an earlier event rewritten: the commune's copy disagrees
    registrar = Actor(f"vpdk@{federation.office}", federation.office, {"registration_officer"})
    b.engine.fire(d.id, "request_supplement", registrar)
    back = b.exchange.envelope_for(d.id, created_at=clock.now())
    events = list(back.payload.events)
    events[1] = attrs.evolve(events[1], actor="someone-else")
    personal = {f.name: f.personal for f in b.engine.definition(d.procedure, 1).fields if f.personal is not None}
    events = relinked(d.id, events, personal)  # a sender can recompute its unkeyed chain: our copy still differs
    _refused(a, _resigned(b.exchange, back, "rewritten-1", events=tuple(events)), HistoryConflict,
             "history-conflict")
    assert b.exchange.export(d.id)  # the honest envelope is fine...
    assert a.exchange.receive(b.exchange.export(d.id)).new_events[-1].trigger == "request_supplement"


def test_export_refuses_what_this_node_may_not_send(federation):
    d, _ = federation.hand_to_office()
    impostor = ExchangeNode(federation.a.engine, "000.55.55.H92", trust=federation.a.exchange.trust)
    with pytest.raises(HandoffError, match="not hosted by this node"):
        impostor.envelope_for(d.id)  # only the node hosting the commune that handed it over may send it
    stranger = "000.77.77.H92"
    with pytest.raises(HandoffError, match="trust store"):
        federation.a.exchange.export(d.id, to=stranger)  # personal data only goes to member nodes
    desk = Actor(f"motcua@{federation.commune}", federation.commune, {"one_stop_officer"})
    data = {"applicant_name": "A", "applicant_national_id": "092000000001", "parcel": "1"}
    kept = federation.a.engine.file("1.012751", version=1, filed_at=federation.commune, actor=desk, data=data)
    with pytest.raises(HandoffError, match="held here"):
        federation.a.exchange.envelope_for(kept.id)
