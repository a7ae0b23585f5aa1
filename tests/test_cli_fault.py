"""``procflow simulate --fault``: the kinds are choices — listed in the help, completed by the shell, and a
wrong kind or key is one line (issue 18, item 6: "choices for enumerated options")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.cli.simulate import FAULT_NAMES
from procflow.simulate.faults import FAULT_KINDS

runner = CliRunner()


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **extra}


def test_the_cli_offers_exactly_the_simulators_fault_kinds():
    assert FAULT_NAMES == tuple(FAULT_KINDS)


def test_the_help_lists_every_kind_with_its_keys():
    shown = " ".join(runner.invoke(app, ["simulate", "--help"], env=_env()).output.split())
    assert "--fault KIND[:key=value,...]" in shown
    for kind, keys in FAULT_KINDS.items():
        assert f"{kind}[:{','.join(k + '=' for k in keys)}]" in shown, kind


def test_a_wrong_kind_or_key_is_one_line_before_anything_runs(tmp_path):
    for value, said in [("meteor", "unknown fault 'meteor' (known: portal-down, commune-offline"),
                        ("portal-down:minutes=3", "fault portal-down: expected key=value with key one of day, hours")]:
        result = runner.invoke(app, ["simulate", "--db", str(tmp_path / "sim.db"), "--fault", value], env=_env())
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --fault: ") and said in lines[0], result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "sim.db").exists()


def test_the_shell_completes_the_kinds():
    exe = Path(sys.executable).with_name("procflow")
    words = subprocess.run([str(exe) if exe.exists() else "procflow"], capture_output=True, text=True, timeout=60,
                           env=_env(_PROCFLOW_COMPLETE="complete_bash", COMP_WORDS="procflow simulate --fault ",
                                    COMP_CWORD="3"))
    assert words.returncode == 0, words.stderr
    assert words.stdout.split() == list(FAULT_KINDS)
    partial = subprocess.run([str(exe) if exe.exists() else "procflow"], capture_output=True, text=True, timeout=60,
                             env=_env(_PROCFLOW_COMPLETE="complete_bash", COMP_WORDS="procflow simulate --fault co",
                                      COMP_CWORD="3"))
    assert partial.stdout.split() == ["commune-offline"]
