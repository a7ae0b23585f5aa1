"""The docs cannot rot: every code block meant to run is run, and the site builds with --strict.

Each page runs as one script, in a temporary directory, in document order: its ```python blocks verbatim,
and each line of its ```bash blocks that starts with ``procflow `` as a command that must exit 0 (an
``export NAME=value`` line sets the variable for the commands after it; other lines — pip, python — are not
run). A block preceded by ``<!-- not-run -->`` is skipped; one preceded
by ``<!-- pytest -->`` is a whole test file, run with pytest (and procflow's plugin) instead.
``examples/`` and ``src/`` are linked into the directory, so paths in the docs resolve as from the repo root.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOT_RUN = "<!-- not-run -->"
BLOCK = re.compile(r"^(?P<marker><!-- (?P<kind>not-run|pytest) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$",
                   re.M | re.S)
pytest_plugins = ["pytester"]
# Owned by the PostgreSQL work; its commands may need a database server, so it is built but not run here.
NOT_EXECUTED_PAGES = {"operating/scale.md"}

PRELUDE = '''\
import os as _os, shlex as _shlex, subprocess as _subprocess, sys as _sys
_PROCFLOW = _os.path.join(_os.path.dirname(_sys.executable), "procflow")


def _sh(line):
    args = _shlex.split(line, comments=True)
    args[0] = _PROCFLOW if _os.path.exists(_PROCFLOW) else args[0]
    result = _subprocess.run(args, capture_output=True, text=True, timeout=120,
                             env={**_os.environ, "COLUMNS": "160"})
    print(result.stdout)
    if result.returncode != 0:
        raise SystemExit(f"`{line}` exited {result.returncode}:\\n{result.stderr}")

'''


def _hooks():
    spec = importlib.util.spec_from_file_location("procflow_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page_script(text: str) -> str | None:
    """The page as one Python script, or None when nothing on it is meant to run."""
    parts: list[str] = []
    for i, m in enumerate(BLOCK.finditer(text)):
        if m.group("marker"):
            continue
        if m.group("lang") == "python":
            parts.append(f"# --- block {i} (python)\n{m.group('body')}")
        elif m.group("lang") == "bash":
            for line in m.group("body").splitlines():
                if line.startswith("procflow "):
                    parts.append(f"# --- block {i} (bash)\n_sh({line!r})")
                elif line.startswith("export "):  # the commands after it see the variable ($PWD: the page's)
                    name, _, value = line.removeprefix("export ").split("#")[0].strip().partition("=")
                    parts.append(f"# --- block {i} (bash)\n_os.environ[{name!r}] = "
                                 f"_os.path.expandvars({value!r}.replace('$PWD', _os.getcwd()))")
    return PRELUDE + "\n".join(parts) + "\n" if parts else None


def _pages() -> list[str]:
    out = []
    for path in sorted(DOCS.rglob("*.md")):
        rel = path.relative_to(DOCS).as_posix()
        if rel not in NOT_EXECUTED_PAGES and page_script(path.read_text(encoding="utf-8")) is not None:
            out.append(rel)
    return out


@pytest.mark.parametrize("page", _pages())
def test_page_code_runs(page, tmp_path):
    script = page_script((DOCS / page).read_text(encoding="utf-8"))
    for name in ("examples", "src"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    (tmp_path / "page.py").write_text(script, encoding="utf-8")
    result = subprocess.run([sys.executable, "page.py"], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"docs/{page}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_the_runner_sees_blocks_and_honours_not_run():
    text = "```python\nx = 1\n```\n\n<!-- not-run -->\n```python\nraise SystemExit(1)\n```\n\n" \
           "```bash\npip install x\nprocflow validate a.toml   # lint\n```\n"
    script = page_script(text)
    assert "x = 1" in script and "SystemExit(1)" not in script
    assert "_sh('procflow validate a.toml   # lint')" in script and "pip install" not in script


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if p.relative_to(DOCS).as_posix() not in nav]
    assert not missing, f"pages not in mkdocs.yml nav: {missing}"


def test_every_key_the_loader_accepts_is_described():
    hooks = _hooks()
    documented = set(hooks.DESCRIPTIONS)
    accepted = {f"{t.key}.{k}" if t.key else k for t in hooks.TABLES for k in hooks.allowed_keys(t.key)}
    assert accepted - documented == set(), "describe these keys in docs/hooks.py DESCRIPTIONS"
    assert documented - accepted == set(), "these described keys are no longer accepted by the loader"


def test_the_reference_has_every_key_type_and_default():
    hooks = _hooks()
    reference = hooks.toml_reference()
    for _table, docs in hooks.schema():
        for d in docs:
            assert d.type and d.type != "?", d.path
            assert f"| `{d.key}` | {d.type} |" in reference, d.path
    from procflow.definition.model import FIELD_TYPES, LEVELS, PERSONAL_KINDS, ClockMode
    from procflow.definition.statuses import PORTAL_STATUS

    for value in (*LEVELS, *FIELD_TYPES, *PERSONAL_KINDS, *(m.value for m in ClockMode)):
        assert f"`{value}`" in reference, value
    assert set(hooks.CLOCK_MODES) == set(ClockMode)
    assert all(label in hooks.portal_status() for label in PORTAL_STATUS.values())


def test_every_broken_snippet_really_is_broken():
    hooks = _hooks()
    for case in hooks.BROKEN:
        assert hooks.broken_messages(case), case.title


def test_every_hook_is_documented():
    if importlib.util.find_spec("procflow.hookspecs") is None:
        pytest.skip("procflow.hookspecs has not landed")
    import inspect

    from procflow import hookspecs

    hooks = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("procflow_")]
    assert hooks
    undocumented = [h for h in hooks if not (getattr(hookspecs, h).__doc__ or "").strip()]
    assert not undocumented, f"hooks without a docstring (the adapter reference is generated from them): {undocumented}"
    reference = _hooks().hookspecs()
    assert all(f"### `{h}`" in reference for h in hooks)


def test_mkdocs_build_strict(tmp_path):
    missing = [m for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
               if importlib.util.find_spec(m.split(".")[0]) is None
               or (m == "mkdocstrings_handlers.python" and importlib.util.find_spec(m) is None)]
    if missing:
        pytest.skip(f"docs tools not installed ({', '.join(missing)}): pip install -e '.[docs]'")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-5000:]
    reference = (tmp_path / "site" / "procedures" / "reference" / "index.html").read_text(encoding="utf-8")
    assert "resume_policy" in reference and "supplement_policy" in reference
    assert (tmp_path / "site" / "reference" / "api" / "index.html").exists()
    # docstrings' reST roles (:class:`Engine`) are shown as code, not printed raw
    for page in (tmp_path / "site" / "reference").rglob("*.html"):
        raw = re.findall(r":(?:class|func|meth|mod|attr|exc):(?:<code>|`)", page.read_text(encoding="utf-8"))
        assert not raw, f"{page}: raw Sphinx roles {raw[:3]}"
    engine_page = (tmp_path / "site" / "reference" / "engine" / "index.html").read_text(encoding="utf-8")
    assert "<code>AccessPolicy</code>" in engine_page or "AccessPolicy" in engine_page
    testing = (tmp_path / "site" / "testing" / "index.html").read_text(encoding="utf-8")
    assert "procflow_engine_factory" in testing and "<dl>" in testing  # the story API is a definition list
    # nothing is fetched from the internet at view time (agency intranets): fonts and mermaid are local
    for page in (tmp_path / "site").rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html, page
        assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html), f"{page}: loads from the internet"
        if 'class="mermaid"' in html:
            assert "assets/js/mermaid.min.js" in html, page
    css = (tmp_path / "site" / "assets" / "css" / "fonts.css").read_text(encoding="utf-8")
    fonts = re.findall(r"url\(\.\./fonts/([^)]+)\)", css)
    assert fonts and all((tmp_path / "site" / "assets" / "fonts" / f).exists() for f in fonts)


def test_bash_lines_parse():
    for path in DOCS.rglob("*.md"):
        script = page_script(path.read_text(encoding="utf-8")) or ""
        for line in re.findall(r"^_sh\((.*)\)$", script, re.M):
            assert shlex.split(eval(line), comments=True)[0] == "procflow"


def test_the_report_explained_in_getting_started_is_a_real_run():
    """The sample report is generated at build time by running ``procflow simulate``; every label the page
    explains must be in it, and its figures must be the run's own (the same seed gives the same figures)."""
    hooks = _hooks()
    page = hooks.render((DOCS / "getting-started.md").read_text(encoding="utf-8"))
    sample = page.split("$ procflow simulate", 1)[1].split("```", 1)[0]
    labels = ["dossiers received (tiếp nhận)", "filed online", "transitions", "location-independent (phi địa giới)",
              "received", "completed", "on time", "on-time rate", "overdue open", "open", "paused", "median w-days",
              "National-portal status (TrangThaiHoSo)", "Top communes by backlog (hồ sơ tồn)",
              "Official reporting table (tình hình, kết quả giải quyết TTHC)"]
    explained = page.replace(sample, "")
    for label in labels:
        assert label in sample, f"the report no longer shows {label!r}"
    for label in labels[1:12]:  # the figures, each explained on the page
        assert label in explained, f"getting-started.md does not explain {label!r}"
    from procflow.simulate import Scenario, run_simulation

    args = dict(zip(hooks.SAMPLE_RUN[1::2], hooks.SAMPLE_RUN[2::2], strict=True))
    _, report, engine = run_simulation(Scenario(province=args["--province"], days=int(args["--days"]),
                                                rate=float(args["--rate"]), seed=int(args["--seed"])), ":memory:")
    engine.store.close()
    assert f"dossiers received (tiếp nhận): {report.total.received:,} " in sample


