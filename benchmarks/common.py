"""What the benchmarks share: looping procedures, so one dossier can be fired indefinitely."""

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
