"""Catalogue records: one procedure of a province's catalogue, read from CSV or JSON and checked in full.

The format follows what the national database of administrative procedures (Cơ sở dữ liệu quốc gia về thủ
tục hành chính) publishes for each procedure — code (mã thủ tục), name (tên), level (cấp thực hiện), sector
(lĩnh vực), competent agency (cơ quan thực hiện), time limit (thời hạn giải quyết), fee (phí, lệ phí),
result (kết quả thực hiện), legal basis (căn cứ pháp lý) — plus an optional yearly volume, a citation
and the fields that could not be confirmed. ``docs/concepts/catalogue.md`` documents each column.

Every row is checked before anything is used, and every problem is reported with its row and column, so a
province fixes its file in one pass; a file with any problem is refused whole (nothing half-imported).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from procflow.definition.model import LEVELS
from procflow.errors import CatalogueError, Problem

__all__ = ["COLUMNS", "REQUIRED", "CatalogueError", "CatalogueRecord", "parse_records", "read_catalogue"]

COLUMNS = ("code", "name", "name_en", "level", "sector", "sector_code", "competent_kind", "time_limit_days", "fee",
           "result", "legal_basis", "annual_volume", "source", "unconfirmed")
REQUIRED = ("code", "name", "level", "sector", "competent_kind", "time_limit_days", "result", "legal_basis")
_CODE = re.compile(r"^\d\.\d{6}(\.[A-Z0-9]{1,8})?$")  # 1.001193, or a province's variant 1.012753.H19
_LEVEL_ALIASES = {"xã": "commune", "cấp xã": "commune", "tỉnh": "province", "cấp tỉnh": "province",
                  "bộ": "ministry", "cấp bộ": "ministry", "trung ương": "ministry"}
_MAX_LIMIT = 365  # working days: more than a year is a typo, not a time limit
_MAX_ROWS = 20_000  # a province publishes ~2,000; far more is the wrong file
_EXTRA = "\x00extra"  # where csv puts the values of a row longer than its header


@attrs.frozen(kw_only=True)
class CatalogueRecord:
    """One procedure as the catalogue lists it. ``row`` is where it stands in its file (for messages)."""

    code: str
    name: str
    level: str
    sector: str
    competent_kind: str
    time_limit_days: int
    result: str
    legal_basis: tuple[str, ...]
    name_en: str = ""
    sector_code: str = ""  # mã lĩnh vực (MaLinhVuc on the national portal), when the catalogue gives it
    fee: str = ""
    annual_volume: int | None = None
    source: str = ""
    unconfirmed: tuple[str, ...] = ()
    row: int = 0


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_text(v) for v in value if _text(v)]
    return [p.strip() for p in re.split(r"\s*[|;\n]\s*", _text(value)) if p.strip()]


def parse_records(rows: Iterable[Mapping[str, Any]], *, kinds: Collection[str], file: str | None = None,
                  first_row: int = 2, header: Sequence[str] | None = None,
                  numbers: Sequence[int] | None = None) -> list[CatalogueRecord]:
    """Check raw rows (column -> value) and build records; raise ``CatalogueError`` listing every problem.

    ``kinds`` are the agency kinds the registry knows (``Registry.kinds()``); ``first_row`` is the number
    the first row has in its file (2 for a CSV under its header, 1 for a JSON list); ``numbers`` gives each
    row's own number instead (a CSV with blank lines or multi-line cells).
    """
    problems: list[Problem] = []

    def bad(row: int, column: str, message: str) -> None:
        problems.append(Problem(f"row {row}, column {column}" if row else f"column {column}", message, file))

    if header is not None:
        for col in header:
            if col not in COLUMNS:
                bad(0, col or "(empty)", f"unknown column (columns: {', '.join(COLUMNS)})")
        for col in REQUIRED:
            if col not in header:
                bad(0, col, "missing required column")
        if problems:
            raise CatalogueError(problems, file=file)
    records: list[CatalogueRecord] = []
    seen: dict[str, int] = {}
    count = 0
    for count, raw in enumerate(rows, start=0):
        n = numbers[count] if numbers is not None and count < len(numbers) else first_row + count
        if count >= _MAX_ROWS:
            bad(n, "code", f"more than {_MAX_ROWS:,} rows: is this a procedure catalogue?")
            break
        if not isinstance(raw, Mapping):
            bad(n, "(row)", f"expected an object with the catalogue columns, got {type(raw).__name__}")
            continue
        if header is None:  # JSON: each object names its own keys
            for key in raw:
                if key not in COLUMNS:
                    bad(n, str(key), f"unknown column (columns: {', '.join(COLUMNS)})")
        before = len(problems)
        values = {k: raw.get(k) for k in COLUMNS}
        for col in REQUIRED:
            if not _split(values[col]) if col == "legal_basis" else not _text(values[col]):
                bad(n, col, "required, empty")
        code = _text(values["code"])
        if code and not _CODE.match(code):
            bad(n, "code", f"{code!r} is not a national catalogue code (like 1.001193 or 1.012753.H19)")
        elif code in seen:
            bad(n, "code", f"{code} is listed twice (also row {seen[code]})")
        elif code:
            seen[code] = n
        level = _text(values["level"]).lower()
        level = _LEVEL_ALIASES.get(level, level)
        if level and level not in LEVELS:
            bad(n, "level", f"unknown level {_text(values['level'])!r} (expected one of {', '.join(LEVELS)}, "
                            "or Cấp xã / Cấp tỉnh)")
        kind = _text(values["competent_kind"])
        if kind and kind not in kinds:
            bad(n, "competent_kind", f"unknown agency kind {kind!r} (known: {', '.join(sorted(kinds))})")
        limit = _int(values["time_limit_days"])
        if _text(values["time_limit_days"]) and (limit is None or not 0 <= limit <= _MAX_LIMIT):
            bad(n, "time_limit_days", f"expected whole working days 0–{_MAX_LIMIT} (0 = the same day), got "
                                      f"{_text(values['time_limit_days'])!r}")
        volume = _int(values["annual_volume"])
        if _text(values["annual_volume"]) and (volume is None or volume < 0):
            bad(n, "annual_volume", f"expected a whole number of dossiers a year (>= 0) or nothing, got "
                                    f"{_text(values['annual_volume'])!r}")
        unconfirmed = tuple(_split(values["unconfirmed"]))
        for u in unconfirmed:
            if u not in COLUMNS:
                bad(n, "unconfirmed", f"names {u!r}, which is not a column (columns: {', '.join(COLUMNS)})")
        if len(_text(values["sector_code"])) > 50:
            bad(n, "sector_code", "longer than 50 characters")
        for col in ("name", "name_en", "sector", "fee", "result", "source"):
            if len(_text(values[col])) > 1000:
                bad(n, col, "longer than 1,000 characters")
        if len(problems) > before:
            continue
        records.append(CatalogueRecord(
            code=code, name=_text(values["name"]), name_en=_text(values["name_en"]), level=level,
            sector=_text(values["sector"]), sector_code=_text(values["sector_code"]), competent_kind=kind,
            time_limit_days=limit or 0,
            fee=_text(values["fee"]), result=_text(values["result"]),
            legal_basis=tuple(_split(values["legal_basis"])), annual_volume=volume,
            source=_text(values["source"]), unconfirmed=unconfirmed, row=n))
    if problems:
        raise CatalogueError(problems, file=file)
    if not records:
        raise CatalogueError([Problem("(file)", "no procedures in the catalogue", file)], file=file)
    return records


def _order(p: Problem) -> tuple[int, str]:
    m = re.match(r"row (\d+)", p.path)
    return (int(m.group(1)) if m else 0, p.path)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = _text(value)
    return int(text) if re.fullmatch(r"\d+", text) else None


def read_catalogue(path: str | Path, *, kinds: Collection[str] | None = None) -> list[CatalogueRecord]:
    """Read a catalogue file: ``.csv`` (UTF-8, a header row of column names) or ``.json`` (a list of
    objects, or ``{"procedures": [...]}``). Raises ``CatalogueError`` naming each bad row and column."""
    path = Path(path)
    if kinds is None:
        from procflow.jurisdiction import Registry

        kinds = Registry.default().kinds()
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"cannot read {path}: {exc}", file=name) from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogueError([Problem(f"line {exc.lineno}", f"not valid JSON: {exc.msg}", name)],
                                 file=name) from exc
        if isinstance(data, dict):
            data = data.get("procedures")
        if not isinstance(data, list):
            raise CatalogueError([Problem("(file)", "expected a JSON list of procedures, or an object with a "
                                                    "'procedures' list", name)], file=name)
        return parse_records(data, kinds=kinds, file=name, first_row=1)
    if suffix == ".csv":
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
            header = [h.strip() for h in reader.fieldnames or ()]
            reader.fieldnames = header
            rows, numbers, extra = [], [], []
            for raw in reader:
                if _EXTRA in raw:
                    extra.append(Problem(f"row {reader.line_num}, column (extra)",
                                         f"{len(raw[_EXTRA])} more value(s) than the header has columns (an "
                                         "unquoted comma?)", name))
                elif any(_text(v) for v in raw.values()):  # blank lines are not rows
                    rows.append(raw)
                    numbers.append(reader.line_num)  # the row as a spreadsheet numbers it (header = 1)
        except csv.Error as exc:
            raise CatalogueError([Problem("(file)", f"not valid CSV: {exc}", name)], file=name) from exc
        try:
            records = parse_records(rows, kinds=kinds, file=name, header=header, numbers=numbers)
        except CatalogueError as exc:
            if not extra:
                raise
            found = [p for p in exc.problems if p.path != "(file)"]  # not "no procedures" when rows were bad
            raise CatalogueError(sorted([*extra, *found], key=_order), file=name) from None
        if extra:
            raise CatalogueError(extra, file=name)
        return records
    raise CatalogueError([Problem("(file)", f"unknown catalogue format {suffix or '(none)'!r}: give a .csv or "
                                            ".json file", name)], file=name)
