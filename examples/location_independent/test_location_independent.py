"""The location-independent example: received in one province, decided in another, returned where filed."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load():
    spec = importlib.util.spec_from_file_location("example_location_independent",
                                                  Path(__file__).with_name("run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_location_independent_filing(tmp_path):
    result = _load().main(str(tmp_path / "li.db"))
    d = result["dossier"]
    assert d.location_independent
    assert d.agencies["receiving"] == result["filed_at"]
    assert d.agencies["competent"] == result["location"]
    assert result["custodians"] == [result["filed_at"], result["location"], result["filed_at"], result["filed_at"]]
    assert d.status == 10
