"""Masking by pattern: the shapes in which Vietnamese phone and ID numbers appear in free text are masked,
amounts and sequence numbers are not (hypothesis generates the shapes inside sentences)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from procflow.privacy.masking import mask_text

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
words = st.lists(st.sampled_from(["Hồ sơ", "của", "ông", "bà", "liên hệ", "gọi", "số", "nhé", "xin", "cảm ơn",
                                  "điện thoại", "đã", "bổ sung", "phường"]), max_size=6).map(" ".join)
SEPARATORS = st.sampled_from(["", " ", ".", "-"])


@st.composite
def mobiles(draw) -> tuple[str, str]:
    """(as written, the bare digits): 0912 345 678, +84 912.345.678, (+84) 912345678, 84912345678."""
    body = draw(st.sampled_from("35789")) + "".join(draw(digits) for _ in range(8))
    prefix = draw(st.sampled_from(["0", "+84", "+84 ", "(+84) ", "84"]))
    sep = draw(SEPARATORS)
    grouped = sep.join([body[:3], body[3:6], body[6:]]) if sep else body
    if prefix == "84" and sep:  # "84 912 ..." without a plus is not a phone shape people write
        prefix = "+84 "
    return prefix + grouped, body


@st.composite
def landlines(draw) -> tuple[str, str]:
    """11-digit landline: 0 + 3-digit area code starting with 2 + 7 digits (0292 3812 345)."""
    area = "2" + "".join(draw(digits) for _ in range(2))
    rest = "".join(draw(digits) for _ in range(7))
    sep = draw(SEPARATORS)
    written = sep.join(["0" + area, rest[:4], rest[4:]]) if sep else "0" + area + rest
    return written, area + rest


@st.composite
def ids(draw) -> tuple[str, str]:
    """A 12-digit ID anywhere, or a 9-digit one after an ID word."""
    if draw(st.booleans()):
        number = "".join(draw(digits) for _ in range(12))
        return number, number
    number = "".join(draw(digits) for _ in range(9))
    word = draw(st.sampled_from(["CMND", "CMND số", "số CMND:", "chứng minh nhân dân", "căn cước", "ID"]))
    return f"{word} {number}", number


def _exposed(masked: str, secret: str) -> bool:
    """True if the secret's middle digits survive in the masked text (ignoring separators)."""
    flat = re.sub(r"[ .\-()+]", "", masked)
    middle = secret[3:-2]
    return middle in flat


@settings(max_examples=300, deadline=None)
@given(words, st.one_of(mobiles(), landlines(), ids()), words)
def test_numbers_in_free_text_are_masked(before: str, shape: tuple[str, str], after: str) -> None:
    written, secret = shape
    text = f"{before} {written}, {after}".strip()
    masked = mask_text(text)
    assert not _exposed(masked, secret), (text, masked)
    assert masked.count("*") >= len(secret) - 6


AMOUNTS = st.integers(min_value=1, max_value=999).map(lambda n: f"{n}.000.000 đồng")
SEQUENCES = st.integers(min_value=1, max_value=9999).map(lambda n: f"hồ sơ số {n:04d}")
BARE_NINE = st.integers(min_value=100_000_000, max_value=999_999_999).map(lambda n: f"sổ đăng ký {n} trang 2")


@settings(max_examples=200, deadline=None)
@given(st.one_of(AMOUNTS, SEQUENCES, BARE_NINE, st.just("ngày 2026-04-20 lúc 15:30"),
                 st.just("311.20.99.H92-260420-0001")))
def test_amounts_sequences_and_codes_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_the_issue_s_examples() -> None:
    assert "345" not in mask_text("gọi +84 912 345 678")
    assert mask_text("điện thoại bàn 02923812345").count("*") >= 6
    assert "34567" not in mask_text("CMND 123456789")


def test_a_memory_address_is_not_a_phone_number_but_a_phone_beside_it_is() -> None:
    """httpcore logs ``<SyncStream object at 0x7f0346989550>``: its digits look like a 034 mobile, and masking
    them made the adapter conformance kit report a leak whenever the address happened to look so."""
    line = "connect_tcp.complete return_value=<SyncStream object at 0x7f0346989550> caller 0912345678"
    masked = mask_text(line)
    assert "0x7f0346989550" in masked and "0912345678" not in masked and "091*****78" in masked
