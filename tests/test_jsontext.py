"""procflow.jsontext writes the very text the standard library writes (stores and hashes depend on it)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procflow.jsontext import dumps, effects_text_of, isotext


def reference(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


leaves = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(values)
def test_same_text_as_the_standard_library(value: Any) -> None:
    assert dumps(value) == reference(value)


@settings(max_examples=150, deadline=None)
@given(values)
def test_effects_text_is_the_text_every_chain_hashed(value: Any) -> None:
    """The hash chain reads effects as ``json.dumps(effects, ensure_ascii=False, sort_keys=True)``; the encoder
    built once must write exactly that, or every chain written before would stop verifying."""
    assert effects_text_of(value) == json.dumps(value, ensure_ascii=False, sort_keys=True)


def test_what_orjson_treats_differently_goes_to_the_standard_library() -> None:
    for value in ({1: "int key"}, {"big": 2**80}, {"nan": math.nan, "none": None}, [math.inf, None],
                  {"tuple": (1, "Việt")}, {"nested": {"b": 1, "a": [None, -math.inf]}}):
        assert dumps(value) == reference(value)


def test_objects_json_refuses_are_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"at": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(TypeError):
        dumps({"set": {1, 2}})


def test_isotext_is_isoformat_also_for_a_new_instant_equal_to_the_last() -> None:
    a = datetime(2026, 4, 20, 9, tzinfo=UTC)
    b = datetime(2026, 4, 20, 10, tzinfo=UTC)
    assert isotext(a) == a.isoformat()
    assert isotext(a) == a.isoformat()
    assert isotext(b) == b.isoformat()
    assert isotext(a) == a.isoformat()


@pytest.mark.parametrize("number", [1e-05, 5.960464477539063e-08, 1e16, 1.5e300, 0.1, 123456.789, -0.0, 2.0])
def test_floats_are_written_as_json_writes_them(number: float) -> None:
    """orjson writes 1e-05 as 0.00001 and 1e-08 as 1e-8 (hypothesis found both): floats go to the reference."""
    for value in (number, [number], {"sla": {"x": number}}, ("a.1", number)):
        assert dumps(value) == json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_ZONES = st.sampled_from([UTC, ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"),
                          timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)),
                          _ZONES, st.sampled_from([0, 1])), min_size=1, max_size=20))
def test_isotext_is_isoformat_for_any_instant_zone_and_fold(moments: list[tuple[datetime, Any, int]]) -> None:
    # remembered text must never leak between instants that compare equal but format differently: the same
    # moment in two zones, the two sides of a DST fold, a fixed offset vs a zone
    made = [naive.replace(tzinfo=tz, fold=fold) for naive, tz, fold in moments]
    for instant in made + made[::-1]:
        assert isotext(instant) == instant.isoformat()
    for instant in made:  # the same moment in every other zone: equal datetimes, other text
        for tz in (UTC, ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("America/New_York")):
            moved = instant.astimezone(tz)
            assert isotext(moved) == moved.isoformat()


def test_isotext_forgets_at_its_bound_and_stays_right() -> None:
    from procflow import jsontext

    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    for i in range(jsontext._ISO_BOUND + 10):
        instant = start + timedelta(seconds=i)
        assert isotext(instant) == instant.isoformat() or pytest.fail(f"instant {i}")
    assert len(jsontext._iso_seen) <= jsontext._ISO_BOUND


def test_isotext_keeps_the_two_sides_of_a_fold_apart() -> None:
    # 01:30 happens twice in New York on 1 November 2026: the two compare equal (same zone) but are an hour apart
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second and first.isoformat() != second.isoformat()
    assert (isotext(first), isotext(second), isotext(first)) == (first.isoformat(), second.isoformat(),
                                                                 first.isoformat())
