"""procflow: durable, auditable workflows for Vietnam's one-stop (một cửa) administrative procedures.

Procedures are versioned data (TOML), executed on plain dossier records by an engine that keeps one
custodian at a time, counts deadlines in Vietnamese working days and writes every change to an event log
with a transactional outbox (SQLite by default, PostgreSQL to scale out).
"""

from procflow.access import AccessDecision, AccessPolicy
from procflow.calendar import ClockPolicy, OfficeHours, SlaClock, WorkingCalendar
from procflow.clock import Clock, FakeClock, SystemClock
from procflow.definition import (
    ClockMode,
    FieldSpec,
    ProcedureDefinition,
    Step,
    TimerAction,
    TimerAnchor,
    TimerSpec,
    Transition,
    bundled_definitions,
    load_definition,
    parse_definition,
)
from procflow.delivery import DeliveryWorker
from procflow.dossier import Actor, Dossier, DossierEvent, replay
from procflow.engine import Engine
from procflow.errors import (
    AccessDenied,
    AdapterError,
    CalendarError,
    ConcurrencyConflict,
    DefinitionError,
    DossierNotFound,
    EnvelopeRejected,
    ExtensionRefused,
    FormNotAvailable,
    GuardRejected,
    InvalidData,
    JurisdictionError,
    KeysUnavailable,
    NotCustodian,
    PermanentAdapterError,
    PluginError,
    ProcflowError,
    RetryableAdapterError,
    RoleNotGranted,
    StoreError,
    TransitionNotAllowed,
    UnknownAgency,
    VaultError,
)
from procflow.forms import ExtensionLetter, build_form, build_register, render_html, render_json
from procflow.hashchain import VerifyReport
from procflow.hashchain import verify as verify_log
from procflow.hookspecs import hookimpl
from procflow.jurisdiction import Agency, Level, Registry, Routing
from procflow.keys import EnvKeyProvider, FileKeyProvider, KeyProvider, StaticKeyProvider
from procflow.logging_setup import configure_logging
from procflow.masking import mask_dossier, mask_event, mask_json, mask_record, mask_text, mask_value
from procflow.outbox import Delivery, OutboxTopic
from procflow.plugins import build_engine, make_plugin_manager
from procflow.retention import RetentionReport, apply_retention
from procflow.scheduler import Scheduler, SchedulerStats, armed_timers
from procflow.statistics import Report, build_report
from procflow.store import AuditEntry, OutboxMessage, Store, open_store
from procflow.vault import Vault

__version__ = "0.1.0"

__all__ = [
    "AccessDecision",
    "AccessDenied",
    "AccessPolicy",
    "Actor",
    "AdapterError",
    "Agency",
    "AuditEntry",
    "CalendarError",
    "Clock",
    "ClockMode",
    "ClockPolicy",
    "ConcurrencyConflict",
    "DefinitionError",
    "Delivery",
    "DeliveryWorker",
    "Dossier",
    "DossierEvent",
    "DossierNotFound",
    "Engine",
    "EnvKeyProvider",
    "EnvelopeRejected",
    "ExtensionLetter",
    "ExtensionRefused",
    "FakeClock",
    "FieldSpec",
    "FileKeyProvider",
    "FormNotAvailable",
    "GuardRejected",
    "InvalidData",
    "JurisdictionError",
    "KeyProvider",
    "KeysUnavailable",
    "Level",
    "NotCustodian",
    "OfficeHours",
    "OutboxMessage",
    "OutboxTopic",
    "PermanentAdapterError",
    "PluginError",
    "ProcedureDefinition",
    "ProcflowError",
    "Registry",
    "Report",
    "RetentionReport",
    "RetryableAdapterError",
    "RoleNotGranted",
    "Routing",
    "Scheduler",
    "SchedulerStats",
    "SlaClock",
    "StaticKeyProvider",
    "Step",
    "Store",
    "StoreError",
    "SystemClock",
    "TimerAction",
    "TimerAnchor",
    "TimerSpec",
    "Transition",
    "TransitionNotAllowed",
    "UnknownAgency",
    "Vault",
    "VaultError",
    "VerifyReport",
    "WorkingCalendar",
    "__version__",
    "apply_retention",
    "armed_timers",
    "build_engine",
    "build_form",
    "build_register",
    "build_report",
    "bundled_definitions",
    "configure_logging",
    "hookimpl",
    "load_definition",
    "make_plugin_manager",
    "mask_dossier",
    "mask_event",
    "mask_json",
    "mask_record",
    "mask_text",
    "mask_value",
    "open_store",
    "parse_definition",
    "render_html",
    "render_json",
    "replay",
    "verify_log",
]
