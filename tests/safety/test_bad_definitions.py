"""The corpus of malformed definitions (tests/corpus/definitions): each one gets its clear, located error from
``procflow validate`` — exit 1, the expected message, never a traceback — and the loader refuses it as a
``DefinitionError``; nothing reaches a store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.definition.reader import load_definition, parse_definition
from procflow.errors import DefinitionError

CORPUS = Path(__file__).parent.parent / "corpus"
CASES = sorted((CORPUS / "definitions").glob("*.toml"))
runner = CliRunner()


def _expectation(path: Path) -> str:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith("# expect: "), f"{path.name}: first line names the expected message"
    return first.removeprefix("# expect: ")


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_corpus_covers_every_case_the_issue_lists():
    names = {p.stem for p in CASES}
    for case in ("nested_list_in_guards", "nested_list_in_source", "deeply_nested_arrays", "version_2_pow_63",
                 "non_string_role", "timer_hours_nan", "timer_hours_minus_inf", "timer_calendar_days_1e9",
                 "retention_years_100000", "empty_code", "zero_width_code", "lookalike_code", "empty_trigger",
                 "zero_width_trigger", "lookalike_trigger", "newline_in_state_name", "unknown_official_role_typo"):
        assert case in names
    assert len(CASES) >= 40


def test_the_base_of_the_corpus_is_valid():
    assert load_definition(CORPUS / "base.toml").code == "9.999001"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_definition_gets_one_clear_error(path: Path):
    expected = _expectation(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"traceback: {result.exception!r}"
    assert "Traceback" not in result.output
    assert expected in _flat(result.output), result.output
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    assert all(p.file == str(path) for p in info.value.problems)  # every problem names the file


def test_a_newline_in_a_state_name_cannot_reach_the_diagram():
    # Even through the API (a definition built around the loader), the diagram escapes every label.
    from procflow.cli.app import mermaid

    d = load_definition(CORPUS / "base.toml")
    import attrs

    evil = attrs.evolve(d.states[1], name="processing\n    click s0 \"javascript:x\"", label_en="a\nb \"c\"")
    d = attrs.evolve(d, states=(d.states[0], evil, d.states[2]),
                     transitions=(attrs.evolve(d.transitions[0], dest=evil.name),
                                  attrs.evolve(d.transitions[1], source=(evil.name,))))
    text = mermaid(d)
    assert "click" not in text.replace('state "processing#10;    click s0 #34;javascript#58;x#34;" as s1', "")
    assert all(line.startswith(("stateDiagram-v2", "    ")) for line in text.splitlines())
    assert 'state "processing#10;' in text and "s1 : a#10;b #34;c#34;" in text


def _chain(n: int) -> str:
    parts = ['code = "9.999002"\nversion = 1\nname_vi = "Lớn"\nlevel = "commune"\ninitial = "s0"\n'
             '[sla]\nworking_days = 3\n']
    parts += [f'[[states]]\nname = "s{i}"\nportal_status = 4\n' + ("final = true\n" if i == n - 1 else "")
              for i in range(n)]
    parts += [f'[[transitions]]\ntrigger = "t{i}"\nsource = "s{i}"\ndest = "s{i + 1}"\n' for i in range(n - 1)]
    return "".join(parts)


def test_twenty_thousand_states_are_checked_in_linear_time():
    """The graph check is linear in states + transitions (it was quadratic: 23 s for 20,000 states). No timing
    assertion: the test just has to finish, and a broken one is still located."""
    text = _chain(20_000)
    d = parse_definition(text)
    assert len(d.states) == 20_000 and len(d.transitions) == 19_999
    with pytest.raises(DefinitionError) as info:
        parse_definition(text.replace('dest = "s19999"', 'dest = "s19x99"'))
    assert any(p.path == "transitions[19998].dest" for p in info.value.problems)
