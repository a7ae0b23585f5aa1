"""Procedures and helpers shared by the timer tests (and the SIGKILL child process)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from procflow.clock import FakeClock
from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import parse_definition
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.testing.directory import staff_of

VN = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 4, 20, 8, 0, tzinfo=VN)  # a Monday

# One commune-level procedure with every kind of timer. The clock runs in "processing", waits on the citizen in
# "supplement" (restart or pause on return, per version), and stops at the end.
_TEMPLATE = """
code = "t.{policy}"
version = 1
name_vi = "Thủ tục thử hẹn giờ ({policy})"
level = "commune"
initial = "processing"

[sla]
working_days = 3
supplement_policy = "{policy}"

[[fields]]
name = "phone"
personal = "phone"

[[states]]
name = "processing"
portal_status = 4

[[states]]
name = "supplement"
portal_status = 5
clock = "citizen"
holder = "receiving"

[[states]]
name = "done"
portal_status = 10
clock = "stopped"
final = true

[[states]]
name = "withdrawn"
portal_status = 7
clock = "stopped"
holder = "receiving"
final = true

[[transitions]]
trigger = "request_supplement"
source = "processing"
dest = "supplement"
roles = ["officer"]

[[transitions]]
trigger = "resubmit"
source = "supplement"
dest = "processing"
roles = ["desk"]

[[transitions]]
trigger = "finish"
source = "processing"
dest = "done"
roles = ["officer"]

[[transitions]]
trigger = "withdraw"
source = "supplement"
dest = "withdrawn"
roles = ["desk"]

[[timers]]
name = "remind"
anchor = "due"
working_days = -1
action = "notify"
notify = ["official"]

[[timers]]
name = "late"
anchor = "due"
action = "overdue"
notify = ["citizen", "head"]

[[timers]]
name = "expire"
anchor = "state"
states = "supplement"
calendar_days = 10
action = "fire"
trigger = "withdraw"
notify = "citizen"

[[timers]]
name = "escalate"
anchor = "custody"
states = ["processing"]
hours = 30
action = "escalate"
reassign_to = "deputy"
"""

RESTART = _TEMPLATE.format(policy="restart")
PAUSE = _TEMPLATE.format(policy="pause")

# The same procedure without timers: what a definition that declares none pays (nothing).
PLAIN = RESTART.split("[[timers]]")[0].replace('code = "t.restart"', 'code = "t.plain"')


def definitions() -> list[ProcedureDefinition]:
    return [parse_definition(RESTART), parse_definition(PAUSE), parse_definition(PLAIN)]


def make_engine(store, clock: FakeClock | None = None, registry: Registry | None = None) -> Engine:
    engine = Engine(store, registry=registry or Registry.default(), clock=clock or FakeClock(T0))
    for d in definitions():
        engine.register(d)
    staff_of(engine).actors(desk(commune(engine)), officer(commune(engine)))  # the officials the tests name
    return engine


def commune(engine: Engine) -> str:
    return engine.registry.communes_of("92")[0].code


def desk(agency: str) -> Actor:
    return Actor(f"desk@{agency}", agency, {"desk"})


def officer(agency: str) -> Actor:
    return Actor(f"officer@{agency}", agency, {"officer"})
