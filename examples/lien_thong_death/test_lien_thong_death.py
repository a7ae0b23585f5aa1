"""The death liên thông group runs end to end: three agencies, joined result, returned at the receiving commune."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load():
    spec = importlib.util.spec_from_file_location("example_lien_thong_death", Path(__file__).with_name("run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_death_group_end_to_end(tmp_path):
    result = _load().main(str(tmp_path / "death.db"))
    assert result["bundle"].code == "1.011537" and result["bundle"].status == 10 and result["on_time"]
    assert result["members"] == {"death": 10, "deregistration": 10, "funeral_allowance": 10}
