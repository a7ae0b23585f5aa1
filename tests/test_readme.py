"""The README's two commands and its embedding example are the contract with a new user: keep them true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_cmd = re.search(r"^TEST_CMD='(.*)'$", ci, re.M).group(1)
    blocks = [b.strip() for b in _bash_blocks(readme)]
    assert test_cmd in blocks, "README's test command and .ci/run have drifted apart"
    assert any(b.startswith("python3 -m venv .venv") and "procflow simulate" in b for b in blocks)


def test_readme_embedding_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    said = re.search(r"It prints:\n\n```text\n(.*?)```", readme, re.S).group(1)
    assert result.stdout == said, "the README's stated output has drifted from what the example prints"
    assert " returned 10 due 2026-04-20 17:00:00+07:00 on time: True" in result.stdout
    # the portal sync is wired: one portal.status row per status change, committed with the steps
    import sqlite3

    with sqlite3.connect(tmp_path / "demo.db") as con:
        rows = con.execute("SELECT topic, status FROM outbox ORDER BY id").fetchall()
    assert rows == [("portal.status", "pending")] * 4
