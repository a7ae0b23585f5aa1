"""procflow's own XML-DSig for its profile is ordinary XML-DSig: interoperable with signxml both ways.

signxml verifying what procflow signs is in test_exchange_signing; here: procflow verifying what signxml
signs (through the fast path, not by falling back), EC keys both ways, signatures in other shapes going to
signxml, and the enveloped-signature transform's handling of text around the signature.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from exchange_support import COMMUNE, PROVINCE, T0, sample_envelope
from lxml import etree
from signxml import CanonicalizationMethod, SignatureConfiguration, SignatureMethod, XMLSigner, XMLVerifier

from procflow.exchange import (
    EDXML_NS,
    MemoryReplayGuard,
    NodeKeys,
    SignatureInvalid,
    SignedContentTampered,
    TrustStore,
    Verifier,
    dsig,
    envelope_tree,
    parse_envelope,
    sign_envelope,
)
from procflow.exchange.parser import parse_xml
from procflow.exchange.signing import _header, _scope, _signxml_sign, _splice, find_signature, verify_signature

DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _verifier(trust: TrustStore) -> Verifier:
    return Verifier(trust, PROVINCE, MemoryReplayGuard(), clock=lambda: T0 + timedelta(minutes=1))


def _signed_by_signxml(keys: NodeKeys, envelope=None) -> bytes:
    root = envelope_tree(envelope or sample_envelope(attachment_size=20_000))
    covered, uri = _scope(root)
    return _signxml_sign(root, covered, _header(root), keys, uri)


def test_what_signxml_signs_procflow_verifies_on_its_own_path(pki, trust):
    envelope = sample_envelope(attachment_size=20_000)
    signed = _signed_by_signxml(pki[COMMUNE], envelope)
    assert dsig.parse_profile(find_signature(parse_xml(signed))) is not None  # the fast path, not a fallback
    assert _verifier(trust).verify(signed) == envelope


def test_procflow_and_signxml_compute_the_same_digest_and_signature(pki):
    envelope = sample_envelope()
    values = []
    for signed in (sign_envelope(envelope_tree(envelope), pki[COMMUNE]), _signed_by_signxml(pki[COMMUNE], envelope)):
        signature = find_signature(parse_xml(signed))
        values.append((signature.findtext(f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue"),
                       signature.findtext(f"{DS}SignatureValue")))
    assert values[0] == values[1]  # same canonical bytes, and RSA PKCS#1 v1.5 is deterministic


@pytest.fixture(scope="module")
def ec_keys() -> NodeKeys:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMUNE)])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=3650)).sign(key, hashes.SHA256()))
    return NodeKeys(COMMUNE, key, cert)


def test_ec_signatures_interoperate_both_ways(ec_keys):
    trust = TrustStore({COMMUNE: ec_keys.certificate})
    envelope = sample_envelope()
    ours = sign_envelope(envelope_tree(envelope), ec_keys)
    assert find_signature(parse_xml(ours)).find(f"{DS}SignedInfo/{DS}SignatureMethod").get(
        "Algorithm").endswith("ecdsa-sha256")
    config = SignatureConfiguration(expect_references=1, signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}),
                                    verification_time=T0)
    assert XMLVerifier().verify(ours, x509_cert=ec_keys.certificate, expect_config=config).signed_xml.get(
        "Id") == "envelope"
    assert _verifier(trust).verify(ours) == envelope
    assert _verifier(trust).verify(_signed_by_signxml(ec_keys, envelope)) == envelope


def test_a_signature_in_another_shape_is_left_to_signxml(pki, trust):
    """A KeyValue beside the certificate is valid XML-DSig, just not procflow's profile: signxml checks it
    (including that the KeyValue matches the certificate)."""
    root = envelope_tree(sample_envelope())
    covered, _ = _scope(root)
    header = _header(root)
    placeholder = etree.SubElement(header, f"{DS}Signature", Id="placeholder", nsmap={"ds": DS[1:-1]})
    signed_envelope = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256,
                                c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0).sign(
        covered, key=pki[COMMUNE].private_key, cert=[pki[COMMUNE].certificate], reference_uri="#envelope",
        always_add_key_value=True)
    header.remove(placeholder)
    data = _splice(root, covered, etree.tostring(signed_envelope, encoding="UTF-8"))
    parsed = parse_xml(data)
    assert parsed.find(f".//{DS}KeyValue") is not None and dsig.parse_profile(find_signature(parsed)) is None
    verify_signature(parsed, trust=trust, sender=COMMUNE, at=T0)  # accepted, by signxml
    tampered = parse_xml(data.replace(b"T\xc3\xa2n L\xe1\xba\xadp", b"Tan Lap", 1))
    with pytest.raises(SignedContentTampered):
        verify_signature(tampered, trust=trust, sender=COMMUNE, at=T0)


def test_text_around_the_signature_stays_in_the_signed_content():
    header = etree.fromstring(f'<h xmlns:ds="{DS[1:-1]}"><a/>\n  <ds:Signature><x/></ds:Signature>\n<b/></h>'.encode())
    never_signed = etree.fromstring(b"<h><a/>\n  \n<b/></h>")
    before = etree.tostring(header)
    signature = header[1]
    with dsig._detached(signature):
        assert etree.tostring(header, method="c14n", exclusive=True) == etree.tostring(
            never_signed, method="c14n", exclusive=True)
    assert etree.tostring(header) == before


def test_a_second_element_claiming_the_envelope_id_is_refused(pki, trust):
    root = parse_xml(sign_envelope(envelope_tree(sample_envelope()), pki[COMMUNE]))
    root.find(f"{{{EDXML_NS}}}AttachmentEncoded").set("Id", "envelope")
    with pytest.raises(SignatureInvalid, match="more than one element"):
        verify_signature(root, trust=trust, sender=COMMUNE, at=T0)


def test_the_digest_is_checked_after_the_signature(pki, trust):
    signed = sign_envelope(envelope_tree(sample_envelope()), pki[COMMUNE])
    root = parse_xml(signed)
    root.find(f".//{{{EDXML_NS}}}Subject").text = "đã sửa"
    with pytest.raises(SignedContentTampered):
        verify_signature(root, trust=trust, sender=COMMUNE, at=T0)
    assert parse_envelope(signed).subject != "đã sửa"
