"""Refusals of what people write or give procflow: procedure definitions, catalogue files, dossier data,
administrative codes and dates.

These name the file, key path, row or field at fault, so an author can fix the input; no state changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from procflow.errors.base import ProcflowError

__all__ = [
    "CalendarError",
    "CalendarWarning",
    "CatalogueError",
    "DefinitionError",
    "InvalidData",
    "JurisdictionError",
    "Problem",
    "UnknownAgency",
]


@attrs.frozen
class Problem:
    """One thing wrong in a definition, located by file and key path (e.g. ``transitions[2].dest``)."""

    path: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.path}: {self.message}"


class DefinitionError(ProcflowError, ValueError):
    """A procedure definition is malformed. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem] | Problem | str, *, file: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems, file)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.file = file
        head = f"{len(self.problems)} problem(s) in procedure definition"
        if file:
            head += f" {file}"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class CatalogueError(DefinitionError):
    """A catalogue file is malformed; ``problems`` locates each one as ``row N, column C``. Nothing of the
    catalogue was imported."""

    def __init__(self, problems: Sequence[Problem] | Problem | str, *, file: str | None = None) -> None:
        super().__init__(problems, file=file)
        head = f"{len(self.problems)} problem(s) in catalogue" + (f" {file}" if file else "")
        self.args = (head + ", nothing imported:\n" + "\n".join(f"  - {p.path}: {p.message}"
                                                               for p in self.problems),)

    def one_line(self, limit: int = 5) -> str:
        """Every problem on one line (the CLI's refusal), the first ``limit`` of them spelt out."""
        shown = "; ".join(f"{p.path}: {p.message}" for p in self.problems[:limit])
        more = len(self.problems) - limit
        where = f"{self.file}: " if self.file else ""
        return (f"{where}catalogue refused, nothing imported ({len(self.problems)} problem(s)): {shown}"
                + (f"; and {more} more" if more > 0 else ""))


class InvalidData(ProcflowError, ValueError):
    """Dossier data that the procedure does not declare, or a required field that is missing."""

    def __init__(self, message: str, *, dossier_id: str | None = None, field: str | None = None) -> None:
        self.dossier_id = dossier_id
        self.field = field
        super().__init__(message)


class JurisdictionError(ProcflowError, LookupError):
    """An administrative division or agency question that has no answer."""


class UnknownAgency(JurisdictionError):
    """A code that names no known agency, province or commune."""

    def __init__(self, code: str, *, kind: str = "agency", hint: str | None = None) -> None:
        self.code = code
        self.kind = kind
        msg = f"unknown {kind} code {code!r}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class CalendarError(ProcflowError, ValueError):
    """A date or duration the working calendar cannot count."""


class CalendarWarning(UserWarning):
    """A date outside the years whose substituted days off the holiday data knows."""
