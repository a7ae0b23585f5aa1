"""Interop with foreign edXML: reading what document systems emit, writing what they read."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import attrs
import pytest
from exchange_support import COMMUNE, MINISTRY, OTHER, PROVINCE, SAMPLES, T0, sample_envelope
from lxml import etree

from procflow.exchange import (
    EDXML_NS,
    VN_TZ,
    Attachment,
    EncodingError,
    Party,
    TraceHop,
    build_envelope,
    read_edxml,
    sign_envelope,
    write_edxml,
)

FOREIGN = SAMPLES / "foreign_cong_van.edxml"
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"% Cong van 1234/BTP-HTQTCT ve huong dan lien thong khai sinh\n%%EOF\n"
)
APPENDIX = "Phụ lục: Danh mục giấy tờ liên thông đăng ký khai sinh, thường trú, BHYT.\n".encode()
FOREIGN_SENT = datetime(2025, 7, 15, 9, 5, 41, tzinfo=VN_TZ)


def test_reads_a_foreign_official_letter_into_the_neutral_model():
    envelope = read_edxml(FOREIGN.read_bytes())
    assert envelope.sender == Party(MINISTRY, "Cục Hộ tịch, quốc tịch, chứng thực")
    assert envelope.recipient_codes == (PROVINCE, OTHER)
    assert envelope.message_id == "000.00.00.G12,2025/07/10,1234/BTP-HTQTCT"
    assert envelope.document.document_id == envelope.message_id
    assert envelope.document.code_number == "1234"
    assert envelope.document.code_notation == "BTP-HTQTCT"
    assert envelope.document.document_type == 18
    assert envelope.document.type_name == "Công văn"
    assert envelope.document.promulgation_date == date(2025, 7, 10)
    assert envelope.document.promulgation_place == "Hà Nội"
    assert envelope.document.due_date == date(2025, 7, 31)
    assert envelope.subject.startswith("V/v hướng dẫn thực hiện liên thông đăng ký khai sinh")
    assert envelope.trace == (
        TraceHop(MINISTRY, FOREIGN_SENT),
        TraceHop("000.00.00.G01", datetime(2025, 7, 15, 9, 6, 2, tzinfo=VN_TZ)),
    )
    assert envelope.created_at == FOREIGN_SENT  # the sender's own trace hop dates the message
    assert envelope.payload is None and envelope.trigger is None
    assert [(a.name, a.media_type, a.description, a.content) for a in envelope.attachments] == [
        ("1234_BTP-HTQTCT.pdf", "application/pdf", "Công văn", PDF),
        ("Phu_luc_danh_muc.txt", "text/plain; charset=utf-8", "Phụ lục", APPENDIX),
    ]
    assert all(a.sha256 == hashlib.sha256(a.content).hexdigest() for a in envelope.attachments)


def test_reads_an_envelope_without_the_outer_root():
    root = etree.fromstring(FOREIGN.read_bytes())
    envelope_element = root.find(f"{{{EDXML_NS}}}edXMLEnvelope")
    manifest = envelope_element.find(f".//{{{EDXML_NS}}}edXMLManifest")
    for reference in list(manifest):
        manifest.remove(reference)  # without the outer root there is no AttachmentEncoded to point at
    envelope = read_edxml(etree.tostring(envelope_element))
    assert envelope.message_id == "000.00.00.G12,2025/07/10,1234/BTP-HTQTCT"
    assert envelope.attachments == ()


def test_manifest_reference_without_content_is_refused():
    data = FOREIGN.read_bytes().replace(b"<ContentId>5b0e2f0c", b"<ContentId>00000000")
    with pytest.raises(Exception) as caught:
        read_edxml(data)
    assert caught.value.reason == "schema-invalid"
    assert "cid:5b0e2f0c" in str(caught.value)


def test_foreign_base64_with_garbage_is_refused():
    data = FOREIGN.read_bytes().replace(b"c2luaAolJUVPRgo=", b"c2luaAolJUV*Rgo=")
    with pytest.raises(Exception) as caught:
        read_edxml(data)
    assert caught.value.reason == "schema-invalid"
    assert "base64" in str(caught.value)


def _foreign_shaped(envelope):
    """What an edXML system (and read_edxml) sees of a procflow envelope."""
    sender_hops = [hop.at for hop in envelope.trace if hop.agency == envelope.sender.code]
    return attrs.evolve(
        envelope,
        message_id=envelope.document.document_id,
        created_at=sender_hops[0],
        trigger=None,
        payload=None,
    )


def test_what_procflow_writes_for_edxml_systems_reads_back():
    envelope = attrs.evolve(sample_envelope(), attachments=sample_envelope().attachments[:1])
    data = write_edxml(envelope)
    root = etree.fromstring(data)
    edxml = f"{{{EDXML_NS}}}"
    assert root.tag == f"{edxml}edXML"
    assert root.nsmap[None] == EDXML_NS and "xsi" in root.nsmap
    trace_list = root.find(f".//{edxml}TraceHeaderList")
    assert trace_list.get("mustUnderstand") == "1" and trace_list.get("version") == "1.0"
    assert trace_list.find(f"{edxml}Bussiness/{edxml}BussinessDocType").text == "0"
    assert root.find(f".//{edxml}edXMLHeader/{edxml}DigitalSignature") is not None
    reference = root.find(f".//{edxml}edXMLManifest/{edxml}Reference")
    assert reference.get("{http://www.w3.org/1999/xlink}href") == "cid:att1"
    assert reference.findtext(f"{edxml}ContentId") == "cid:att1"
    assert root.findtext(f"{edxml}AttachmentEncoded/{edxml}Attachment/{edxml}ContentId") == "att1"
    assert not any(etree.QName(e).namespace == "urn:procflow:exchange:1" for e in root.iter())
    assert read_edxml(data) == _foreign_shaped(envelope)


def test_write_edxml_refuses_external_attachments():
    with pytest.raises(EncodingError, match="inline only"):
        write_edxml(sample_envelope())


def test_read_edxml_reads_procflow_profile_in_full():
    envelope = sample_envelope()
    assert read_edxml(build_envelope(envelope)) == envelope


def test_unsigned_foreign_envelope_is_refused_by_default(inbox_factory):
    inbox = inbox_factory(PROVINCE, now=FOREIGN_SENT + timedelta(minutes=1))
    with pytest.raises(Exception) as caught:
        inbox.receive(FOREIGN.read_bytes())
    assert caught.value.reason == "unsigned"
    assert inbox.accepted == [] and inbox.guard.calls == []


def test_unsigned_foreign_envelope_is_accepted_when_policy_allows(inbox_factory):
    inbox = inbox_factory(PROVINCE, now=FOREIGN_SENT + timedelta(minutes=1), allow_unsigned_foreign=True)
    envelope = inbox.receive(FOREIGN.read_bytes())
    assert envelope.message_id == "000.00.00.G12,2025/07/10,1234/BTP-HTQTCT"
    assert inbox.guard.calls == [envelope.message_id]
    with pytest.raises(Exception) as caught:  # and the same document twice is a replay
        inbox.receive(FOREIGN.read_bytes())
    assert caught.value.reason == "replayed"


def test_allowed_unsigned_foreign_envelope_still_needs_the_right_recipient(inbox_factory):
    inbox = inbox_factory(COMMUNE, now=FOREIGN_SENT, allow_unsigned_foreign=True)
    with pytest.raises(Exception) as caught:
        inbox.receive(FOREIGN.read_bytes())
    assert caught.value.reason == "wrong-recipient"
    assert inbox.guard.calls == []


def test_signed_edxml_written_by_procflow_verifies_with_signature_in_digital_signature(pki, inbox_factory):
    envelope = attrs.evolve(sample_envelope(), attachments=sample_envelope().attachments[:1])
    signed = sign_envelope(write_edxml(envelope), pki[COMMUNE])
    root = etree.fromstring(signed)
    holder = root.find(f".//{{{EDXML_NS}}}edXMLHeader/{{{EDXML_NS}}}DigitalSignature")
    assert holder[0].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
    inbox = inbox_factory(PROVINCE, now=T0)
    assert inbox.receive(signed) == _foreign_shaped(envelope)
    tampered = signed.replace("Giấy chứng sinh".encode(), "Giấy chứng tử".encode())
    with pytest.raises(Exception) as caught:
        inbox_factory(PROVINCE, now=T0).receive(tampered)
    assert caught.value.reason == "tampered"


def test_foreign_attachment_name_falls_back_to_manifest():
    data = FOREIGN.read_bytes().replace(
        b"<AttachmentName>Phu_luc_danh_muc.txt</AttachmentName>\n    </Attachment>", b"</Attachment>"
    )
    envelope = read_edxml(data)
    assert envelope.attachments[1].name == "Phu_luc_danh_muc.txt"
    assert isinstance(envelope.attachments[1], Attachment)
