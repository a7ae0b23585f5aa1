"""Procedures as data: a TOML file declares the steps, who may move a dossier between them, and the SLA.

A definition is validated in full when it is loaded, and every problem is reported with the file and the
key path (``transitions[2].dest``), so an author fixes them all in one pass. Definitions are versioned by
``(code, version)``; a running dossier keeps the version it started with.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

from procflow.errors import UsageError

__all__ = [
    "ClockMode",
    "FieldSpec",
    "ProcedureDefinition",
    "Step",
    "TimerAction",
    "TimerAnchor",
    "TimerSpec",
    "Transition",
]


"""The meaning table behind PORTAL_STATUS (docs/concepts/statuses.md shows the same rules)."""


LEVELS = ("commune", "province", "ministry")
APPLICANT_KINDS = {"citizen": 1, "business": 2, "household_business": 3}
"""The national portal's LoaiDoiTuong: who files (công dân / doanh nghiệp / hộ kinh doanh)."""
APPLICANT_ROLES = ("name", "national_id", "phone", "address", "email")
FIELD_TYPES = ("string", "int", "decimal", "bool", "date", "datetime", "enum", "national_id", "phone")
MAX_VERSION = 2**31 - 1  # a definition version fits a 32-bit integer column on every backend
MAX_RETENTION_YEARS = 100
MAX_WORKING_DAYS = 2610  # ten years of working days: no time limit or timer is longer
MAX_CALENDAR_DAYS = 3653  # ten years
MAX_HOURS = MAX_CALENDAR_DAYS * 24
MAX_SOURCE_BYTES = 16_000_000  # a definition file larger than this is refused before parsing
PERSONAL_KINDS = ("national_id", "phone", "address", "date_of_birth", "name", "email", "other")
BUILTIN_ROLES = ("receiving", "competent", "location")
# What a definition may declare it could not confirm against a public source (``unconfirmed = [...]``): the
# docs and the sources table show these, so users know what to check before relying on it.
UNCONFIRMED_ITEMS = ("catalogue_code", "time_limit", "verification_limit", "flow", "competent_agency", "fee",
                     "legal_basis")


class ClockMode(enum.StrEnum):
    """What the SLA clock does while a dossier sits in a step."""

    RUNNING = "running"  # the agency is working: time counts
    CITIZEN = "citizen"  # waiting on the citizen (supplement, payment): paused; resumes per supplement_policy
    EXCLUDED = "excluded"  # does not count towards the limit (e.g. a 15-day public posting); resumes, extended
    STOPPED = "stopped"  # final or stopped: the clock stops


@attrs.frozen
class Step:
    """A state of the procedure: who holds the dossier there (``holder`` role), what the national portal
    shows (``portal_status``), and what the SLA clock does while the dossier sits in it."""

    name: str
    portal_status: int
    holder: str = "competent"
    clock: ClockMode = ClockMode.RUNNING
    final: bool = False
    sla_days: int | None = None
    resume_policy: str | None = None
    label_vi: str = ""
    label_en: str = ""

    @property
    def label(self) -> str:
        if self.label_en and self.label_vi:
            return f"{self.label_en} ({self.label_vi})"
        return self.label_en or self.label_vi or self.name


@attrs.frozen
class Transition:
    """A trigger that moves a dossier from one of ``source`` to ``dest``. Only the custodian may fire it,
    with one of ``roles`` (when given), at ``level`` (when given), and only if every named guard agrees."""

    trigger: str
    source: tuple[str, ...]
    dest: str
    roles: tuple[str, ...] = ()
    level: str | None = None
    guards: tuple[str, ...] = ()
    label_vi: str = ""
    label_en: str = ""


class TimerAnchor(enum.StrEnum):
    """What a timer counts from."""

    DUE = "due"  # the SLA due date (moves with pauses; re-armed when the clock restarts)
    STATE = "state"  # entering one of the timer's states
    CUSTODY = "custody"  # the current custodian agency receiving the dossier
    ABSOLUTE = "absolute"  # a fixed moment (``at``)


class TimerAction(enum.StrEnum):
    """What a timer does when it falls due (``procflow.engine.timers`` gives the meaning)."""

    NOTIFY = "notify"  # send notices (citizen, handling official, head of unit)
    FIRE = "fire"  # fire ``trigger`` through the engine as the custodian's system actor
    ESCALATE = "escalate"  # record an escalation, notify the head of unit, optionally name a new handler
    OVERDUE = "overdue"  # record the lateness (form 04 is issued before the due date: Engine.extend), notify officials


TIMER_RECIPIENTS = ("citizen", "official", "head")


@attrs.frozen
class TimerSpec:
    """A timer declared by a procedure (``[[timers]]``): when it falls due and what it then does.

    ``states`` are where it is live: leaving them cancels it. Offsets are signed for ``anchor = "due"``
    (negative: before the due date); exactly one of ``working_days``, ``calendar_days``, ``hours``.
    """

    name: str
    anchor: TimerAnchor
    action: TimerAction
    states: tuple[str, ...]
    working_days: int | None = None
    calendar_days: int | None = None
    hours: float | None = None
    at: datetime | None = None
    trigger: str | None = None
    notify: tuple[str, ...] = ()
    reassign_to: str | None = None
    extension_working_days: int = 1  # no longer used: form 04 is issued before the due date (Engine.extend)
    text_vi: str = ""
    text_en: str = ""


