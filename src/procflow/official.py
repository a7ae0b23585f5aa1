"""The reporting table provinces send up on administrative-procedure handling, computed from dossiers.

Provinces report each period, per level and per sector (lĩnh vực), how many dossiers they received (carried
over from the previous period, received online, received in person or by post), how many they resolved
(before the due date, on time, late), how many are still in progress (within the limit, overdue) and how
many were withdrawn or refused. The columns follow the summary form used for this report (biểu tổng hợp
tình hình, kết quả giải quyết TTHC; the form's number in the current circular is unconfirmed).

Every dossier falls in exactly one of resolved / in progress / withdrawn / refused, so
``received == resolved + in_progress + withdrawn + refused`` for every row — a test pins it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from procflow.definition.model import ProcedureDefinition
from procflow.dossier import Dossier

__all__ = ["COLUMNS", "KNOWN_SECTORS", "OfficialTally", "official_table", "sector_of"]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("received", "tổng số nhận · received"),
    ("carried_over", "kỳ trước chuyển qua · carried over"),
    ("online", "trực tuyến · online"),
    ("in_person", "trực tiếp, bưu chính · in person, post"),
    ("resolved", "đã giải quyết · resolved"),
    ("early", "trước hạn · early"),
    ("on_time", "đúng hạn · on time"),
    ("late", "quá hạn · late"),
    ("in_progress", "đang giải quyết · in progress"),
    ("within_limit", "trong hạn · within limit"),
    ("overdue", "quá hạn · overdue"),
    ("withdrawn", "rút hồ sơ · withdrawn"),
    ("refused", "từ chối, dừng · refused, stopped"),
)

# Sectors of the procedures procflow ships, for definitions written before ``sector`` existed.
KNOWN_SECTORS: Mapping[str, str] = {
    "1.001193": "Hộ tịch", "1.000656": "Hộ tịch", "1.000894": "Hộ tịch", "1.004873": "Hộ tịch",
    "2.000635": "Hộ tịch", "2.000815": "Chứng thực", "1.004222": "Đăng ký, quản lý cư trú",
    "1.004194": "Đăng ký, quản lý cư trú", "BHYT.TE6": "Bảo hiểm y tế",
    "2.000575": "Thành lập và hoạt động của hộ kinh doanh", "2.000720": "Thành lập và hoạt động của hộ kinh doanh",
    "1.012751": "Đất đai", "CA.XOA-TT": "Đăng ký, quản lý cư trú", "BHXH.MAI-TANG": "Bảo hiểm xã hội",
}
OTHER = "Khác · other"


def sector_of(definition: ProcedureDefinition) -> str:
    """The definition's sector (lĩnh vực): its own ``sector`` key, else the shipped table, else "other"."""
    return definition.sector or KNOWN_SECTORS.get(definition.code, OTHER)


def _row() -> dict[str, int]:
    return dict.fromkeys((k for k, _ in COLUMNS), 0)


def official_table(dossiers: Iterable[Dossier], definitions: Mapping[tuple[str, int], ProcedureDefinition], *,
                   start: datetime, at: datetime,
                   online: Callable[[Dossier], bool] | None = None) -> dict[str, Any]:
    """The table for the period ``[start, at]``: ``total``, ``by_level`` and ``by_sector`` rows.

    Dossiers received before ``start`` and still open then are "carried over"; those finished before
    ``start`` are not in this period's table. ``online`` says how a dossier was filed; without it the
    online / in-person split is reported as None (unknown) and only their sum is given.
    A resolved dossier is *early* when its result was ready on a day before its due day, *on time* when
    by the due moment, *late* after it (a dossier without a time limit counts as on time).
    """
    tally = OfficialTally(definitions, start=start, at=at, online=online)
    for d in dossiers:
        tally.add(d)
    return tally.table()


class OfficialTally:
    """``official_table`` one dossier at a time, so a caller already reading every dossier (the simulator's
    report) fills the table in the same pass instead of reading the whole store a second time."""

    def __init__(self, definitions: Mapping[tuple[str, int], ProcedureDefinition], *, start: datetime,
                 at: datetime, online: Callable[[Dossier], bool] | None = None) -> None:
        self.definitions, self.start, self.at, self.online = definitions, start, at, online
        self.total = _row()
        self.by_level: dict[str, dict[str, int]] = defaultdict(_row)
        self.by_sector: dict[str, dict[str, int]] = defaultdict(_row)

    def feed(self, dossiers: Iterable[Dossier]) -> Iterator[Dossier]:
        """Pass ``dossiers`` through, counting each one on the way."""
        for d in dossiers:
            self.add(d)
            yield d

    def add(self, d: Dossier) -> None:
        start, at, online = self.start, self.at, self.online
        defn = self.definitions[(d.procedure, d.definition_version)]
        step = defn.step(d.state)
        stop = d.sla.stopped_at or d.updated_at
        finished = step.final or d.status in (9, 10)
        if d.received_at > at or (finished and stop < start):
            return
        rows = (self.total, self.by_level[defn.level], self.by_sector[sector_of(defn)])
        keys = ["received"]
        if d.received_at < start:
            keys.append("carried_over")
        elif online is not None:
            keys.append("online" if online(d) else "in_person")
        if d.status in (9, 10):
            keys.append("resolved")
            due = d.sla.due_at
            if due is None or stop <= due:
                keys.append("early" if due is not None and stop.date() < due.date() else "on_time")
            else:
                keys.append("late")
        elif d.status == 7:
            keys.append("withdrawn")
        elif step.final:
            keys.append("refused")  # not received (3), refused or stopped (8)
        else:
            keys.append("in_progress")
            keys.append("overdue" if d.sla.is_overdue(at) else "within_limit")
        for row in rows:
            for k in keys:
                row[k] += 1

    def table(self) -> dict[str, Any]:
        total, by_level, by_sector = self.total, self.by_level, self.by_sector
        if self.online is None:
            for row in (total, *by_level.values(), *by_sector.values()):
                row["online"] = row["in_person"] = None  # type: ignore[assignment]
        return {
            "period": {"from": self.start.isoformat(), "to": self.at.isoformat()},
            "columns": [{"key": k, "label": label} for k, label in COLUMNS],
            "total": total,
            "by_level": dict(sorted(by_level.items())),
            "by_sector": dict(sorted(by_sector.items())),
        }
