"""procflow.jsontext writes the very text the standard library writes (stores and hashes depend on it)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

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
