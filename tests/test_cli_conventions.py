"""The CLI follows its ecosystem's conventions: readable help, completion, one way to name the store, and
progress a log file can show."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.cli.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
CORPUS = tomllib.loads((ROOT / "tests" / "corpus" / "commands.toml").read_text(encoding="utf-8"))
runner = CliRunner()
# simulate owns its simulation store (the README's one-line job); catalogue import writes files unless --db names
# a store to register into, so an inherited $PROCFLOW_DB must not silently change what it does
PYTHON_TYPE = r"<(?:str|int|float|bool|Path|datetime|list\[[^\]]*\]|[\w.-]+(?:\|[\w.-]+)+)>"  # typer 0.2x labels
OWN_DB = {("simulate",), ("catalogue", "import")}


def _commands(command=None, path=()):
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROCFLOW_DB"}
    return {**env, "COLUMNS": "200", "NO_COLOR": "1", **extra}


def _procflow() -> str:
    exe = Path(sys.executable).with_name("procflow")
    return str(exe) if exe.exists() else "procflow"


def test_every_help_names_values_in_words_not_python_types():
    shown = 0
    for path, _ in _commands():
        result = runner.invoke(app, [*path, "--help"], env=_env())
        assert result.exit_code == 0, (path, result.output)
        types = re.findall(PYTHON_TYPE, result.output)
        assert not types, f"procflow {' '.join(path)} --help shows Python types {types}"
        assert "{" + "dossier_id" + "}" not in result.output
        shown += 1
    assert shown > 30
    simulate = runner.invoke(app, ["simulate", "--help"], env=_env()).output
    assert re.search(r"--days\s+INTEGER", simulate) and re.search(r"--html\s+PATH", simulate)
    assert re.search(r"--json\s{2,}Print", simulate)  # a flag takes no value, so none is shown
    validate = runner.invoke(app, ["validate", "--help"], env=_env()).output
    assert re.search(r"FILES\.\.\.\s+PATH\.\.\.", validate)
    logs = runner.invoke(app, ["--help"], env=_env()).output
    assert "[json|text]" in logs and "01|02|03|04|05|06|07" in runner.invoke(app, ["forms", "-h"], env=_env()).output
    from procflow.cli.forms import FORM_NUMBERS
    from procflow.forms.records import FORM_TITLES

    assert FORM_NUMBERS == "|".join(FORM_TITLES)  # the help line's copy of the forms' numbers


def test_help_and_simulate_do_not_import_the_exchange_stack():
    """The XML exchange (lxml, signxml) is a third of the start-up: only `procflow exchange …` imports it, and
    form building waits for `procflow forms` / `extend`. A fresh interpreter, since this one has them all."""
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom procflow.cli.app import app\n"
             "for argv in (['--help'], ['simulate', '--help'], ['exchange', '--help']):\n"
             "    r = CliRunner().invoke(app, argv)\n"
             "    assert r.exit_code == 0, r.output\n"
             "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('signxml', 'lxml')\n"
             "                   or m.startswith(('procflow.exchange', 'procflow.forms')))\n"
             "    print(' '.join(argv), heavy[:3])\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=_env())
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "--help []" and lines[1] == "simulate --help []", run.stdout
    assert lines[2] != "exchange --help []", run.stdout  # loaded when used


def test_shell_completion_is_offered_and_completes_choices():
    assert "--install-completion" in runner.invoke(app, ["--help"], env=_env()).output
    script = subprocess.run([_procflow(), "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                            env=_env())
    assert script.returncode == 0 and "_PROCFLOW_COMPLETE" in script.stdout, script.stderr
    words = subprocess.run([_procflow()], capture_output=True, text=True, timeout=60,
                           env=_env(_PROCFLOW_COMPLETE="complete_bash", COMP_WORDS="procflow forms --form 0",
                                    COMP_CWORD="3"))
    assert words.returncode == 0, words.stderr
    assert words.stdout.split() == [f"0{i}" for i in range(1, 8)]
    log_level = subprocess.run([_procflow()], capture_output=True, text=True, timeout=60,
                               env=_env(_PROCFLOW_COMPLETE="complete_bash", COMP_WORDS="procflow --log-format ",
                                        COMP_CWORD="2"))
    assert log_level.stdout.split() == ["json", "text"]


# every command that reads or writes a store, with the other arguments it needs; --db is left out
GROUPS = ("audit", "keys", "retention", "migrate", "db", "exchange", "officials")


def _path(args: list[str]) -> tuple[str, ...]:
    """The command path of a corpus command line (its leading group and command names)."""
    if args[:2] == ["audit", "checkpoints"]:
        return tuple(args[:3])
    return tuple(args[:2]) if args[0] in GROUPS else (args[0],)


WITHOUT_DB = {_path(c["args"]): [a for a in c["args"] if a not in ("--db", "{db}")]
              for c in CORPUS["db_command"] if c["args"][0] != "simulate"}
WITHOUT_DB |= {("forms",): ["forms", "311.20.99.H92-260420-0001"],
               ("extend",): ["extend", "311.20.99.H92-260420-0001", "--reason", "r", "--new-date", "2026-05-04"],
               ("restore",): ["restore", "--from", "{tmp}"],
               ("exchange", "import"): ["exchange", "import", "{file}", "--trust", "{tmp}", "--me", "31135"],
               ("officials", "init"): ["officials", "init", "--id", "admin", "--name", "A", "--agency", "31135",
                                       "--credential", "{tmp}/operator.toml"]}


def test_every_store_command_takes_db_or_the_environment():
    found = set()
    for path, command in _commands():
        db = next((p for p in getattr(command, "params", ()) if p.name == "db"), None)
        if db is None or path in OWN_DB:
            continue
        found.add(path)
        assert db.envvar == "PROCFLOW_DB" and not db.required and db.default is None, path
    assert found == set(WITHOUT_DB), "a store command is missing from this test, or the test names a stale one"


@pytest.mark.parametrize("path", sorted(WITHOUT_DB), ids=" ".join)
def test_a_missing_store_is_said_in_one_line(path, tmp_path):
    envelope = tmp_path / "envelope.xml"
    envelope.write_text("<x/>", encoding="utf-8")
    args = [a.format(id="311.20.99.H92-260420-0001", agency="31135", tmp=tmp_path, csv=envelope, file=envelope,
                     staffcsv=envelope)
            for a in WITHOUT_DB[path]]
    result = runner.invoke(app, args, env=_env())
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert lines == ["error: no store given: pass --db (a SQLite file or a postgresql:// URL) or set PROCFLOW_DB"], \
        result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envelope.xml"]  # nothing was created


def test_procflow_db_names_the_store(tmp_path):
    from procflow.store.sqlite import SQLiteStore

    SQLiteStore(str(tmp_path / "agency.db")).close()
    result = runner.invoke(app, ["db", "status"], env=_env(PROCFLOW_DB=str(tmp_path / "agency.db")))
    assert result.exit_code == 0, result.output
    assert "schema version" in result.output


def test_progress_lines_when_not_on_a_terminal():
    """Through a pipe (``procflow simulate … | cat`` or a log file) the run prints plain lines on stderr, and
    the --fault baseline rerun is a step of its own, after the run's own step."""
    result = subprocess.run([_procflow(), "simulate", "--days", "2", "--rate", "0.2", "--db", ":memory:",
                             "--fault", "portal-down:day=2026-04-20"],
                            capture_output=True, text=True, timeout=300, env=_env())
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    run = [i for i, line in enumerate(lines) if line.startswith("step 1/2: simulating Cần Thơ, 2 days")]
    base = [i for i, line in enumerate(lines) if line.startswith("step 2/2: baseline without the faults")]
    assert run and base and max(run) < min(base), result.stderr
    assert lines[run[0]].endswith("started") and re.search(r"done in \d+\.\d s$", lines[base[-1]])
    assert "━" not in result.stderr and "\r" not in result.stderr  # no bar drawn into a log
    assert "procflow simulation" in result.stdout  # the report itself is unchanged, on stdout


def test_a_long_step_reports_every_few_seconds():
    now = [0.0]
    console = Console(file=__import__("io").StringIO(), force_terminal=False, width=200)
    progress = Progress(console, every=5.0, clock=lambda: now[0], terminal=False)
    with progress.step("simulating Cần Thơ, 30 days") as update:
        for t, fraction in [(0, 0.0), (2, 0.1), (5.5, 0.2), (7, 0.3), (11, 0.45), (30, 0.9)]:
            now[0] = t
            update(fraction)
        now[0] = 31.25
    assert console.file.getvalue().splitlines() == [
        "simulating Cần Thơ, 30 days: started",
        "simulating Cần Thơ, 30 days: 20% after 6 s",
        "simulating Cần Thơ, 30 days: 45% after 11 s",
        "simulating Cần Thơ, 30 days: 90% after 30 s",
        "simulating Cần Thơ, 30 days: done in 31.2 s",
    ]
