"""The land-certificate example: hand-offs across levels, the posting not counted, the payment paused."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load():
    spec = importlib.util.spec_from_file_location("example_land_certificate", Path(__file__).with_name("run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_land_certificate_end_to_end(tmp_path):
    result = _load().main(str(tmp_path / "land.db"))
    d = result["dossier"]
    assert (d.state, d.status) == ("returned", 10)
    assert result["on_time"]
    # the 15-day public posting and the citizen's payment time moved the deadline later
    assert d.sla.due_at > result["due_at_filing"]
    assert d.custodian == result["commune"]  # the result goes back to the desk that received it
    assert result["office"] != result["tax"] != result["commune"]
