"""What the benchmarks share: looping procedures, so one dossier can be fired indefinitely, and a recorder of
the statements a store executes."""

from __future__ import annotations

from typing import Any

# review <-> check, both held by the commune; "finish" ends it.
LOOP = """
code = "bench.loop"
version = 1
name_vi = "Vòng lặp đo hiệu năng"
level = "commune"
initial = "review"
[sla]
working_days = 5
[[states]]
name = "review"
portal_status = 4
[[states]]
name = "check"
portal_status = 4
[[states]]
name = "done"
portal_status = 10
final = true
clock = "stopped"
[[transitions]]
trigger = "to_check"
source = "review"
dest = "check"
roles = ["officer"]
[[transitions]]
trigger = "to_review"
source = "check"
dest = "review"
roles = ["officer"]
[[transitions]]
trigger = "finish"
source = "check"
dest = "done"
"""

# A bundled-procedure-like loop: received (portal status 2) <-> processing (4), each move guarded by the
# officer's completeness check and a national-portal status change (so the sync topic writes one row).
DEFAULT = """
code = "bench.default"
version = 1
name_vi = "Thủ tục đo hiệu năng"
level = "commune"
initial = "received"
[sla]
working_days = 5
[[fields]]
name = "applicant_name"
required = true
personal = "name"
[[fields]]
name = "documents_complete"
type = "bool"
[[fields]]
name = "note"
[[states]]
name = "received"
portal_status = 2
[[states]]
name = "processing"
portal_status = 4
[[states]]
name = "done"
portal_status = 10
final = true
clock = "stopped"
[[transitions]]
trigger = "start"
source = "received"
dest = "processing"
roles = ["officer"]
guards = ["documents_complete"]
[[transitions]]
trigger = "back"
source = "processing"
dest = "received"
roles = ["officer"]
guards = ["documents_complete"]
[[transitions]]
trigger = "finish"
source = "processing"
dest = "done"
"""
FILING = {"applicant_name": "Nguyễn Văn An", "documents_complete": True, "note": "nộp trực tiếp"}


Statement = tuple[bool, str, Any]  # (executemany?, sql, parameters)


class StatementRecorder:
    """Stands in for a store's connection: records each statement with its parameters (``(executemany?, sql,
    parameters)``), then runs it on the real one — for the SQL-floor rows, which replay them without Python."""

    def __init__(self, db: Any, log: list[Statement]) -> None:
        self._real = db
        self._log = log

    def execute(self, sql: str, params: Any = ()) -> Any:
        params = tuple(params) if not isinstance(params, dict) else dict(params)
        self._log.append((False, sql, params))
        return self._real.execute(sql, params)

    def executemany(self, sql: str, seq: Any) -> Any:
        rows = [tuple(p) if not isinstance(p, dict) else dict(p) for p in seq]
        self._log.append((True, sql, rows))
        return self._real.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
