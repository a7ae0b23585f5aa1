"""Signing and verification of well-formed traffic: keys, trust store, signature shape."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from exchange_strategies import envelopes
from exchange_support import COMMUNE, MINISTRY, OTHER, PROVINCE, T0, sample_envelope
from hypothesis import HealthCheck, given, settings
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier

from procflow.exchange import (
    EDXML_NS,
    EncodingError,
    EnvelopeRejected,
    MemoryReplayGuard,
    NodeKeys,
    Party,
    ReplayGuard,
    SignerMismatch,
    TrustStore,
    Verifier,
    build_envelope,
    envelope_tree,
    generate_test_keys,
    sign_envelope,
)

DS = "{http://www.w3.org/2000/09/xmldsig#}"


def test_signed_envelope_verifies_to_exactly_what_was_sent(pki, inbox_factory):
    envelope = sample_envelope(attachment_size=100_000)
    inbox = inbox_factory(PROVINCE)
    assert inbox.receive(sign_envelope(build_envelope(envelope), pki[COMMUNE])) == envelope
    assert inbox.guard.calls == [envelope.message_id]


def test_signing_a_tree_equals_signing_its_bytes_and_leaves_the_tree_alone(pki):
    envelope = sample_envelope()
    tree = envelope_tree(envelope)
    before = etree.tostring(tree)
    from_tree = sign_envelope(tree, pki[COMMUNE])
    assert etree.tostring(tree) == before  # no placeholder left behind
    assert from_tree == sign_envelope(build_envelope(envelope), pki[COMMUNE])  # RSA PKCS#1 v1.5 is deterministic


def test_signature_shape(pki):
    root = etree.fromstring(sign_envelope(build_envelope(sample_envelope()), pki[COMMUNE]))
    header = root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader")
    signature = header[-1]
    assert signature.tag == f"{DS}Signature"
    assert signature.find(f"{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    assert signature.find(f"{DS}SignedInfo/{DS}CanonicalizationMethod").get("Algorithm").endswith("xml-exc-c14n#")
    references = signature.findall(f"{DS}SignedInfo/{DS}Reference")
    assert [r.get("URI") for r in references] == ["#envelope"]  # attachments are bound by manifest digests
    assert root.find(f"{{{EDXML_NS}}}edXMLEnvelope").get("Id") == "envelope"
    assert signature.findtext(f"{DS}KeyInfo/{DS}KeyName") == COMMUNE
    assert all(e.prefix == "ds" for e in signature.iter())


def test_a_generic_xmldsig_verifier_given_the_whole_document_accepts_the_signature(pki):
    """Interop: nothing procflow-specific is needed to check the signature (signxml as a stand-in)."""
    signed = sign_envelope(build_envelope(sample_envelope()), pki[COMMUNE])
    config = SignatureConfiguration(
        location=f"./{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader/", verification_time=T0
    )
    result = XMLVerifier().verify(signed, x509_cert=pki[COMMUNE].certificate, expect_config=config)
    assert result.signed_xml.get("Id") == "envelope"


def test_a_node_signs_only_its_own_envelopes(pki):
    with pytest.raises(SignerMismatch):
        sign_envelope(build_envelope(sample_envelope(sender=COMMUNE)), pki[PROVINCE])


def test_an_envelope_is_signed_once(pki):
    signed = sign_envelope(build_envelope(sample_envelope()), pki[COMMUNE])
    with pytest.raises(EncodingError, match="already signed"):
        sign_envelope(signed, pki[COMMUNE])


def test_sign_refuses_what_is_not_an_envelope(pki):
    with pytest.raises(EnvelopeRejected) as caught:
        sign_envelope(b"<x/>", pki[COMMUNE])
    assert caught.value.reason == "unencodable"


def test_node_keys_are_checked_against_their_certificate(pki):
    with pytest.raises(ValueError, match="does not match"):
        NodeKeys(COMMUNE, pki[COMMUNE].private_key, pki[PROVINCE].certificate)
    assert "private_key" not in repr(pki[COMMUNE])  # never print a key


def test_trust_store_loads_certificates_by_agency(pki_dir, pki):
    trust = TrustStore.load(pki_dir)
    assert list(trust) == sorted([COMMUNE, PROVINCE, OTHER, MINISTRY])
    assert COMMUNE in trust and "000.99.99.H99" not in trust
    assert trust.agency_of(pki[OTHER].certificate) == OTHER
    assert trust.agency_of(generate_test_keys("x").certificate) is None


def test_expired_certificate_is_refused(inbox_factory, trust):
    old = generate_test_keys(COMMUNE, now=T0 - timedelta(days=30), valid_days=10)
    expired_trust = TrustStore({**{code: trust.certificate(code) for code in trust}, COMMUNE: old.certificate})
    from exchange_support import make_inbox

    inbox = make_inbox(expired_trust, PROVINCE)
    with pytest.raises(EnvelopeRejected) as caught:
        inbox.receive(sign_envelope(build_envelope(sample_envelope()), old))
    assert caught.value.reason == "signature-invalid"
    assert "not valid" in str(caught.value)
    assert inbox.guard.calls == []


def test_memory_replay_guard_is_a_replay_guard():
    guard = MemoryReplayGuard()
    assert isinstance(guard, ReplayGuard)
    assert guard.seen_or_record("a") is False
    assert guard.seen_or_record("a") is True
    assert "a" in guard and len(guard) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes)
def test_any_envelope_signed_by_its_sender_verifies_to_itself(pki, trust, envelope):
    """Exclusive c14n of the envelope must be stable from the sender's built tree to the receiver's parse."""
    envelope = attrs.evolve(
        envelope, sender=Party(COMMUNE), recipients=(*envelope.recipients, Party(PROVINCE)), created_at=T0
    )
    verifier = Verifier(trust, PROVINCE, MemoryReplayGuard(), clock=lambda: envelope.created_at)
    signed = sign_envelope(envelope_tree(envelope), pki[COMMUNE])
    assert verifier.verify(signed) == envelope
