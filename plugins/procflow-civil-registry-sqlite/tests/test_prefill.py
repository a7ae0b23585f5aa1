"""Prefill through procflow's plugin manager: the right person's fields, nothing else, masked logs."""

from __future__ import annotations

import logging

import pytest
from procflow_civil_registry_sqlite import CivilRegistry

from procflow.definition.reader import bundled_definitions
from procflow.errors import PermanentAdapterError
from procflow.plugins import make_plugin_manager, prefill

LAN = {"national_id": "092123456789", "full_name": "Nguyễn Thị Lan", "phone": "0912345678"}  # as in conftest


def _definition(code: str):
    return next(d for d in bundled_definitions() if d.code == code)


def test_birth_registration_prefills_the_parent_not_the_child(registry_db):
    pm = make_plugin_manager(load_entrypoints=False, plugins=[CivilRegistry(registry_db)])
    values = prefill(pm, _definition("1.001193"), LAN["national_id"])
    # the parent who files (the applicant, chủ hồ sơ) is filled from the registry; the child's fields are not
    assert values == {"parent_national_id": LAN["national_id"], "parent_phone": LAN["phone"],
                      "parent_name": LAN["full_name"]}


def test_land_registration_prefills_the_applicant(registry_db):
    pm = make_plugin_manager(load_entrypoints=False, plugins=[CivilRegistry(registry_db)])
    values = prefill(pm, _definition("1.012751"), LAN["national_id"])
    assert values == {"applicant_national_id": LAN["national_id"], "applicant_name": LAN["full_name"]}


def test_an_unknown_person_prefills_nothing(registry_db):
    pm = make_plugin_manager(load_entrypoints=False, plugins=[CivilRegistry(registry_db)])
    assert prefill(pm, _definition("1.001193"), "001099000000") == {}


def test_lookups_are_logged_with_the_id_masked(registry_db, caplog):
    caplog.set_level(logging.INFO, logger="procflow_civil_registry_sqlite")
    registry = CivilRegistry(registry_db)
    registry.procflow_resolve_citizen(national_id=LAN["national_id"], purpose="1.001193", timeout=1.0)
    with pytest.raises(PermanentAdapterError) as refused:
        registry.procflow_resolve_citizen(national_id="09212345678x", purpose="1.001193", timeout=1.0)
    text = caplog.text + str(refused.value)
    assert "0921******89" in caplog.text and "1.001193" in caplog.text
    assert LAN["national_id"] not in text and "09212345678x" not in text


def test_unconfigured_entry_point_answers_nothing():
    registry = CivilRegistry(environ={})
    assert registry.procflow_resolve_citizen(national_id=LAN["national_id"], purpose="x", timeout=1.0) is None


def test_configured_from_the_environment(registry_db):
    registry = CivilRegistry(environ={"PROCFLOW_CIVIL_REGISTRY_DB": str(registry_db)})
    record = registry.procflow_resolve_citizen(national_id=LAN["national_id"], purpose="x", timeout=1.0)
    assert record is not None and record["full_name"] == LAN["full_name"]


def test_a_file_that_is_not_a_registry_is_a_permanent_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(PermanentAdapterError, match=r"junk\.db"):
        CivilRegistry(junk).procflow_resolve_citizen(national_id=LAN["national_id"], purpose="x", timeout=1.0)
