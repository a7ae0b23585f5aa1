"""Forged histories from a trusted sender (tests/corpus/envelopes/forged_histories.toml): each is signed with
the sender's real key, so only the check of the history against the registered procedure and the sender's
chain can refuse it — with its own reason code, and with the receiving store byte-for-byte unchanged."""

from __future__ import annotations

import tomllib
from pathlib import Path

import attrs
import pytest
from forgery import fingerprint, forged, signed
from handoff_support import LAND

from procflow.dossier import Actor
from procflow.exchange import ForgedHistory

CORPUS = Path(__file__).parent.parent / "corpus" / "envelopes" / "forged_histories.toml"
CASES = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["forgery"]


def _personal(engine) -> dict[str, str]:
    return {f.name: f.personal for f in engine.definition(LAND, 1).fields if f.personal is not None}


def test_the_corpus_covers_every_forged_history_reason():
    from procflow.exchange import errors

    reasons = {c["reason"] for c in CASES}
    subclasses = {cls.reason for cls in vars(errors).values()
                  if isinstance(cls, type) and issubclass(cls, ForgedHistory) and cls is not ForgedHistory}
    assert reasons == subclasses


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_a_forged_history_is_refused_with_its_reason_and_nothing_stored(federation, case):
    fed = federation
    d, honest = fed.hand_to_office()
    envelope = fed.a.exchange.envelope_for(d.id, created_at=fed.clock.now())
    message_id = f"forged-{CASES.index(case)}"
    fake = forged(envelope, case["edits"], relink=case["relink"], personal=_personal(fed.a.engine),
                  message_id=message_id, substitute={"commune": fed.commune, "office": fed.office, "tax": fed.tax})
    before = fingerprint(fed.b.store.path)
    with pytest.raises(ForgedHistory) as info:
        fed.b.exchange.receive(signed(fake, fed.a.exchange.keys), source="forged.xml")
    assert info.value.reason == case["reason"], str(info.value)
    assert info.value.dossier_id == d.id and info.value.seq in {e["seq"] for e in case["edits"]} | {
        e["seq"] + 1 for e in case["edits"]}
    assert str(info.value).startswith(f"[{case['reason']}] forged.xml: dossier {d.id}, event ")
    assert fingerprint(fed.b.store.path) == before
    assert message_id not in fed.b.exchange.replay
    received = fed.b.exchange.receive(honest)  # the honest envelope still imports afterwards
    assert received.created and received.dossier.custodian == fed.office


def test_the_honest_hand_off_carries_the_senders_chain_and_the_receiver_ends_on_the_same_links(federation):
    fed = federation
    d, honest = fed.hand_to_office()
    envelope = fed.a.exchange.envelope_for(d.id, created_at=fed.clock.now())
    sent = [(e.prev_link, e.link) for e in envelope.payload.events]
    assert all(prev and link for prev, link in sent)
    fed.b.exchange.receive(honest)
    assert [(r.prev_hash.hex(), r.hash.hex()) for r in fed.b.rows(d.id)] == sent


def test_a_later_hand_back_is_checked_from_the_receivers_custody(federation):
    """The office hands the dossier back; a forged step at the office (fired by the commune) is refused."""
    fed = federation
    d, honest = fed.hand_to_office()
    fed.b.exchange.receive(honest)
    registrar = Actor(f"vpdk@{fed.office}", fed.office, {"registration_officer"})
    fed.b.engine.fire(d.id, "request_supplement", registrar)
    back = fed.b.exchange.envelope_for(d.id, created_at=fed.clock.now())
    last = back.payload.events[-1].seq
    fake = forged(back, [{"seq": last, "set": {"agency": fed.commune, "actor": f"motcua@{fed.commune}"}}],
                  relink=True, personal=_personal(fed.b.engine), message_id="back-forged")
    before = fingerprint(fed.a.store.path)
    with pytest.raises(ForgedHistory) as info:
        fed.a.exchange.receive(signed(fake, fed.b.exchange.keys))
    assert info.value.reason == "actor-not-custodian" and info.value.seq == last
    assert fingerprint(fed.a.store.path) == before
    assert fed.a.exchange.receive(fed.b.exchange.export(d.id)).new_events[-1].trigger == "request_supplement"


def test_a_sender_without_chaining_is_refused_unless_the_receiver_accepts_unchained_histories(federation):
    fed = federation
    d, _ = fed.hand_to_office()
    envelope = fed.a.exchange.envelope_for(d.id, created_at=fed.clock.now())
    bare = attrs.evolve(envelope, message_id="unchained-1", payload=attrs.evolve(envelope.payload, events=tuple(
        attrs.evolve(e, prev_link=None, link=None, link_scheme=None) for e in envelope.payload.events)))
    data = signed(bare, fed.a.exchange.keys)
    before = fingerprint(fed.b.store.path)
    with pytest.raises(ForgedHistory) as info:
        fed.b.exchange.receive(data)
    assert info.value.reason == "broken-chain" and fingerprint(fed.b.store.path) == before
    fed.b.exchange.require_links = False
    assert fed.b.exchange.receive(data).created


def test_a_sender_with_a_keyed_chain_hands_off_and_a_broken_keyed_link_is_still_refused(federation):
    """Issue 19: a sender whose links are HMAC-keyed (its key never leaves it) carries them as 'hmac-sha256';
    the receiver checks their linkage and shape (the envelope's signature covers the content)."""
    fed = federation
    fed.a.engine.vault.keys.new_signing_key("chain")  # what `procflow keys init` does to the keyring
    d, honest = fed.hand_to_office()
    envelope = fed.a.exchange.envelope_for(d.id, created_at=fed.clock.now())
    assert {e.link_scheme for e in envelope.payload.events} == {"hmac-sha256"}
    first = envelope.payload.events[0]
    broken = attrs.evolve(envelope, message_id="keyed-broken", payload=attrs.evolve(envelope.payload, events=(
        attrs.evolve(first, prev_link="11" * 32), *envelope.payload.events[1:])))
    before = fingerprint(fed.b.store.path)
    with pytest.raises(ForgedHistory) as info:
        fed.b.exchange.receive(signed(broken, fed.a.exchange.keys))
    assert info.value.reason == "broken-chain" and info.value.seq == 1
    assert fingerprint(fed.b.store.path) == before
    assert fed.b.exchange.receive(honest).created
