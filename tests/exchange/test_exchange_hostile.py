"""The hostile corpus: every attack is refused with its own reason code, and nothing is recorded.

"Nothing recorded" is checked twice for every case: the replay guard was never even asked to record
the message id, and the receiving callback (the import) was never called.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from exchange_support import COMMUNE, OTHER, PROVINCE, T0, Inbox, make_inbox, sample_envelope
from lxml import etree

from procflow.exchange import (
    EDXML_NS,
    PF_NS,
    EnvelopeRejected,
    Limits,
    NodeKeys,
    TrustStore,
    build_envelope,
    envelope_tree,
    generate_test_keys,
    parse_envelope,
    read_edxml,
    sign_envelope,
    write_edxml,
)

HOSTILE = Path(__file__).parent / "hostile"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _expected_reasons() -> list[tuple[str, str]]:
    rows = []
    for line in (HOSTILE / "expected-reasons.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, reason = line.split()
            rows.append((name, reason))
    return rows


def _refused(inbox: Inbox, data: bytes, reason: str) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        inbox.receive(data)
    assert caught.value.reason == reason, str(caught.value)
    assert type(caught.value).reason == reason  # one class per reason, not a code in a generic error
    assert inbox.accepted == []
    assert inbox.guard.calls == []
    return caught.value


def _signed(pki: dict[str, NodeKeys], **kwargs: object) -> bytes:
    envelope = sample_envelope(**kwargs)  # type: ignore[arg-type]
    return sign_envelope(envelope_tree(envelope), pki[envelope.sender.code])


# --- static files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "reason"), _expected_reasons())
def test_static_corpus_file_is_refused(name, reason, inbox_factory):
    data = (HOSTILE / name).read_bytes()
    error = _refused(inbox_factory(PROVINCE), data, reason)
    assert "root:" not in str(error)  # no /etc/passwd content leaks into messages
    for reader in (parse_envelope, read_edxml):  # the non-verifying readers refuse the same way
        with pytest.raises(EnvelopeRejected) as caught:
            reader(data)
        assert caught.value.reason == reason


def test_every_corpus_file_is_listed():
    listed = {name for name, _ in _expected_reasons()}
    present = {p.name for p in HOSTILE.iterdir() if p.suffix in (".xml", ".bin")}
    assert listed == present


def test_xxe_reads_no_file(tmp_path, inbox_factory):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CCCD-001234567890")
    template = (HOSTILE / "xxe_file.xml").read_text()
    data = template.replace("file:///etc/passwd", secret.as_uri()).encode()
    error = _refused(inbox_factory(PROVINCE), data, "forbidden-construct")
    assert "TOP-SECRET" not in str(error)


def test_xxe_makes_no_network_request(inbox_factory):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        for name in ("xxe_network.xml", "xxe_parameter_entity.xml", "external_dtd.xml"):
            data = (HOSTILE / name).read_text().replace("127.0.0.1:9", f"127.0.0.1:{port}").encode()
            _refused(inbox_factory(PROVINCE), data, "forbidden-construct")
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody called


def test_doctype_behind_a_long_prolog_is_still_forbidden(inbox_factory):
    data = (HOSTILE / "billion_laughs.xml").read_bytes().replace(b"<!DOCTYPE", b"<!---->" * 500 + b"<!DOCTYPE", 1)
    _refused(inbox_factory(PROVINCE), data, "forbidden-construct")


def test_quadratic_blowup_is_refused(inbox_factory):
    big = "A" * 50_000
    data = (
        '<?xml version="1.0"?>\n<!DOCTYPE edXML [<!ENTITY a "' + big + '">]>\n'
        f'<edXML xmlns="{EDXML_NS}"><Subject>' + "&a;" * 20_000 + "</Subject></edXML>"
    ).encode()
    assert len(data) < Limits().max_bytes
    _refused(inbox_factory(PROVINCE), data, "forbidden-construct")


# --- size, depth, structure ---------------------------------------------------------------------------------


def test_oversize_document_is_refused_before_parsing(inbox_factory):
    data = build_envelope(sample_envelope(attachment_size=200_000))
    error = _refused(inbox_factory(PROVINCE, limits=Limits(max_bytes=100_000)), data, "too-large")
    assert "exceeds the limit of 100000" in str(error)
    _refused(inbox_factory(PROVINCE), b"<edXML>" + b" " * (Limits().max_bytes + 1), "too-large")


@pytest.mark.parametrize("depth", [40, 300, 5000])
def test_too_deep_nesting_is_refused(depth, inbox_factory):
    valid = build_envelope(sample_envelope())
    nested = b"<pf:x>" * depth + b"</pf:x>" * depth
    data = valid.replace(b"<pf:Fields>", b"<pf:Fields>" + nested, 1)
    _refused(inbox_factory(PROVINCE), data, "too-deep")


def test_payload_in_another_version_namespace_is_wrong_namespace(pki, inbox_factory):
    data = _signed(pki).replace(PF_NS.encode(), b"urn:procflow:exchange:2")
    error = _refused(inbox_factory(PROVINCE), data, "wrong-namespace")
    assert "urn:procflow:exchange:2" in str(error)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda b: b.replace(b"<edXML:DocumentId>", b"<edXML:DocId>").replace(
                b"</edXML:DocumentId>", b"</edXML:DocId>"
            ),
            "DocId",
        ),
        (lambda b: b.replace(b"2025/07/15</edXML:PromulgationDate>", b"2025/13/45</edXML:PromulgationDate>"), "month"),
        (lambda b: b.replace(b'procedureVersion="2"', b'procedureVersion="two"'), "procedureVersion"),
        (lambda b: b.replace(b"<pf:Int name", b"<pf:Integer name").replace(b"</pf:Int>", b"</pf:Integer>"), "Integer"),
        (
            lambda b: b.replace(b'createdAt="2025-07-15T09:30:12.345678+07:00"', b'createdAt="2025-07-15T09:30:12"'),
            "createdAt",
        ),
        (lambda b: b.replace(b"<pf:Bool name", b'<pf:Bool unexpected="1" name'), "unexpected"),
    ],
)
def test_schema_invalid_envelopes_are_refused_with_location(pki, mutate, fragment, inbox_factory):
    data = mutate(_signed(pki))
    error = _refused(inbox_factory(PROVINCE), data, "schema-invalid")
    assert fragment in str(error)


def test_truncated_envelope_is_refused(pki, inbox_factory):
    data = _signed(pki)
    for cut in (len(data) // 2, len(data) - 1, 200):
        _refused(inbox_factory(PROVINCE), data[:cut], "truncated")


def test_truncated_inside_a_multibyte_character_is_truncated(pki, inbox_factory):
    data = _signed(pki)
    cut = data.index("Nguyễn".encode()) + len(b"Nguy") + 1  # inside the 3-byte "ễ"
    _refused(inbox_factory(PROVINCE), data[:cut], "truncated")


def test_malformed_but_complete_envelope_is_malformed(pki, inbox_factory):
    data = _signed(pki).replace(b"</edXML:Subject>", b"</edXML:Subjekt>")
    _refused(inbox_factory(PROVINCE), data, "malformed")


# --- signatures ----------------------------------------------------------------------------------------------


def test_missing_signature_is_refused(inbox_factory):
    _refused(inbox_factory(PROVINCE), build_envelope(sample_envelope()), "signature-missing")


def test_bad_signature_value_is_refused(pki, inbox_factory):
    root = etree.fromstring(_signed(pki))
    value = root.find(f".//{DS}SignatureValue")
    value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]
    _refused(inbox_factory(PROVINCE), etree.tostring(root), "signature-invalid")


def test_envelope_signed_by_another_agency_is_signer_mismatch(pki, inbox_factory):
    impostor = NodeKeys(COMMUNE, pki[OTHER].private_key, pki[OTHER].certificate)  # OTHER's real key pair
    data = sign_envelope(envelope_tree(sample_envelope()), impostor)
    error = _refused(inbox_factory(PROVINCE), data, "signer-mismatch")
    assert OTHER in str(error) and COMMUNE in str(error)


def test_signature_by_an_unknown_key_is_signature_invalid(inbox_factory):
    stranger = generate_test_keys(COMMUNE, now=T0 - timedelta(days=1))
    data = sign_envelope(envelope_tree(sample_envelope()), stranger)
    _refused(inbox_factory(PROVINCE), data, "signature-invalid")


def test_untrusted_sender_is_refused(pki):
    inbox_trust = TrustStore({PROVINCE: pki[PROVINCE].certificate})
    _refused(make_inbox(inbox_trust, PROVINCE), _signed(pki), "untrusted-sender")


def test_payload_tampered_after_signing_is_refused(pki, inbox_factory):
    data = _signed(pki).replace("Nguyễn Hoàng Bảo Anh".encode(), "Trần Hoàng Bảo Anh".encode())
    _refused(inbox_factory(PROVINCE), data, "tampered")


def test_header_tampered_after_signing_is_refused(pki, inbox_factory):
    # Re-address a commune→province message to another agency: the signature covers the header too.
    data = _signed(pki).replace(f"<edXML:OrganId>{PROVINCE}".encode(), f"<edXML:OrganId>{OTHER}".encode())
    _refused(inbox_factory(OTHER), data, "tampered")


def test_attachment_tampered_after_signing_is_refused(pki, inbox_factory):
    """Attachments are bound by the signed manifest digest, so this is a digest mismatch."""
    data = _signed(pki)
    start = data.index(b"<ContentTransferEncoded>") + len(b"<ContentTransferEncoded>") + 100
    swapped = b"B" if data[start : start + 1] != b"B" else b"C"
    error = _refused(inbox_factory(PROVINCE), data[:start] + swapped + data[start + 1 :], "attachment-digest-mismatch")
    assert "giay_chung_sinh.pdf" in str(error)


def test_attachment_swapped_or_added_outside_the_signature_is_refused(pki, inbox_factory):
    data = _signed(pki)
    renamed = data.replace(b"<AttachmentName>giay_chung_sinh.pdf", b"<AttachmentName>khac.pdf")
    _refused(inbox_factory(PROVINCE), renamed, "schema-invalid")  # must agree with the signed manifest
    extra = data.replace(
        b"</AttachmentEncoded>",
        b"<Attachment><ContentType>text/plain</ContentType><ContentId>att9</ContentId>"
        b"<ContentTransferEncoded>aGk=</ContentTransferEncoded><AttachmentName>x</AttachmentName>"
        b"</Attachment></AttachmentEncoded>",
    )
    _refused(inbox_factory(PROVINCE), extra, "schema-invalid")  # unsigned content nobody referenced


def test_attachment_whose_signed_digest_does_not_match_is_refused(pki, inbox_factory):
    tree = envelope_tree(sample_envelope())
    digest = tree.find(f".//{{{PF_NS}}}Digest")
    digest.text = "0" * 64  # a sender that declares one thing and attaches another
    data = sign_envelope(tree, pki[COMMUNE])
    error = _refused(inbox_factory(PROVINCE), data, "attachment-digest-mismatch")
    assert "giay_chung_sinh.pdf" in str(error)


def _signed_foreign(pki: dict[str, NodeKeys]) -> etree._Element:
    envelope = attrs.evolve(sample_envelope(), attachments=sample_envelope().attachments[:1])
    return etree.fromstring(sign_envelope(write_edxml(envelope), pki[COMMUNE]))


def test_signature_outside_the_header_is_refused(pki, inbox_factory):
    root = etree.fromstring(_signed(pki))
    root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLBody").append(root.find(f".//{DS}Signature"))
    _refused(inbox_factory(PROVINCE), etree.tostring(root), "schema-invalid")  # the profile pins its place
    foreign = _signed_foreign(pki)  # foreign edXML has no strict schema: the location check refuses it
    foreign.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLBody").append(foreign.find(f".//{DS}Signature"))
    error = _refused(inbox_factory(PROVINCE, now=T0), etree.tostring(foreign), "signature-invalid")
    assert "not in edXMLHeader" in str(error)


def test_two_signatures_are_refused(pki, inbox_factory):
    foreign = _signed_foreign(pki)
    signature = foreign.find(f".//{DS}Signature")
    foreign.find(f".//{{{EDXML_NS}}}edXMLHeader").append(etree.fromstring(etree.tostring(signature)))
    error = _refused(inbox_factory(PROVINCE, now=T0), etree.tostring(foreign), "signature-invalid")
    assert "2 signatures" in str(error)


def test_signature_over_part_of_the_document_is_refused(pki, inbox_factory):
    foreign = _signed_foreign(pki)
    foreign.find(f".//{DS}Reference").set("URI", "#body")
    error = _refused(inbox_factory(PROVINCE, now=T0), etree.tostring(foreign), "signature-invalid")
    assert "whole document" in str(error)


# --- addressing, time, replay ----------------------------------------------------------------------------


def test_wrong_recipient_is_refused(pki, inbox_factory):
    error = _refused(inbox_factory(OTHER), _signed(pki), "wrong-recipient")
    assert PROVINCE in str(error) and OTHER in str(error)


@pytest.mark.parametrize(
    "now",
    [T0 + timedelta(hours=24, seconds=1), T0 + timedelta(days=400), T0 - timedelta(minutes=6)],
    ids=["just-too-old", "a-year-old", "from-the-future"],
)
def test_stale_timestamp_is_refused(pki, now, inbox_factory):
    _refused(inbox_factory(PROVINCE, now=now), _signed(pki), "stale")


def test_replayed_message_id_is_refused_and_recorded_once(pki, inbox_factory):
    inbox = inbox_factory(PROVINCE)
    data = _signed(pki)
    inbox.receive(data)
    with pytest.raises(EnvelopeRejected) as caught:
        inbox.receive(data)
    assert caught.value.reason == "replayed"
    assert len(inbox.accepted) == 1
    assert inbox.guard.seen == {"msg-250715-0001"}
    # A different envelope reusing the id (re-signed by the real sender) is a replay too.
    again = _signed(pki, created_at=T0 + timedelta(minutes=1))
    with pytest.raises(EnvelopeRejected, match="already received"):
        inbox.receive(again)


def test_rejected_message_can_still_arrive_later(pki, inbox_factory):
    """A refusal records nothing, so the genuine message is accepted when it does arrive."""
    inbox = inbox_factory(PROVINCE)
    good = _signed(pki)
    _refused(inbox, good.replace(b"H22.31.07-250715-0001", b"H22.31.07-250715-9999"), "tampered")
    assert inbox.receive(good).message_id == "msg-250715-0001"


def test_verification_order_reports_the_earliest_failure(pki, inbox_factory):
    """Wrong recipient *and* stale: the recipient check runs first, so that is what is reported."""
    inbox = inbox_factory(OTHER, now=T0 + timedelta(days=3))
    _refused(inbox, _signed(pki), "wrong-recipient")


def test_unsigned_foreign_is_its_own_reason(inbox_factory):
    envelope = attrs.evolve(sample_envelope(), attachments=())
    _refused(inbox_factory(PROVINCE), write_edxml(envelope), "unsigned")
