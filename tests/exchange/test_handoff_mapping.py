"""Engine events survive the envelope exactly: DossierEvent → XML → DossierEvent is the identity.

Effects are JSON (nested maps, lists, nulls, binary floats, big and negative ints, any XML-legal text), and
both nodes' logs are only identical if every one of those comes back equal — including ``None`` (a cleared
``step_due_at``) and ``125.5`` staying a float rather than becoming a decimal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from exchange_strategies import texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procflow.dossier import DossierEvent
from procflow.exchange import (
    VN_TZ,
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    FieldType,
    Party,
    build_envelope,
    dossier_event,
    handoff_message_id,
    parse_envelope,
    payload_event,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
effects = st.none() | st.dictionaries(texts, json_values, min_size=1, max_size=4)
T0 = datetime(2026, 4, 20, 8, 0, tzinfo=VN_TZ)


def _envelope(events: list[DossierEvent]) -> Envelope:
    payload = DossierPayload(dossier_id="D-1", procedure_code="1.012751", procedure_version=1, state="s",
                             custodian="000.00.01.H22", receiving_agency="000.31.07.H22",
                             events=[payload_event(e) for e in events])
    document = DocumentInfo.for_message("000.31.07.H22", T0.date(), "1", "LT")
    return Envelope(message_id="m-1", sender=Party("000.31.07.H22"), recipients=(Party("000.00.01.H22"),),
                    created_at=T0, subject="s", document=document, payload=payload)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fx=effects, note=st.none() | texts, status=st.integers(0, 10), minutes=st.integers(0, 10**6))
def test_engine_events_round_trip_through_the_envelope(fx, note, status, minutes):
    event = DossierEvent(dossier_id="D-1", seq=1, at=T0 + timedelta(minutes=minutes), kind="fired", trigger="go",
                         from_state="a", to_state="b", status=status, actor="cán bộ Nguyễn Thị Ánh",
                         agency="000.31.07.H22", custodian="000.00.01.H22", definition_version=3, effects=fx,
                         note=note)
    back = parse_envelope(build_envelope(_envelope([event]))).payload.events[0]
    assert dossier_event("D-1", back) == event


def test_json_types_keep_their_identity():
    value = {"area": 125.5, "count": 2, "cleared": None, "ok": True, "tags": ["a", 1, None], "nested": {}}
    field = Field.of("fx", value)
    kinds = {f.name: f.type for f in field.value}
    assert kinds == {"area": FieldType.FLOAT, "count": FieldType.INT, "cleared": FieldType.NULL,
                     "ok": FieldType.BOOL, "tags": FieldType.LIST, "nested": FieldType.MAP}
    assert field.to_python() == value and type(field.to_python()["area"]) is float


def test_message_ids_are_stable_and_always_valid():
    assert handoff_message_id("311.20.99.H92-260420-0001", 4) == "311.20.99.H92-260420-0001:4"
    odd = handoff_message_id("hồ sơ/số 1", 7)
    assert odd == handoff_message_id("hồ sơ/số 1", 7) and odd.endswith(":7") and odd.isascii()


def test_base64_decodes_the_same_with_or_without_the_fast_extra(monkeypatch):
    from procflow.exchange import lexical

    cases = {"aGVsbG8=": b"hello", "aGVs\n bG8=": b"hello", "": b""}
    for fast in (lexical._pybase64, None):
        monkeypatch.setattr(lexical, "_pybase64", fast)
        for text, content in cases.items():
            assert lexical.decode_base64(text) == content
        assert lexical.encode_base64(b"hello") == "aGVsbG8="
