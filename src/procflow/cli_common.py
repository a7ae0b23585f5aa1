"""What every ``procflow`` command module shares: the consoles and the one-line failure.

A bad input ends in one line on stderr, never a traceback (the project's rule); the text is masked by
pattern because exception messages leave the engine for human eyes too.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

__all__ = ["err", "fail", "out"]

out = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 132)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: MESSAGE`` as one unwrapped line on stderr (personal data masked) and exit ``code``."""
    from procflow.masking import mask_text

    err.print(f"[bold red]error:[/] {mask_text(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
