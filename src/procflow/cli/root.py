"""The options of ``procflow`` itself, given before any command: where and how to log, and ``--version``.

They belong to the whole program, not to one command group, so they live here rather than beside the
privacy commands; logging is set up through ``procflow.privacy.logging_setup`` because every log line is
redacted there.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from procflow.cli._common import fail

__all__ = ["LogFormat", "LogLevel", "register"]


class LogLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogFormat(enum.StrEnum):
    json = "json"
    text = "text"


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            typer.echo(f"procflow {dist_version('procflow')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            typer.echo("procflow (not installed)")
        raise typer.Exit()


def _logging_callback(
    log_file: Annotated[str | None, typer.Option("--log-file", envvar="PROCFLOW_LOG_FILE",
                                                 help="Write logs here (JSON lines, personal data redacted).")] = None,
    log_level: Annotated[LogLevel | None, typer.Option("--log-level", envvar="PROCFLOW_LOG_LEVEL",
                                                       case_sensitive=False, help="How much to log.")] = None,
    log_format: Annotated[LogFormat, typer.Option("--log-format", envvar="PROCFLOW_LOG_FORMAT",
                                                  case_sensitive=False, help="Log line format.")] = LogFormat.json,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print procflow's version and exit.")] = False,
) -> None:
    """procflow — durable workflows for Vietnam's one-stop (một cửa) procedures."""
    if log_file or log_level:
        from procflow.privacy.logging_setup import configure_logging

        try:
            configure_logging(log_level.value if log_level else "INFO", log_file, fmt=log_format.value)
        except OSError as exc:
            fail(f"--log-file: cannot write {log_file}: {exc.strerror or exc}")


def register(app: typer.Typer) -> None:
    """Install the program's options as ``app``'s callback (or, when something else owns the callback, configure
    logging from the environment at start-up instead)."""
    if app.registered_callback is None:
        app.callback()(_logging_callback)
    else:
        from procflow.privacy.logging_setup import configure_from_env

        configure_from_env()
