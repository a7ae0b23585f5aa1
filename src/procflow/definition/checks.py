"""The problem collector every part of the definition reader reports to, and the checks they share.

The catalogue importer and the officials directory check names with the same rules as definitions.
"""

from __future__ import annotations

import difflib
import enum
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from procflow.errors import Problem


def name_defect(value: str) -> str:
    """Why ``value`` is no good as a name people compare by eye ('' when it is fine)."""
    if not value.strip():
        return "is empty"
    if value != value.strip():
        return "has leading or trailing spaces"
    scripts: set[str] = set()
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            return f"contains an invisible or control character (U+{ord(ch):04X})"
        if cat.startswith("L"):
            try:
                scripts.add(unicodedata.name(ch).split()[0])
            except ValueError:
                return f"contains an unnamed character (U+{ord(ch):04X})"
    scripts &= {"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"}  # the look-alike families
    if len(scripts) > 1:
        return f"mixes scripts ({', '.join(sorted(scripts))}): a look-alike of another name"
    return ""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint; looks only at names of about the same length (cheap for huge definitions)."""
    near = [c for c in choices if abs(len(c) - len(value)) <= 3][:500]
    close = difflib.get_close_matches(value, near, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value]


class _Reader:
    """Collects problems while reading raw TOML data into the frozen model."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, self.file))

    def get(self, table: Mapping[str, Any], key: str, path: str, typ: type | tuple[type, ...], *,
            required: bool = True, default: Any = None) -> Any:
        if key not in table:
            if required:
                self.problem(f"{path}{key}", "missing required key")
            return default
        value = table[key]
        if (typ is int and isinstance(value, bool)) or not isinstance(value, typ):
            names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
            self.problem(f"{path}{key}", f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return value

    def strings(self, table: Mapping[str, Any], key: str, path: str, *, one_ok: bool = False) -> list[str]:
        """A list of strings (or one string when ``one_ok``); anything else nested is a problem, not a crash."""
        if key not in table:
            return []
        value = table[key]
        if one_ok and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.problem(f"{path}{key}", f"expected a list of strings, got {type(value).__name__}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem(f"{path}{key}[{i}]", f"expected a string, got {type(item).__name__}")
        return out

    def name_problem(self, path: str, value: str, what: str) -> bool:
        """Names people type and compare (codes, states, triggers, roles): no empty, invisible, control or
        mixed-script look-alike characters (a Cyrillic 'а' inside a Latin word passes every eye)."""
        why = name_defect(value)
        if why:
            self.problem(path, f"{what} {value!r} {why}")
        return bool(why)

    def unknown_keys(self, table: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        allowed = set(allowed)
        for key in table:
            if key not in allowed:
                self.problem(f"{path}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _enum(r: _Reader, table: Mapping[str, Any], key: str, p: str, kind: type[enum.StrEnum],
          default: Any) -> Any:
    value = r.get(table, key, p, str, default=None)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        r.problem(f"{p}{key}", f"unknown {key} {value!r} (expected one of {', '.join(m.value for m in kind)})")
        return default

