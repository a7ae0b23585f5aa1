"""`procflow calendar`: the schedule and the due-date reasoning as an official reads them."""

from __future__ import annotations

from typer.testing import CliRunner

from procflow.cli.app import app

runner = CliRunner()


def test_show_2026_lists_the_new_year_swap_with_its_document() -> None:
    result = runner.invoke(app, ["calendar", "show", "2026"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    off = next(line for line in lines if "2026-01-02" in line)
    worked = next(line for line in lines if "2026-01-10" in line)
    assert "off" in off and "12729/VPCP-KGVX" in off
    assert "worked" in worked and "12729/VPCP-KGVX" in worked
    assert "2026-01-03" not in result.output  # an ordinary Saturday is not listed


def test_show_an_uncovered_year_warns() -> None:
    result = runner.invoke(app, ["calendar", "show", "2027"])
    assert result.exit_code == 0
    assert "not covered" in result.output and "PROCFLOW_CALENDAR_FILE" in result.output


def test_due_prints_the_moment_and_the_reasoning() -> None:
    result = runner.invoke(app, ["calendar", "due", "--received", "2026-04-20 15:30", "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "after the 15:00 cut-off" in result.output
    assert "counting starts Wed 2026-04-22" in result.output
    assert "due Friday 24/04/2026 17:00" in result.output
    morning = runner.invoke(app, ["calendar", "due", "--received", "2026-04-20 09:00", "--days", "3"])
    assert "due Thursday 23/04/2026 17:00" in morning.output


def test_due_accepts_an_offset_and_converts_it() -> None:
    # 08:30 UTC is 15:30 in Ha Noi: after the cut-off
    result = runner.invoke(app, ["calendar", "due", "--received", "2026-04-20T08:30:00+00:00", "--days", "1"])
    assert result.exit_code == 0
    assert "received Mon 2026-04-20 15:30" in result.output


def test_bad_inputs_end_in_one_line() -> None:
    for args in (["calendar", "due", "--received", "soon", "--days", "3"],
                 ["calendar", "due", "--received", "2226-01-01 09:00", "--days", "3"],
                 ["calendar", "show", "1066"]):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "error:" in result.output and "Traceback" not in result.output
    negative = runner.invoke(app, ["calendar", "due", "--received", "2026-04-20 09:00", "--days", "-1"])
    assert negative.exit_code == 2 and "Traceback" not in negative.output


def test_a_bad_province_file_is_one_line(tmp_path, monkeypatch) -> None:
    f = tmp_path / "local.toml"
    f.write_text('[[day]]\ndate = 2026-03-11\nkind = "maybe"\nreason = "x"\ndocument = "y"\n', encoding="utf-8")
    monkeypatch.setenv("PROCFLOW_CALENDAR_FILE", str(f))
    result = runner.invoke(app, ["calendar", "show", "2026"])
    assert result.exit_code == 1
    assert "error:" in result.output and str(f) in result.output and "Traceback" not in result.output


def test_version_and_short_help() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"procflow {version('procflow')}"
    for args in (["-h"], ["calendar", "-h"], ["calendar", "due", "-h"]):
        helped = runner.invoke(app, args)
        assert helped.exit_code == 0 and "Usage:" in helped.output, args
