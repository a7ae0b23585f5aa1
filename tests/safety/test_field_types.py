"""Declared field types are enforced where data enters (file and fire), with an InvalidData that names the
field, the declared type and the kind of value — never the value — and changes nothing."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procflow.clock import FakeClock
from procflow.definition.reader import parse_definition
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.errors import InvalidData, RoleNotGranted
from procflow.fieldtypes import normalise_phone
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of

VN = ZoneInfo("Asia/Ho_Chi_Minh")

TYPED = """
code = "9.999003"
version = 1
name_vi = "Kiểu dữ liệu"
level = "commune"
initial = "received"
official_roles = ["one_stop_officer", "civil_status_officer"]
[sla]
working_days = 3
[[fields]]
name = "birth_date"
type = "date"
[[fields]]
name = "filed_at"
type = "datetime"
[[fields]]
name = "children"
type = "int"
[[fields]]
name = "fee"
type = "decimal"
[[fields]]
name = "complete"
type = "bool"
[[fields]]
name = "gender"
type = "enum"
values = ["male", "female"]
[[fields]]
name = "national_id"
type = "national_id"
personal = "national_id"
[[fields]]
name = "phone"
type = "phone"
personal = "phone"
[[fields]]
name = "note"
type = "string"
[[states]]
name = "received"
portal_status = 2
holder = "receiving"
[[states]]
name = "processing"
portal_status = 4
[[states]]
name = "returned"
portal_status = 10
final = true
[[transitions]]
trigger = "accept"
source = "received"
dest = "processing"
roles = ["one_stop_officer"]
[[transitions]]
trigger = "approve"
source = "processing"
dest = "returned"
roles = ["civil_status_officer"]
"""

BAD = [
    ("birth_date", "not a date", "(date) expects a real date YYYY-MM-DD, got a text of 10 character(s)"),
    ("birth_date", 12345, "(date) expects a date YYYY-MM-DD, got an integer"),
    ("birth_date", "2026-13-45", "(date) expects a real date YYYY-MM-DD"),
    ("birth_date", "1066-10-14", "(date) expects a date between 1900 and 2100"),
    ("filed_at", "yesterday", "(datetime) expects a real date and time"),
    ("children", "3", "(int) expects a whole number"),
    ("children", True, "(int) expects a whole number (64-bit), got a bool"),
    ("children", 2**70, "(int) expects a whole number (64-bit)"),
    ("fee", float("nan"), "(decimal) expects a finite number"),
    ("fee", "lots", "(decimal) expects a number"),
    ("complete", "yes", "(bool) expects true or false"),
    ("gender", "other", "(enum) expects one of male, female"),
    ("national_id", "09212345678", "(national_id) expects a national ID number of 12 digits, got a text of 11"),
    ("national_id", 92123456789, "(national_id) expects a national ID number of 12 digits, as text, got an integer"),
    ("phone", "12345", "(phone) expects a Vietnamese phone number"),
    ("phone", "+1 415 555 0100", "(phone) expects a Vietnamese phone number"),
    ("note", ["a"], "(string) expects a text, got a list of 1 item(s)"),
]


@pytest.fixture
def typed(tmp_path, registry):
    store = SQLiteStore(str(tmp_path / "typed.db"))
    engine = Engine(store, registry=registry, clock=FakeClock(datetime(2026, 4, 20, 8, tzinfo=VN)))
    engine.register(parse_definition(TYPED, require_official_roles=True))
    a = registry.communes_of("92")[0].code
    staff_of(engine).actors(_desk(a))
    yield engine, a
    store.close()


def _desk(a: str) -> Actor:
    return Actor(id=f"desk@{a}", agency=a, roles={"one_stop_officer"})


@pytest.mark.parametrize(("field", "value", "message"), BAD, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD])
def test_a_bad_value_is_refused_on_file_and_on_fire_and_changes_nothing(typed, field, value, message):
    engine, a = typed
    with pytest.raises(InvalidData) as info:
        engine.file("9.999003", filed_at=a, actor=_desk(a), data={field: value})
    assert info.value.field == field and f"field {field!r} {message}" in str(info.value)
    if isinstance(value, str) and len(value) >= 5:
        assert value not in str(info.value)  # the value itself is never in the message
    assert engine.store.count_dossiers() == 0
    d = engine.file("9.999003", filed_at=a, actor=_desk(a), data={})
    with pytest.raises(InvalidData, match=re.escape(message)):
        engine.fire(d, "accept", _desk(a), data={field: value})
    assert engine.get(d.id).state == "received" and len(engine.history(d.id)) == 1


def test_good_values_pass_and_phone_and_id_are_normalised(typed):
    engine, a = typed
    d = engine.file("9.999003", filed_at=a, actor=_desk(a), data={
        "birth_date": "2026-04-01", "filed_at": "2026-04-20T09:30:00+07:00", "children": 2, "fee": "1250000.50",
        "complete": True, "gender": "female", "national_id": "092 123 456 789", "phone": "+84 912.345.678",
        "note": "ok"})
    assert engine.get(d.id).data["phone"] == "0912345678"
    assert engine.get(d.id).data["national_id"] == "092123456789"


@pytest.mark.parametrize("shape", ["0912345678", "0912 345 678", "0912.345.678", "+84912345678", "+84 912 345 678",
                                   "84912345678", "0084 912 345 678", "024 3825 1234"])
def test_phone_accepts_vietnamese_shapes(shape):
    n = normalise_phone(shape) if not shape.startswith("849") else None
    if shape.startswith("849"):
        with pytest.raises(ValueError):
            normalise_phone(shape)  # without the + it is ambiguous: refused, not guessed
        return
    assert n is not None and n.startswith("0") and n.isdigit() and len(n) in (10, 11)


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"(0|\+84)[35789][0-9]{8}", fullmatch=True), st.sampled_from([" ", ".", "-", ""]))
def test_phone_normalisation_is_separator_blind(number, sep):
    spaced = sep.join(number[i:i + 3] for i in range(0, len(number), 3))
    assert normalise_phone(spaced) == normalise_phone(number) == "0" + number.removeprefix("+84").removeprefix("0")


def test_wrong_role_at_the_custodian_is_role_not_granted(typed):
    engine, a = typed
    d = engine.file("9.999003", filed_at=a, actor=_desk(a), data={})
    engine.fire(d, "accept", _desk(a))
    with pytest.raises(RoleNotGranted) as info:
        engine.fire(d, "approve", _desk(a))
    assert info.value.needed == ("civil_status_officer",) and info.value.held == ("one_stop_officer",)
    assert engine.get(d.id).state == "processing"


def test_validate_refuses_an_unknown_role_with_did_you_mean(tmp_path):
    from typer.testing import CliRunner

    from procflow.cli.app import app

    path = tmp_path / "typo.toml"
    path.write_text(TYPED.replace('roles = ["civil_status_officer"]', 'roles = ["civil_status_oficer"]'),
                    encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "transitions[1].roles[0]: unknown official role 'civil_status_oficer'" in result.output
    assert "did you mean 'civil_status_officer'?" in result.output


