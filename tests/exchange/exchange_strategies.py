"""Hypothesis strategies for exchange envelopes: Vietnamese text plus any XML-legal Unicode."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from procflow.exchange import (
    VN_TZ,
    Attachment,
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    Party,
    PayloadEvent,
    TraceHop,
)

XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxy AĂÂĐÊÔƠƯ áàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    "ÁÀẢÃẠẤẦẨẪẬẮẰẲẴẶÉÈẺẼẸẾỀỂỄỆÍÌỈĨỊÓÒỎÕỌỐỒỔỖỘỚỜỞỠỢÚÙỦŨỤỨỪỬỮỰÝỲỶỸỴ"
)
# Decomposed forms too: a combining acute/hook/tilde after a base letter must survive unnormalised.
COMBINING = "\u0300\u0301\u0303\u0309\u0323"

legal_char = st.characters().filter(lambda c: XML_CHAR.fullmatch(c) is not None)
text_char = st.one_of(
    st.sampled_from(VIETNAMESE), st.sampled_from(COMBINING), legal_char, st.sampled_from("\t\n\r<>&'\"")
)
texts = st.text(alphabet=text_char, max_size=40)
non_empty_texts = st.text(alphabet=text_char, min_size=1, max_size=40)

_code_char = st.one_of(st.sampled_from("0123456789.HG-_"), legal_char.filter(lambda c: not c.isspace()))
agency_codes = st.one_of(
    st.builds(
        lambda a, b, p, n: f"000.{a:02d}.{b:02d}.{p}{n:02d}",
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from("HG"),
        st.integers(1, 99),
    ),
    st.text(alphabet=_code_char, min_size=1, max_size=30),
)
message_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,60}", fullmatch=True)

zones = st.sampled_from([VN_TZ, UTC, ZoneInfo("Europe/Paris"), timezone(timedelta(hours=-3, minutes=-30))])
aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones, allow_imaginary=False
).filter(  # an ambiguous wall time (DST fold) never compares equal across zones (PEP 495): not a round-trip bug
    lambda d: d.utcoffset() == d.replace(fold=1 - d.fold).utcoffset()
)
trace_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from([VN_TZ, UTC])
).map(lambda d: d.replace(microsecond=0))
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))

decimals = st.one_of(
    st.decimals(min_value=-(10**15), max_value=10**15, places=2),
    st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: abs(d.as_tuple().exponent) <= 60),
)
scalar_values = st.one_of(
    texts,
    st.integers(-(2**63), 2**63 - 1),
    decimals,
    st.booleans(),
    dates,
    aware_datetimes,
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
)
# What engine events record is JSON: maps with unique names, lists, nulls, doubles, nested a few levels.
field_values = st.recursive(
    scalar_values,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)
fields = st.builds(Field.of, texts, field_values)


@st.composite
def payload_events(draw: st.DrawFn) -> PayloadEvent:
    return PayloadEvent(
        seq=draw(st.integers(0, 2**32 - 1)),
        at=draw(aware_datetimes),
        kind=draw(non_empty_texts),
        trigger=draw(st.none() | texts),
        from_state=draw(st.none() | texts),
        to_state=draw(st.none() | texts),
        actor=draw(non_empty_texts),
        agency=draw(agency_codes),
        custodian=draw(st.none() | agency_codes),
        definition_version=draw(st.integers(0, 2**32 - 1)),
        status=draw(st.none() | st.integers(0, 2**16 - 1)),
        note=draw(st.none() | texts),
        data=draw(st.lists(fields, max_size=3)),
    )


payloads = st.builds(
    DossierPayload,
    dossier_id=non_empty_texts,
    procedure_code=non_empty_texts,
    procedure_version=st.integers(0, 2**32 - 1),
    state=non_empty_texts,
    custodian=agency_codes,
    receiving_agency=agency_codes,
    definition_hash=st.none() | st.binary(min_size=4, max_size=4).map(lambda b: hashlib.sha256(b).hexdigest()),
    fields=st.lists(fields, max_size=5),
    events=st.lists(payload_events(), max_size=3),
)

media_types = st.one_of(st.sampled_from(["application/pdf", "image/jpeg", "application/xml"]), non_empty_texts)
inline_attachments = st.builds(
    lambda name, media_type, content, description: Attachment.inline(
        name, media_type, content, description=description
    ),
    texts,
    media_types,
    st.binary(max_size=3000),
    texts,
)
external_attachments = st.builds(
    lambda name, media_type, n, content, description: Attachment.external(
        name,
        media_type,
        f"https://dichvucong.example.vn/files/{n}.pdf",
        hashlib.sha256(content).hexdigest(),
        description=description,
    ),
    texts,
    media_types,
    st.integers(0, 10**6),
    st.binary(max_size=64),
    texts,
)

documents = st.builds(
    DocumentInfo,
    document_id=non_empty_texts,
    code_number=texts,
    code_notation=texts,
    promulgation_date=dates,
    promulgation_place=texts,
    document_type=st.integers(0, 65535),
    type_name=texts,
    due_date=st.none() | dates,
)

parties = st.builds(Party, agency_codes, texts)

envelopes = st.builds(
    Envelope,
    message_id=message_ids,
    sender=parties,
    recipients=st.lists(parties, min_size=1, max_size=3),
    created_at=aware_datetimes,
    subject=texts,
    document=documents,
    trigger=st.none() | texts,
    trace=st.lists(st.builds(TraceHop, agency_codes, trace_times), max_size=3),
    payload=st.none() | payloads,
    attachments=st.lists(st.one_of(inline_attachments, external_attachments), max_size=3),
)

__all__ = ["envelopes", "fields", "texts"]
