"""Done means: a commune → province → commune hand-off travels as signed envelopes between TWO stores.

Two SQLite files, two engines, two ``ExchangeNode`` identities with their own keys: the commune node
(one-stop desk of a ward in Cần Thơ) and the provincial node (the land registration office, which also
hosts the provincial tax department). First land registration (1.012751): the commune receives, verifies
and posts publicly; the land registration office processes (with the tax department) and issues the
certificate; the commune returns it. Each cross-node hand-off is an outbox row holding the signed envelope,
delivered by the outbox worker through ``HandoffAdapter`` and imported by the other node.
"""

from __future__ import annotations

import logging

import attrs
import pytest
from handoff_support import APPLICANT, LAND, assert_same_history, deliver

from procflow.dossier import Actor, replay
from procflow.exchange import (
    LocalTransport,
    ReplayedMessage,
    WrongCustodian,
    WrongRecipient,
    envelope_tree,
    parse_envelope,
    sign_envelope,
)


def test_commune_province_commune_hand_off_ends_with_the_same_history_on_two_stores(federation, caplog):
    a, b, clock, transport = federation.a, federation.b, federation.clock, federation.transport
    commune, office, tax = federation.commune, federation.office, federation.tax
    caplog.set_level(logging.DEBUG)
    desk = Actor(f"motcua@{commune}", commune, {"one_stop_officer"})
    land_officer = Actor(f"diachinh@{commune}", commune, {"land_officer"})
    registrar = Actor(f"vpdk@{office}", office, {"registration_officer"})
    tax_officer = Actor(f"thue@{tax}", tax, {"tax_officer"})

    # -- the commune node: receive, verify, post publicly; the office takes over ---------------------------
    d = a.engine.file(LAND, version=1, filed_at=commune, actor=desk, data=APPLICANT)
    clock.advance(minutes=30)
    a.engine.fire(d, "forward_to_commune", desk)
    a.engine.fire(d, "post_publicly", land_officer)
    clock.advance(days=15)
    a.engine.fire(d, "posting_complete", land_officer, note="niêm yết xong, không có tranh chấp")
    assert d.custodian == office and a.store.outbox(status="pending")[0]["topic"] == "exchange.handoff"
    deliver(a, clock)

    outbound = transport.bytes_seen[f"{d.id}:{d.revision}"]
    assert outbound[0] == outbound[1]  # signed once, when enqueued: a retry resends the same bytes
    assert "092987654321" in outbound[0].decode()  # the authorised receiver gets real values
    assert b.engine.get(d.id).custodian == office
    assert_same_history(a, b, d.id)

    # -- the provincial node: process with the tax department (same node), issue, hand back --------------
    clock.advance(days=1)
    e = b.engine.get(d.id)
    b.engine.fire(e, "send_to_tax", registrar, data={"documents_complete": True})
    assert e.custodian == tax and not b.store.outbox(status="pending")  # tax is hosted here: no envelope
    b.engine.fire(e, "notify_obligation", tax_officer)
    clock.advance(days=3)
    b.engine.fire(e, "confirm_payment", registrar, data={"obligation_paid": True})
    b.engine.fire(e, "issue_certificate", registrar)
    assert e.custodian == commune
    deliver(b, clock)

    assert_same_history(a, b, d.id)
    back = a.engine.get(d.id)
    assert (back.state, back.status, back.custodian, back.revision) == ("processed", 9, commune, e.revision)
    assert back.data["applicant_national_id"] == "092987654321" and back.data["area_m2"] == 125.5
    handoffs = [(x.trigger, x.effects["custodian_from"], x.custodian) for x in a.events(d.id) if x.handoff]
    assert handoffs == [("posting_complete", commune, office), ("send_to_tax", office, tax),
                        ("notify_obligation", tax, office), ("issue_certificate", office, commune)]

    # -- the commune returns the result: its own event, on its own node ------------------------------------
    a.engine.fire(back, "return_result", desk)
    assert replay(a.events(d.id)) == a.engine.get(d.id) and a.engine.get(d.id).status == 10
    assert "092987654321" not in caplog.text and "Trần Thị Bích Ngọc" not in caplog.text


def test_replayed_and_misaddressed_envelopes_are_refused_and_store_nothing(federation):
    a, b, clock, transport = federation.a, federation.b, federation.clock, federation.transport
    commune, office = federation.commune, federation.office
    d, signed = federation.hand_to_office()
    deliver(a, clock)

    # the same envelope again (outbox at-least-once): refused as a replay, nothing stored
    before = b.counts()
    with pytest.raises(ReplayedMessage) as info:
        b.exchange.receive(signed)
    assert info.value.reason == "replayed" and b.counts() == before
    receipt = LocalTransport.send(transport, office, signed, message_id="again", timeout=1.0)  # not flaky
    assert isinstance(receipt, str) and receipt.endswith("already-received")  # a transport acknowledges it
    assert b.counts() == before

    # addressed to the office's node, delivered to the commune's: wrong recipient, nothing stored
    before_a = a.counts()
    with pytest.raises(WrongRecipient):
        a.exchange.receive(signed)
    assert a.counts() == before_a

    # addressed to the right node but handing the dossier to an agency that node does not host
    envelope = a.exchange.envelope_for(d.id, created_at=clock.now())
    payload = attrs.evolve(envelope.payload, custodian=commune)
    stray = sign_envelope(envelope_tree(attrs.evolve(envelope, message_id="stray-1", payload=payload)),
                          a.exchange.keys)
    assert parse_envelope(stray).recipient_codes == (office,)
    before = b.counts()
    with pytest.raises(WrongCustodian) as refused:
        b.exchange.receive(stray)
    assert refused.value.reason == "wrong-custodian" and b.counts() == before
    assert "stray-1" not in b.exchange.replay  # a refused import leaves no replay record either


def test_a_pending_hand_off_keeps_the_citizens_data_encrypted_at_rest(federation, tmp_path):
    """The signed envelope names the applicant, their national ID and address; until (and after) it is sent
    the outbox row holds a vault reference, so the commune node's database files hold none of them."""
    from pathlib import Path

    a = federation.a
    d, signed = federation.hand_to_office()
    secrets_ = [APPLICANT["applicant_name"], APPLICANT["applicant_national_id"], APPLICANT["land_address"]]
    assert all(s.encode() in signed for s in secrets_)  # what the receiving node gets: the real values
    a.store.execute("PRAGMA wal_checkpoint(PASSIVE)")
    blob = b"".join(p.read_bytes() for p in Path(a.store.path).parent.glob(Path(a.store.path).name + "*")
                    if not p.name.endswith(".keys"))
    assert APPLICANT["parcel"].encode() in blob  # not personal: stored as it is, so the scan does see clear text
    assert [s for s in secrets_ if s.encode() in blob] == []
    assert a.engine.vault.live_entries(d.id) >= 2  # the dossier's values and the envelope, erased together
