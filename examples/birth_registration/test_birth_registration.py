"""The birth-registration example keeps working: same-day limit, supplement restart, custody, replay."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load():
    spec = importlib.util.spec_from_file_location("example_birth_registration", Path(__file__).with_name("run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_birth_registration_end_to_end(tmp_path):
    result = _load().main(str(tmp_path / "birth.db"))
    d = result["dossier"]
    assert (d.state, d.status) == ("returned", 10)
    assert result["on_time"]
    # the supplement restarted the same-day limit from the day the complete dossier came back
    assert d.sla.due_at.isoformat() == "2026-04-21T17:00:00+07:00"
    assert [e.trigger for e in result["events"]] == [
        None, "accept", "request_supplement", "resubmit", "approve", "return_result"]
    assert (tmp_path / "birth.db").exists()