def test_the_embedding_example_prints_what_getting_started_says(tmp_path):
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    section = page.split("## Embed the engine", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    said = re.search(r"It prints:\n\n```text\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == said


def _pytest_examples() -> list[tuple[str, str]]:
    return [(path.relative_to(DOCS).as_posix(), m.group("body")) for path in sorted(DOCS.rglob("*.md"))
            for m in BLOCK.finditer(path.read_text(encoding="utf-8")) if m.group("kind") == "pytest"]


def test_the_pytest_examples_pass_under_pytest(pytester):
    """The testing page's examples are test files: run them as a user would, with procflow's plugin loaded
    from its entry point, warnings as errors and hypothesis' health checks on."""
    examples = _pytest_examples()
    assert {page for page, _ in examples} >= {"testing.md"} and len(examples) >= 3
    for i, (_, body) in enumerate(examples):
        pytester.makepyfile(**{f"test_docs_example_{i}": body})
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    tests = sum(len(re.findall(r"^def test_", body, re.M)) for _, body in examples)
    result.assert_outcomes(passed=tests)


def test_the_testing_page_names_every_fixture_story_method_and_strategy():
    from procflow.testing import strategies
    from procflow.testing.story import Story

    page = _hooks().render((DOCS / "testing.md").read_text(encoding="utf-8"))
    for name, _scope, _deps, doc in _hooks()._fixtures():
        assert f"| `{name}` |" in page and doc, name
    assert "`procflow_engine_factory` | session |" in page
    for name in ("fire", "refused", "wait", "deliver", "expect", "expect_custody", "expect_portal", "timeline"):
        assert f"`.{name}(" in page, name
    assert "`dossier_story(procedure, *, filed_at," in page
    for name in strategies.__all__:
        assert f"`{name}(" in page, name
    assert not [m for m in ("—\n", ":   —") if m in page], "a documented name has no docstring"
    assert Story.fire.__doc__


def test_the_conformance_page_shows_the_kit_being_run():
    """Generated from the code: the kit's whole docstring (the fault() contract included) and the complete
    example file, so neither the AdapterConformance subclass nor the fault fixture can be cut."""
    from procflow.testing import conformance

    page = _hooks().render((DOCS / "adapters.md").read_text(encoding="utf-8"))
    example = (ROOT / "examples" / "adapter_plugin" / "test_conformance.py").read_text(encoding="utf-8").strip()
    assert example in page
    assert "class TestSmsLogAdapter(AdapterConformance):" in page and "def fault(kind):" in page
    assert "`fault(kind)` is a context manager" in page
    for fault in conformance.FAULTS:
        assert f"`{fault}`" in page
    for name in dir(conformance.AdapterConformance):
        if name.startswith("test_"):
            assert f"- `{name}`" in page, name
