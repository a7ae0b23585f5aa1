"""A province's staff list (CSV) read into officials, every row checked before anything is stored.

Columns (a header row names them, in any order; ``valid_from``, ``valid_to`` and ``acts_for`` may be
omitted): ``id, name, agency, roles, valid_from, valid_to, acts_for``. ``roles`` and ``acts_for`` hold
several values separated by ``;``; dates are ``YYYY-MM-DD``. A bad row is reported as one line naming its
row number (the header is row 1, as a spreadsheet numbers it) and column; the first bad row stops the
import, so nothing is stored from a file with any error.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path

from procflow.errors import DirectoryError
from procflow.privacy.directory import Official, check_id, check_role

__all__ = ["COLUMNS", "REQUIRED", "read_staff_csv"]

COLUMNS = ("id", "name", "agency", "roles", "valid_from", "valid_to", "acts_for")
REQUIRED = ("id", "name", "agency", "roles")
MAX_ROWS = 200_000  # a province's staff is thousands; a larger file is a mistake, not a staff list


def _split(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split(";") if p.strip()]


def read_staff_csv(path: Path, *, agency_known: Callable[[str], bool], existing: Collection[str] = ()) -> list[
        Official]:
    """The officials a staff CSV lists; ``DirectoryError`` (with ``.row`` and ``.column``) on the first bad
    row. ``existing``: ids already in the directory (an import adds, never replaces)."""
    where = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DirectoryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryError(f"{where}: cannot read as UTF-8 text ({exc})") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        raise DirectoryError(f"{where} row 1: " + (f"missing column(s) {', '.join(missing)}" if missing else
                                                     f"unknown column(s) {', '.join(unknown)}")
                             + f" (expected {', '.join(COLUMNS)})", row=1)
    out: list[Official] = []
    seen: dict[str, int] = {}
    for n, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if n > MAX_ROWS:
            raise DirectoryError(f"{where}: more than {MAX_ROWS} rows", row=n)
        if len(cells) != len(header):
            raise DirectoryError(f"{where} row {n}: {len(cells)} cells, the header has {len(header)}", row=n)
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        column = "id"
        try:
            ident = check_id(row["id"])
            if ident in seen:
                raise DirectoryError(f"official {ident} is listed twice (also row {seen[ident]})")
            if ident in existing:
                raise DirectoryError(f"official {ident} is already in the directory")
            column = "name"
            if not row["name"]:
                raise DirectoryError("a name is required")
            column = "agency"
            if not agency_known(row["agency"]):
                raise DirectoryError(f"unknown agency code {row['agency']!r}")
            column = "roles"
            roles = frozenset(check_role(r) for r in _split(row["roles"]))
            dates: list[date | None] = []
            for column in ("valid_from", "valid_to"):
                value = row.get(column, "")
                try:
                    dates.append(date.fromisoformat(value) if value else None)
                except ValueError:
                    raise DirectoryError(f"{value!r} is not a date (YYYY-MM-DD)") from None
            if dates[0] is not None and dates[1] is not None and dates[1] < dates[0]:
                raise DirectoryError(f"{dates[1]} is before valid_from {dates[0]}")
            column = "acts_for"
            acts_for = frozenset(check_id(a, "delegated official") for a in _split(row.get("acts_for", "")))
        except DirectoryError as exc:
            raise DirectoryError(f"{where} row {n} column {column}: {exc}", row=n, column=column) from None
        seen[ident] = n
        out.append(Official(id=ident, name=row["name"], agency=row["agency"], roles=roles, valid_from=dates[0],
                            valid_to=dates[1], acts_for=acts_for))
    for o in out:
        for a in sorted(o.acts_for):
            if a not in seen and a not in existing:
                n = seen[o.id]
                raise DirectoryError(f"{where} row {n} column acts_for: no official {a!r} in the file or the directory",
                                     row=n, column="acts_for")
    if not out:
        raise DirectoryError(f"{where}: no officials listed (expected a header row and one row per official)")
    return out
