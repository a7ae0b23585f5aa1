"""What the benchmarks share: a looping procedure, so one dossier can be fired indefinitely."""

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
