"""Build/parse: exact round trips, schema validity, determinism, and clear refusals when building."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from exchange_strategies import envelopes
from exchange_support import COMMUNE, T0, sample_envelope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from procflow.errors import UsageError
from procflow.exchange import (
    VN_TZ,
    Attachment,
    EncodingError,
    EnvelopeRejected,
    Field,
    FieldType,
    Party,
    TraceHop,
    build_envelope,
    envelope_schema,
    parse_envelope,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _schema_valid(data: bytes) -> bool:
    schema = envelope_schema()
    ok = schema.validate(etree.fromstring(data))
    assert ok, schema.error_log
    return ok


@PROPERTY
@given(envelopes)
def test_parse_build_round_trip_is_exact(envelope):
    data = build_envelope(envelope)
    assert _schema_valid(data)
    assert parse_envelope(data) == envelope


@PROPERTY
@given(envelopes)
def test_build_is_deterministic(envelope):
    assert build_envelope(envelope) == build_envelope(envelope)
    assert build_envelope(parse_envelope(build_envelope(envelope))) == build_envelope(envelope)


def test_realistic_vietnamese_envelope_round_trips_and_validates():
    envelope = sample_envelope(attachment_size=100_000)
    data = build_envelope(envelope)
    assert _schema_valid(data)
    parsed = parse_envelope(data)
    assert parsed == envelope
    assert parsed.payload is not None
    assert parsed.payload.fields[0] == Field("họ_tên_trẻ", FieldType.STRING, "Nguyễn Hoàng Bảo Anh")
    assert parsed.created_at.tzinfo is VN_TZ
    assert parsed.dossier_id == "H22.31.07-250715-0001"
    assert parsed.procedure_code == "1.001193" and parsed.procedure_version == 2
    assert "Nguyễn Hoàng Bảo Anh".encode() in data  # UTF-8, not character references


def test_wire_form_follows_edxml_structure():
    root = etree.fromstring(build_envelope(sample_envelope()))
    edxml = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"
    assert root.tag == f"{edxml}edXML"
    assert [etree.QName(c).localname for c in root] == ["edXMLEnvelope", "AttachmentEncoded"]
    header = root.find(f"{edxml}edXMLEnvelope/{edxml}edXMLHeader/{edxml}MessageHeader")
    assert header.findtext(f"{edxml}DocumentId") == f"{COMMUNE},2025/07/15,125/UBND-TP"
    assert header.findtext(f"{edxml}PromulgationInfo/{edxml}PromulgationDate") == "2025/07/15"
    assert header.findtext(f"{edxml}DocumentType/{edxml}Type") == "18"
    trace = root.findtext(f".//{edxml}TraceHeader/{edxml}Timestamp")
    assert trace == "2025/07/15 09:30:12"


_BAD_CHARS = ["\x00", "\x01", "\x1f", "\x7f\x0b", "\ud800", "\udfff", "\ufffe", "\uffff"]


@pytest.mark.parametrize("bad", _BAD_CHARS, ids=[repr(c) for c in _BAD_CHARS])
@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("subject", lambda e, bad: attrs.evolve(e, subject=f"Hồ sơ {bad}")),
        ("sender.name", lambda e, bad: attrs.evolve(e, sender=Party(COMMUNE, f"UBND {bad}"))),
        (
            "payload.fields[0].value",
            lambda e, bad: attrs.evolve(e, payload=attrs.evolve(e.payload, fields=(Field.of("tên", f"A{bad}"),))),
        ),
        (
            "payload.events[0].actor",
            lambda e, bad: attrs.evolve(
                e,
                payload=attrs.evolve(e.payload, events=(attrs.evolve(e.payload.events[0], actor=f"cán bộ {bad}"),)),
            ),
        ),
        (
            "attachments[0].name",
            lambda e, bad: attrs.evolve(e, attachments=(Attachment.inline(f"a{bad}.pdf", "application/pdf", b"x"),)),
        ),
    ],
)
def test_text_xml_cannot_carry_is_refused_when_building(where, change, bad):
    if "\x7f" in bad:
        bad = "\x0b"  # DEL is legal XML; vertical tab is not
    envelope = change(sample_envelope(), bad)
    with pytest.raises(EncodingError) as caught:
        build_envelope(envelope)
    assert caught.value.reason == "unencodable"
    assert where in str(caught.value)


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=0, max_size=10), st.sampled_from(["\x00", "\x08", "\ud83d", "\uffff"]), st.text(max_size=10))
def test_any_subject_with_an_illegal_character_is_refused(prefix, bad, suffix):
    envelope = attrs.evolve(sample_envelope(), subject=prefix + bad + suffix)
    with pytest.raises(EncodingError, match="subject"):
        build_envelope(envelope)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e: attrs.evolve(e, message_id="has space"), "message_id"),
        (lambda e: attrs.evolve(e, sender=Party("", "x")), "sender.code"),
        (lambda e: attrs.evolve(e, sender=Party("000 00", "x")), "sender.code"),
        (
            lambda e: attrs.evolve(e, trace=(TraceHop(COMMUNE, T0),)),  # T0 has microseconds
            "trace[0].at",
        ),
        (
            lambda e: attrs.evolve(e, payload=attrs.evolve(e.payload, fields=(Field.of("n", 2**63),))),
            "payload.fields[0].value",
        ),
        (
            lambda e: attrs.evolve(e, payload=attrs.evolve(e.payload, fields=(Field.of("n", Decimal("NaN")),))),
            "payload.fields[0].value",
        ),
        (lambda e: attrs.evolve(e, payload=attrs.evolve(e.payload, procedure_version=-1)), "procedure_version"),
        (lambda e: attrs.evolve(e, payload=attrs.evolve(e.payload, state="")), "payload.state"),
    ],
)
def test_values_outside_the_profile_are_refused_with_their_path(change, fragment):
    with pytest.raises(EncodingError) as caught:
        build_envelope(change(sample_envelope()))
    assert fragment in str(caught.value)


def test_attachment_whose_digest_lies_is_refused_when_building():
    lying = Attachment(name="x.pdf", media_type="application/pdf", sha256="0" * 64, content=b"real bytes")
    with pytest.raises(EnvelopeRejected) as caught:
        build_envelope(attrs.evolve(sample_envelope(), attachments=(lying,)))
    assert caught.value.reason == "attachment-digest-mismatch"


def test_model_refuses_naive_datetimes_and_mistyped_fields():
    with pytest.raises(ValueError, match="timezone-aware"):
        attrs.evolve(sample_envelope(), created_at=datetime(2025, 7, 15, 9, 30))
    with pytest.raises(UsageError, match="not a valid int"):
        Field("flag", FieldType.INT, True)  # a bool is not an int here
    with pytest.raises(UsageError, match="not a valid date"):
        Field("day", FieldType.DATE, T0)  # a datetime is not a date here
    with pytest.raises(ValueError, match="exactly one"):
        Attachment(name="x", media_type="a/b", sha256="0" * 64)
    with pytest.raises(ValueError, match="recipient"):
        attrs.evolve(sample_envelope(), recipients=())


def test_datetimes_with_second_offsets_are_written_in_utc_and_read_back_equal():
    lmt = datetime(1900, 1, 1, 8, 0, tzinfo=VN_TZ)  # local mean time: an offset with seconds (+07:06:30)
    assert lmt.utcoffset().seconds % 60
    envelope = attrs.evolve(sample_envelope(), created_at=lmt)
    data = build_envelope(envelope)
    assert f'createdAt="{lmt.astimezone(UTC).isoformat()}"'.encode() in data
    assert parse_envelope(data).created_at == lmt


def test_created_at_comes_back_in_vietnam_time():
    utc_time = (T0 + timedelta(hours=1)).astimezone(VN_TZ).replace(tzinfo=None)
    envelope = attrs.evolve(sample_envelope(), created_at=utc_time.replace(tzinfo=VN_TZ))
    assert parse_envelope(build_envelope(envelope)).created_at.utcoffset() == timedelta(hours=7)
