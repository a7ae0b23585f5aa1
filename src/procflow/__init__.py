"""procflow: durable, auditable workflows for Vietnam's one-stop (một cửa) administrative procedures.

Procedures are versioned data (TOML), executed on plain dossier records by an engine that keeps one
custodian at a time, counts deadlines in Vietnamese working days and writes every change to an event log
with a transactional outbox (SQLite by default, PostgreSQL to scale out).

The top level holds what embedders and procedure authors use every day; the rest lives in namespaces
named after their audience, each with a pinned ``__all__``:

- ``procflow.errors`` — the whole error tree (catch ``ProcflowError`` or any refusal by name);
- ``procflow.privacy`` — checked reads, the vault, keys, masking, the tamper-evident log, retention;
- ``procflow.workers`` — outbox delivery and the timer scheduler; ``procflow.store`` — the stores;
- ``procflow.exchange`` — signed inter-agency envelopes; ``procflow.forms`` — the one-stop forms;
- ``procflow.testing`` — fixtures, strategies, the story API and the adapter conformance kit.
"""

from procflow.agency import Agency, Level
from procflow.calendar import WorkingCalendar
from procflow.clock import Clock, FakeClock, SystemClock
from procflow.definition import (
    FieldSpec,
    ProcedureDefinition,
    Step,
    TimerSpec,
    Transition,
    bundled_definitions,
    load_definition,
    parse_definition,
)
from procflow.dossier import Actor, Dossier, DossierEvent, replay
from procflow.engine.core import Engine
from procflow.errors import ProcflowError
from procflow.hookspecs import hookimpl
from procflow.jurisdiction import Registry
from procflow.officehours import OfficeHours
from procflow.plugins import build_engine, make_plugin_manager
from procflow.sla import SlaClock
from procflow.store import OutboxMessage, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "Agency",
    "Clock",
    "Dossier",
    "DossierEvent",
    "Engine",
    "FakeClock",
    "FieldSpec",
    "Level",
    "OfficeHours",
    "OutboxMessage",
    "ProcedureDefinition",
    "ProcflowError",
    "Registry",
    "SlaClock",
    "Step",
    "Store",
    "SystemClock",
    "TimerSpec",
    "Transition",
    "WorkingCalendar",
    "__version__",
    "build_engine",
    "bundled_definitions",
    "hookimpl",
    "load_definition",
    "make_plugin_manager",
    "open_store",
    "parse_definition",
    "replay",
]