@attrs.frozen
class FieldSpec:
    """A declared item of dossier data. ``personal`` marks citizens' personal data by kind, so it is
    masked wherever it leaves the engine for human eyes."""

    name: str
    type: str = "string"
    required: bool = False
    personal: str | None = None
    label_vi: str = ""
    label_en: str = ""
    values: tuple[str, ...] = ()  # the allowed values of an ``enum`` field


@attrs.frozen
class ProcedureDefinition:
    """One version of one procedure. Frozen: a new version is a new object, never an edit."""

    code: str
    version: int
    name_vi: str
    name_en: str
    level: str
    competent_kind: str
    initial: str
    states: tuple[Step, ...]
    transitions: tuple[Transition, ...]
    sla_days: int
    supplement_policy: str = "restart"
    roles: Mapping[str, str] = attrs.field(factory=dict)
    official_roles: tuple[str, ...] = ()  # the roles officials hold, named by transitions' ``roles``
    fields: tuple[FieldSpec, ...] = ()
    legal_basis: tuple[str, ...] = ()
    timers: tuple[TimerSpec, ...] = ()
    source: str = ""
    file: str | None = None
    retention_years: int | None = None  # personal data of a closed dossier is erased after this (None: kept)
    sector: str = ""  # lĩnh vực, as the national catalogue files it (the official reporting table groups by it)
    sector_code: str = ""
    """The procedure's sector (mã lĩnh vực, MaLinhVuc on the national portal)."""
    applicant_kind: str = "citizen"
    """Who files: citizen, business or household_business (LoaiDoiTuong 1/2/3)."""
    applicant: Mapping[str, str] = attrs.field(factory=dict)
    """Which fields name the applicant — the dossier holder (chủ hồ sơ) the portal lists: for a birth
    registration the parent who files, not the newborn. Keys: name, national_id, phone, address, email."""
    online_initial: str | None = None
    """Where an online filing starts (portal status 1, waiting for the desk); None: no online filing."""

    catalogue_source: str = ""  # where the code and time limit were checked (a public page or document)
    unconfirmed: tuple[str, ...] = ()  # items of UNCONFIRMED_ITEMS not confirmed against a public source
    effective_from: date | None = None  # first day the flow is the law (a later decree: a new version)
    effective_until: date | None = None  # first day it no longer is (exclusive), e.g. Decree 151/2025: 2027-03-01

    @property
    def applicant_kind_code(self) -> int:
        return APPLICANT_KINDS.get(self.applicant_kind, 1)

    @property
    def key(self) -> tuple[str, int]:
        return (self.code, self.version)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the TOML text: registering the same (code, version) with other content is refused."""
        return hashlib.sha256(self.source.encode()).hexdigest()

    def step(self, name: str) -> Step:
        for s in self.states:
            if s.name == name:
                return s
        raise UsageError(f"{self.code} v{self.version} has no state {name!r}")

    @property
    def name(self) -> str:
        return f"{self.name_en} ({self.name_vi})" if self.name_en else self.name_vi

    def applicant_fields(self, kind: str = "name") -> tuple[str, ...]:
        """The fields that may name the dossier holder's ``kind`` (name, national_id, phone, address, email), in
        the order they are tried: only the one ``applicant`` declares, when it declares one (a birth
        registration's holder is the parent who files: an empty parent name never falls back to the
        newborn's); else personal fields of that kind whose name says applicant (declarant, requester,
        parent, owner, holder), then the others in file order. The national portal's status row and the
        printed forms both use it, so they name the same person."""
        cached = _APPLICANT_ORDER.get((id(self), kind))
        if cached is not None and cached[0] is self:
            return cached[1]
        declared = self.applicant.get(kind)
        if declared:
            order: tuple[str, ...] = (declared,)
        else:
            of_kind = [f.name for f in self.fields if f.personal == kind]
            hinted = [n for n in of_kind if any(h in n for h in APPLICANT_HINTS)]
            order = tuple(hinted + [n for n in of_kind if n not in hinted])
        if len(_APPLICANT_ORDER) > 4096:  # definitions parsed and dropped (tests): do not keep them all alive
            _APPLICANT_ORDER.clear()
        _APPLICANT_ORDER[(id(self), kind)] = (self, order)
        return order

    def applicant_value(self, data: Mapping[str, Any], kind: str = "name") -> Any:
        """The first non-empty value among :meth:`applicant_fields` (None when all are empty)."""
        for name in self.applicant_fields(kind):
            value = data.get(name)
            if value is not None and value != "":
                return value
        return None

    def personal_value(self, data: Mapping[str, Any], kind: str) -> Any:
        """The first non-empty value of a personal field of ``kind``, in file order, whoever it belongs to
        (None when all are empty): a last resort where the holder gives none (a notice whose declared
        ``[applicant]`` contact is empty: ``procflow.engine.outbox.citizen_recipient``). To name or reach the
        dossier holder use :meth:`applicant_value`."""
        for f in self.fields:
            if f.personal == kind:
                value = data.get(f.name)
                if value is not None and value != "":
                    return value
        return None

    def is_effective(self, on: date) -> bool:
        """Whether this version's flow is the law on day ``on`` (open-ended where a bound is not given)."""
        return (self.effective_from is None or on >= self.effective_from) and (
            self.effective_until is None or on < self.effective_until)


APPLICANT_HINTS = ("applicant", "declarant", "requester", "parent", "owner", "holder")
"""Words in a field name that say it belongs to the person who files (người nộp / chủ hồ sơ)."""
_APPLICANT_ORDER: dict[tuple[int, str], tuple[ProcedureDefinition, tuple[str, ...]]] = {}


_TOP_KEYS: tuple[str, ...]  # grown below by optional keys


