"""The marriage-registration example: the bundled TOML validates with the CLI, and both paths run to the result."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

HERE = Path(__file__).parent


def _load():
    spec = importlib.util.spec_from_file_location("example_marriage_registration", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _procflow() -> list[str]:
    exe = Path(sys.executable).with_name("procflow")
    return [str(exe)] if exe.exists() else [shutil.which("procflow") or "procflow"]


def test_the_toml_validates_with_the_cli():
    toml = resources.files("procflow").joinpath("procedures", "marriage_registration.toml")
    result = subprocess.run([*_procflow(), "validate", str(toml)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1.000894 v1" in result.stdout


def test_both_paths_run(tmp_path):
    result = _load().main(str(tmp_path / "marriage.db"))
    assert any("Luật Hộ tịch" in b and "Điều 18" in b for b in result["definition"].legal_basis)
    assert result["quick"].status == result["slow"].status == 10
    assert result["on_time"]
    assert result["quick"].sla.working_days == result["slow"].sla.working_days == 0  # same day, verification apart
    assert result["slow"].sla.due_at > result["quick"].sla.due_at  # the verification days did not count
