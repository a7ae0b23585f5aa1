"""Every example under examples/ runs as a user would run it, and its own tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# What each example's run.py must print (a line containing each fragment).
EXPECTED = {
    "lien_thong_child_under_6": ["status 2 (received), due 2026-04-23 17:00 (3 working days)", "started in parallel",
                                 "refused: NotCustodian", "members: birth 10, residence 10, health_insurance 10",
                                 "bundle replay reproduces the record: True"],
    "lien_thong_death": ["bundle 1.011537", "started in parallel", "on time: True",
                         "members: death 10, deregistration 10, funeral_allowance 10",
                         "group replay reproduces the record: True"],
    "birth_registration": ["status 2, due 2026-04-20 17:00", "supplement requested: status 5, clock paused: True",
                           "refused: NotCustodian", "returned (trả kết quả): status 10, on time: True",
                           "replay reproduces the snapshot: True"],
    "land_certificate": ["20 working days, due 2026-06-29 17:00", "public_posting", "hand-off",
                         "awaiting_payment     status  6", "on time: True", "replay reproduces the snapshot: True"],
    "location_independent": ["location-independent: True", "refused with NotCustodian",
                             "returned by the receiving ward: status 10"],
    "marriage_registration": ["registered 1.000894 v1", "registered the same day, status 10",
                              "after verification, on time: True"],
    "adapter_plugin": ["plugin procflow_sms_log", "delivered 2 notice(s)", "đã có kết quả"],
}


def _examples() -> list[str]:
    return sorted(p.parent.name for p in EXAMPLES.glob("*/run.py"))


def test_every_example_is_checked():
    assert set(_examples()) == set(EXPECTED)


@pytest.mark.parametrize("name", _examples())
def test_example_runs(name, tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / name / "run.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    for fragment in EXPECTED[name]:
        assert fragment in result.stdout, f"{name}: {fragment!r} not in output:\n{result.stdout}"


def test_examples_own_tests_pass(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_new_procedure_validates_with_the_cli():
    exe = Path(sys.executable).with_name("procflow")
    toml = ROOT / "src" / "procflow" / "procedures" / "marriage_registration.toml"  # promoted from the example
    result = subprocess.run([str(exe) if exe.exists() else "procflow", "validate", str(toml)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    text = toml.read_text(encoding="utf-8")
    assert "Luật Hộ tịch" in text and "Điều 18" in text


def test_adapter_plugin_installs_and_is_discovered(tmp_path):
    """Install the plugin package as a user would and check `procflow plugins` finds its entry point."""
    package = tmp_path / "package"
    shutil.copytree(EXAMPLES / "adapter_plugin", package, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                                                        "*.egg-info"))
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                          str(package)], capture_output=True, text=True, timeout=300)
    if pip.returncode != 0:
        pytest.skip(f"pip could not build the example package here (offline?): {pip.stderr[-500:]}")
    exe = Path(sys.executable).with_name("procflow")
    result = subprocess.run([str(exe) if exe.exists() else "procflow", "plugins", "--json"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(target)})
    assert result.returncode == 0, result.stderr
    assert '"sms_log"' in result.stdout and "procflow_deliver_notification" in result.stdout
