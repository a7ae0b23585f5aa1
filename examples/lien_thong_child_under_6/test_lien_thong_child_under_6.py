"""The liên thông example keeps working: parallel members, joined status, return at the receiving commune."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load():
    spec = importlib.util.spec_from_file_location("example_lien_thong", Path(__file__).with_name("run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundle_end_to_end(tmp_path):
    result = _load().main(str(tmp_path / "lien_thong.db"))
    assert result["bundle"].status == 10 and result["on_time"]
    assert result["members"] == {"birth": 10, "residence": 10, "health_insurance": 10}
