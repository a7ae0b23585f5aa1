"""Progress of a long command on stderr, for a person at a terminal and for a log file alike.

On a terminal each step is a rich progress bar that disappears when done. Anywhere else (a pipe, cron, CI,
``nohup``) a bar cannot be drawn, and printing nothing for minutes looks like a hang, so each step prints
plain lines instead: one when the work begins, one every ``every`` seconds with the share done, one when it ends.
A command with several steps (a run, then its baseline) shows each as its own step, numbered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

__all__ = ["Progress"]


class Progress:
    """The steps of one command. ``clock`` is injected (seconds, monotonic) so tests need not sleep."""

    def __init__(self, console: Console, *, steps: int = 1, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, terminal: bool | None = None) -> None:
        self.console = console
        self.steps = steps
        self.every = every
        self.clock = clock
        self.terminal = console.is_terminal if terminal is None else terminal
        self._done = 0

    def _label(self, description: str) -> str:
        self._done += 1
        return description if self.steps == 1 else f"step {self._done}/{self.steps}: {description}"

    @contextmanager
    def step(self, description: str) -> Iterator[Callable[[float], None]]:
        """Yield ``update(fraction)``; the step ends when the block does."""
        label = self._label(description)
        if self.terminal:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            with Bar(TextColumn("[bold]{task.description}[/]"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                     TimeElapsedColumn(), console=self.console, transient=True) as bar:
                task = bar.add_task(label, total=1.0)
                yield lambda fraction: bar.update(task, completed=min(max(fraction, 0.0), 1.0))
            return
        start = self.clock()
        last: float | None = None

        def update(fraction: float) -> None:
            nonlocal last
            now = self.clock()
            if last is None:  # the first report: the work has begun (options and store were accepted)
                last = now
                self._line(f"{label}: started")
            elif now - last >= self.every:
                last = now
                self._line(f"{label}: {min(max(fraction, 0.0), 1.0):.0%} after {now - start:.0f} s")

        yield update
        self._line(f"{label}: done in {self.clock() - start:.1f} s")

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
