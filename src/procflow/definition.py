"""Procedures as data: a TOML file declares the steps, who may move a dossier between them, and the SLA.

A definition is validated in full when it is loaded, and every problem is reported with the file and the
key path (``transitions[2].dest``), so an author fixes them all in one pass. Definitions are versioned by
``(code, version)``; a running dossier keeps the version it started with.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import math
import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from procflow.errors import DefinitionError, Problem, UsageError

__all__ = [
    "ClockMode",
    "FieldSpec",
    "ProcedureDefinition",
    "Step",
    "TimerAction",
    "TimerAnchor",
    "TimerSpec",
    "Transition",
    "bundled_definitions",
    "load_definition",
    "parse_definition",
]

PORTAL_STATUS = {
    1: "newly registered (mới đăng ký)",
    2: "received (được tiếp nhận)",
    3: "not received (không được tiếp nhận)",
    4: "processing (đang xử lý)",
    5: "supplement requested (yêu cầu bổ sung giấy tờ)",
    6: "financial obligation requested (yêu cầu thực hiện nghĩa vụ tài chính)",
    7: "withdrawn at the citizen's request (công dân yêu cầu rút hồ sơ)",
    8: "processing stopped (dừng xử lý)",
    9: "processed (đã xử lý xong)",
    10: "result returned (đã trả kết quả)",
}



@attrs.frozen
class StatusRule:
    """What a national-portal status means for a state that reports it (the portal's meaning, as rules a
    definition can be checked against): final or not, what the SLA clock does, who holds the dossier."""

    final: bool | None  # None: either
    clocks: tuple[str, ...]  # the clock modes a state reporting this status may have
    holder: str | None = None  # the holder role the meaning implies (None: any)


STATUS_RULES: dict[int, StatusRule] = {
    1: StatusRule(False, ("excluded",), "receiving"),  # filed online, waiting for the desk: no limit yet
    2: StatusRule(False, ("running",)),  # received (by the one-stop desk or a member agency): the limit runs
    3: StatusRule(True, ("stopped",)),  # refused at receipt (form 03)
    4: StatusRule(False, ("running", "excluded")),  # being processed (a public posting does not count)
    5: StatusRule(False, ("citizen", "excluded")),  # waiting for the citizen's supplement (form 02)
    6: StatusRule(False, ("citizen", "excluded")),  # waiting for the citizen to pay (nghĩa vụ tài chính)
    7: StatusRule(True, ("stopped",)),  # withdrawn at the citizen's request
    8: StatusRule(None, ("stopped",)),  # processing stopped (form 05)
    9: StatusRule(False, ("stopped",), "receiving"),  # result at the one-stop desk, waiting to be handed over
    10: StatusRule(True, ("stopped",), "receiving"),  # result returned to the citizen
}
"""The meaning table behind PORTAL_STATUS (docs/concepts/statuses.md shows the same rules)."""


def status_mapping_problems(defn: ProcedureDefinition) -> list[str]:
    """Where a definition's states report a status whose meaning they contradict (empty: consistent)."""
    out = []
    for st in defn.states:
        rule = STATUS_RULES.get(st.portal_status)
        if rule is None:
            continue
        where = f"{defn.code} state {st.name!r} (status {st.portal_status})"
        if rule.final is not None and st.final != rule.final:
            out.append(f"{where}: status {st.portal_status} is {'a final' if rule.final else 'not a final'} state")
        if st.clock.value not in rule.clocks:
            out.append(f"{where}: clock {st.clock.value!r}, the status means {' or '.join(rule.clocks)}")
        if rule.holder is not None and st.holder != rule.holder:
            out.append(f"{where}: held by {st.holder!r}, the status means the {rule.holder} desk holds it")
    return out


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
    """What a timer does when it falls due (``procflow.timers`` gives the meaning)."""

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

    def is_effective(self, on: date) -> bool:
        """Whether this version's flow is the law on day ``on`` (open-ended where a bound is not given)."""
        return (self.effective_from is None or on >= self.effective_from) and (
            self.effective_until is None or on < self.effective_until)


def name_defect(value: str) -> str:
    """Why ``value`` is no good as a name people compare by eye ('' when it is fine)."""
    if not value.strip():
        return "is empty"
    if value != value.strip():
        return "has leading or trailing spaces"
    scripts: set[str] = set()
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            return f"contains an invisible or control character (U+{ord(ch):04X})"
        if cat.startswith("L"):
            try:
                scripts.add(unicodedata.name(ch).split()[0])
            except ValueError:
                return f"contains an unnamed character (U+{ord(ch):04X})"
    scripts &= {"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"}  # the look-alike families
    if len(scripts) > 1:
        return f"mixes scripts ({', '.join(sorted(scripts))}): a look-alike of another name"
    return ""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint; looks only at names of about the same length (cheap for huge definitions)."""
    near = [c for c in choices if abs(len(c) - len(value)) <= 3][:500]
    close = difflib.get_close_matches(value, near, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value]


class _Reader:
    """Collects problems while reading raw TOML data into the frozen model."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, self.file))

    def get(self, table: Mapping[str, Any], key: str, path: str, typ: type | tuple[type, ...], *,
            required: bool = True, default: Any = None) -> Any:
        if key not in table:
            if required:
                self.problem(f"{path}{key}", "missing required key")
            return default
        value = table[key]
        if (typ is int and isinstance(value, bool)) or not isinstance(value, typ):
            names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
            self.problem(f"{path}{key}", f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return value

    def strings(self, table: Mapping[str, Any], key: str, path: str, *, one_ok: bool = False) -> list[str]:
        """A list of strings (or one string when ``one_ok``); anything else nested is a problem, not a crash."""
        if key not in table:
            return []
        value = table[key]
        if one_ok and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.problem(f"{path}{key}", f"expected a list of strings, got {type(value).__name__}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem(f"{path}{key}[{i}]", f"expected a string, got {type(item).__name__}")
        return out

    def name_problem(self, path: str, value: str, what: str) -> bool:
        """Names people type and compare (codes, states, triggers, roles): no empty, invisible, control or
        mixed-script look-alike characters (a Cyrillic 'а' inside a Latin word passes every eye)."""
        why = name_defect(value)
        if why:
            self.problem(path, f"{what} {value!r} {why}")
        return bool(why)

    def unknown_keys(self, table: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        allowed = set(allowed)
        for key in table:
            if key not in allowed:
                self.problem(f"{path}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


_TOP_KEYS = ("code", "version", "name_vi", "name_en", "level", "competent_kind", "initial", "legal_basis",
             "sla", "roles", "official_roles", "fields", "states", "transitions", "timers", "retention_years",
             "sector_code", "applicant_kind", "applicant", "online_initial", "catalogue_source", "unconfirmed",
             "effective_from", "effective_until")

_TOP_KEYS += ("sector",)  # lĩnh vực (optional): reports group procedures by it


def parse_definition(text: str, *, file: str | None = None, known_guards: Collection[str] | None = None,
                     require_official_roles: bool = False) -> ProcedureDefinition:
    """Parse and validate TOML text. ``known_guards`` (when given) is the set of guard names that exist.

    Transitions' ``roles`` are checked against ``official_roles`` whenever the definition declares it;
    ``require_official_roles`` (files: ``load_definition``, ``procflow validate``, the bundled procedures)
    also refuses a definition that names roles without declaring them. Definitions stored before the key
    existed still open."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise DefinitionError([Problem("", f"larger than {MAX_SOURCE_BYTES:,} bytes: not a procedure definition",
                                       file)], file=file)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([Problem("", f"not valid TOML: {exc}", file)], file=file) from exc
    except RecursionError as exc:  # arrays nested thousands deep
        raise DefinitionError([Problem("", "not valid TOML: nested too deeply", file)], file=file) from exc
    r = _Reader(file)
    r.unknown_keys(raw, _TOP_KEYS, "")
    code = r.get(raw, "code", "", str, default="")
    if "code" in raw and isinstance(raw["code"], str):
        r.name_problem("code", code, "procedure code")
    version = r.get(raw, "version", "", int, default=0)
    if isinstance(version, int) and "version" in raw and not 1 <= version <= MAX_VERSION:
        r.problem("version", f"must be between 1 and {MAX_VERSION}, got {version}")
        version = 0
    name_vi = r.get(raw, "name_vi", "", str, default="")
    name_en = r.get(raw, "name_en", "", str, required=False, default="")
    level = r.get(raw, "level", "", str, default="commune")
    if level not in LEVELS:
        r.problem("level", f"unknown level {level!r} (expected one of {', '.join(LEVELS)})")
    competent_kind = r.get(raw, "competent_kind", "", str, required=False, default=level)
    legal_basis = tuple(r.strings(raw, "legal_basis", ""))
    retention_years = r.get(raw, "retention_years", "", int, required=False, default=None)
    if retention_years is not None and not 0 <= retention_years <= MAX_RETENTION_YEARS:
        r.problem("retention_years", f"must be between 0 and {MAX_RETENTION_YEARS} (years the personal data of a "
                                     f"closed dossier is kept), got {retention_years}")
        retention_years = None
    provenance = _read_provenance(r, raw)
    sla = r.get(raw, "sla", "", dict, default={})
    r.unknown_keys(sla, ("working_days", "supplement_policy"), "sla.")
    sla_days = r.get(sla, "working_days", "sla.", int, default=0)
    if isinstance(sla_days, int) and not 0 <= sla_days <= MAX_WORKING_DAYS:
        r.problem("sla.working_days", f"must be between 0 (the same working day) and {MAX_WORKING_DAYS}, "
                                      f"got {sla_days}")
        sla_days = 0
    policy = r.get(sla, "supplement_policy", "sla.", str, required=False, default="restart")
    if policy not in ("restart", "pause"):
        r.problem("sla.supplement_policy", f"must be 'restart' or 'pause', got {policy!r}")
    roles = r.get(raw, "roles", "", dict, required=False, default={})
    for role, kind in roles.items():
        if role in BUILTIN_ROLES:
            r.problem(f"roles.{role}", f"{role!r} is built in and cannot be redefined")
        if not isinstance(kind, str):
            r.problem(f"roles.{role}", f"expected an agency kind (string), got {kind!r}")
        r.name_problem(f"roles.{role}", role, "role name")
    roles = {k: v for k, v in roles.items() if isinstance(v, str)}
    official_roles = tuple(r.strings(raw, "official_roles", ""))
    for i, role in enumerate(official_roles):
        r.name_problem(f"official_roles[{i}]", role, "role name")
    fields = _read_fields(r, raw)
    states = _read_states(r, raw, set(BUILTIN_ROLES) | set(roles))
    transitions = _read_transitions(r, raw, official_roles, "official_roles" in raw or not require_official_roles,
                                    check="official_roles" in raw)
    timers = _read_timers(r, raw, states, transitions)
    initial = r.get(raw, "initial", "", str, default="")
    sector_code = r.get(raw, "sector_code", "", str, required=False, default="")
    applicant_kind = r.get(raw, "applicant_kind", "", str, required=False, default="citizen")
    if applicant_kind not in APPLICANT_KINDS:
        r.problem("applicant_kind", f"unknown applicant kind {applicant_kind!r} "
                                    f"(expected one of {', '.join(APPLICANT_KINDS)})")
    applicant = _read_applicant(r, raw, fields)
    online_initial = r.get(raw, "online_initial", "", str, required=False, default=None)
    if online_initial is not None:
        by_name = {st.name: st for st in states}
        st = by_name.get(online_initial)
        if st is None:
            r.problem("online_initial", f"unknown state {online_initial!r} (states: {', '.join(sorted(by_name))})")
        elif st.portal_status != 1 or st.final:
            r.problem("online_initial", f"state {online_initial!r} must be a non-final state with portal_status = 1 "
                                        "(newly registered online, waiting for the desk)")
        elif online_initial == initial:
            r.problem("online_initial", "must differ from initial (the desk's own receipt starts at status 2)")
    defn = ProcedureDefinition(
        code=code, version=version, name_vi=name_vi, name_en=name_en, level=level,
        competent_kind=competent_kind, initial=initial, states=tuple(states),
        transitions=tuple(transitions), sla_days=sla_days, supplement_policy=policy,
        roles=dict(roles), official_roles=official_roles, fields=tuple(fields), legal_basis=legal_basis,
        timers=tuple(timers), source=text, file=file, retention_years=retention_years, sector_code=sector_code,
        applicant_kind=applicant_kind, applicant=applicant, online_initial=online_initial, **provenance,
        sector=r.get(raw, "sector", "", str, required=False, default=""),
    )
    _check_graph(r, defn, known_guards)
    if r.problems:
        raise DefinitionError(r.problems, file=file)
    return defn


def _read_provenance(r: _Reader, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``catalogue_source``, ``unconfirmed`` and the effective dates: where the definition comes from and
    for which days it is the law."""
    source = r.get(raw, "catalogue_source", "", str, required=False, default="")
    if "catalogue_source" in raw and isinstance(raw["catalogue_source"], str) and not source.strip():
        r.problem("catalogue_source", "must not be empty (a public page or document the code was checked against)")
    items = r.get(raw, "unconfirmed", "", list, required=False, default=[])
    unconfirmed: list[str] = []
    for i, item in enumerate(items):
        if item not in UNCONFIRMED_ITEMS:
            r.problem(f"unconfirmed[{i}]", f"unknown item {item!r} (expected one of {', '.join(UNCONFIRMED_ITEMS)})")
        elif item in unconfirmed:
            r.problem(f"unconfirmed[{i}]", f"{item!r} is listed twice")
        else:
            unconfirmed.append(item)
    bounds: dict[str, date | None] = {}
    for key in ("effective_from", "effective_until"):
        value = raw.get(key)
        if key in raw and (not isinstance(value, date) or isinstance(value, datetime)):
            r.problem(key, f"expected a date such as 2025-07-01 (TOML local date, no quotes), got {value!r}")
            value = None
        bounds[key] = value
    start, end = bounds["effective_from"], bounds["effective_until"]
    if start is not None and end is not None and end <= start:
        r.problem("effective_until", f"{end.isoformat()} is not after effective_from {start.isoformat()}")
    return {"catalogue_source": source, "unconfirmed": tuple(unconfirmed), "effective_from": start,
            "effective_until": end}
def _read_applicant(r: _Reader, raw: Mapping[str, Any], fields: list[FieldSpec]) -> dict[str, str]:
    table = r.get(raw, "applicant", "", dict, required=False, default={})
    r.unknown_keys(table, APPLICANT_ROLES, "applicant.")
    names = {f.name for f in fields}
    out: dict[str, str] = {}
    for role in APPLICANT_ROLES:
        name = r.get(table, role, "applicant.", str, required=False, default=None)
        if name is None:
            continue
        if name not in names:
            r.problem(f"applicant.{role}", f"unknown field {name!r} (fields: {', '.join(sorted(names)) or 'none'})")
            continue
        out[role] = name
    return out


def _read_fields(r: _Reader, raw: Mapping[str, Any]) -> list[FieldSpec]:
    out: list[FieldSpec] = []
    seen: set[str] = set()
    for i, f in enumerate(r.get(raw, "fields", "", list, required=False, default=[])):
        p = f"fields[{i}]."
        if not isinstance(f, dict):
            r.problem(p[:-1], "expected a table")
            continue
        r.unknown_keys(f, ("name", "type", "required", "personal", "label_vi", "label_en", "values"), p)
        name = r.get(f, "name", p, str, default="")
        if "name" in f and isinstance(f["name"], str):
            r.name_problem(f"{p}name", name, "field name")
        if name in seen:
            r.problem(f"{p}name", f"duplicate field {name!r}")
        seen.add(name)
        typ = r.get(f, "type", p, str, required=False, default="string")
        if typ not in FIELD_TYPES:
            r.problem(f"{p}type", f"unknown type {typ!r} (expected one of {', '.join(FIELD_TYPES)})")
        personal = r.get(f, "personal", p, (str, bool), required=False, default=None)
        if personal is True:
            personal = "other"
        elif personal is False:
            personal = None
        if personal is not None and personal not in PERSONAL_KINDS:
            r.problem(f"{p}personal", f"unknown personal-data kind {personal!r} "
                                       f"(expected one of {', '.join(PERSONAL_KINDS)})")
        values = tuple(r.strings(f, "values", p))
        if typ == "enum" and not values:
            r.problem(f"{p}values", "an enum field lists its allowed values (values = [\"a\", \"b\"])")
        elif values and typ != "enum":
            r.problem(f"{p}values", "only type = 'enum' takes values")
        out.append(FieldSpec(name=name, type=typ, required=r.get(f, "required", p, bool, required=False,
                                                                      default=False),
                             personal=personal, values=values,
                             label_vi=r.get(f, "label_vi", p, str, required=False, default=""),
                             label_en=r.get(f, "label_en", p, str, required=False, default="")))
    return out


def _read_states(r: _Reader, raw: Mapping[str, Any], roles: set[str]) -> list[Step]:
    out: list[Step] = []
    seen: set[str] = set()
    states_raw = r.get(raw, "states", "", list, default=[])
    if "states" in raw and not states_raw:
        r.problem("states", "a procedure needs at least one state")
    for i, s in enumerate(states_raw):
        p = f"states[{i}]."
        if not isinstance(s, dict):
            r.problem(p[:-1], "expected a table")
            continue
        r.unknown_keys(s, ("name", "portal_status", "holder", "clock", "final", "sla_days", "resume_policy",
                           "label_vi", "label_en"), p)
        name = r.get(s, "name", p, str, default="")
        if "name" in s and isinstance(s["name"], str):
            r.name_problem(f"{p}name", name, "state name")
        if name in seen:
            r.problem(f"{p}name", f"duplicate state {name!r}")
        seen.add(name)
        status = r.get(s, "portal_status", p, int, default=0)
        if "portal_status" not in s:
            r.problems[-1] = Problem(f"{p}portal_status",
                                     f"state {name!r} has no national-portal status mapping (1–10)", r.file)
        elif status not in PORTAL_STATUS:
            r.problem(f"{p}portal_status", f"must be a national-portal status code 1–10, got {status!r}")
        holder = r.get(s, "holder", p, str, required=False, default="competent")
        if holder not in roles:
            r.problem(f"{p}holder", f"unknown role {holder!r} (known: {', '.join(sorted(roles))})"
                                    + did_you_mean(holder, roles))
        clock = r.get(s, "clock", p, str, required=False, default="running")
        if clock not in ClockMode.__members__.values():
            r.problem(f"{p}clock", f"unknown clock mode {clock!r} "
                                   f"(expected one of {', '.join(m.value for m in ClockMode)})")
            clock = "running"
        sla_days = r.get(s, "sla_days", p, int, required=False, default=None)
        if sla_days is not None and not 0 <= sla_days <= MAX_WORKING_DAYS:
            r.problem(f"{p}sla_days", f"must be between 0 and {MAX_WORKING_DAYS}, got {sla_days}")
            sla_days = None
        resume_policy = r.get(s, "resume_policy", p, str, required=False, default=None)
        if resume_policy not in (None, "pause", "restart"):
            r.problem(f"{p}resume_policy", f"must be 'pause' or 'restart', got {resume_policy!r}")
        out.append(Step(name=name, portal_status=status, holder=holder, clock=ClockMode(clock),
                        resume_policy=resume_policy,
                        final=r.get(s, "final", p, bool, required=False, default=False), sla_days=sla_days,
                        label_vi=r.get(s, "label_vi", p, str, required=False, default=""),
                        label_en=r.get(s, "label_en", p, str, required=False, default="")))
    return out


def _read_transitions(r: _Reader, raw: Mapping[str, Any], official_roles: tuple[str, ...],
                      declared: bool, *, check: bool) -> list[Transition]:
    out: list[Transition] = []
    known_roles = set(official_roles)
    said = False
    for i, t in enumerate(r.get(raw, "transitions", "", list, default=[])):
        p = f"transitions[{i}]."
        if not isinstance(t, dict):
            r.problem(p[:-1], "expected a table")
            continue
        r.unknown_keys(t, ("trigger", "source", "dest", "roles", "level", "guards", "label_vi", "label_en"), p)
        if "source" not in t:
            r.problem(f"{p}source", "missing required key")
        source = r.strings(t, "source", p, one_ok=True)
        level = r.get(t, "level", p, str, required=False, default=None)
        if level is not None and level not in LEVELS:
            r.problem(f"{p}level", f"unknown level {level!r} (expected one of {', '.join(LEVELS)})")
        roles = r.strings(t, "roles", p)
        for j, role in enumerate(roles):
            if not declared:
                if not said:  # say it once
                    r.problem(f"{p}roles[{j}]", f"role {role!r} is not declared: list the officials' roles in "
                                                "official_roles = [...] at the top of the file")
                said = True
            elif check and role not in known_roles:
                r.problem(f"{p}roles[{j}]", f"unknown official role {role!r} (official_roles: "
                                            f"{', '.join(official_roles) or 'none'})" + did_you_mean(role, known_roles))
        out.append(Transition(
            trigger=r.get(t, "trigger", p, str, default=""),
            source=tuple(source),
            dest=r.get(t, "dest", p, str, default=""),
            roles=tuple(roles),
            level=level,
            guards=tuple(r.strings(t, "guards", p)),
            label_vi=r.get(t, "label_vi", p, str, required=False, default=""),
            label_en=r.get(t, "label_en", p, str, required=False, default=""),
        ))
    return out


_TIMER_KEYS = ("name", "anchor", "states", "working_days", "calendar_days", "hours", "at", "action", "trigger",
               "notify", "reassign_to", "extension_working_days", "text_vi", "text_en")
_OFFSETS = ("working_days", "calendar_days", "hours")


def _read_timers(r: _Reader, raw: Mapping[str, Any], states: list[Step],
                 transitions: list[Transition]) -> list[TimerSpec]:
    out: list[TimerSpec] = []
    seen: set[str] = set()
    names = [s.name for s in states]
    finals = {s.name for s in states if s.final}
    allowed: dict[str, set[str]] = {}
    for t in transitions:
        for src in t.source:
            allowed.setdefault(src, set()).add(t.trigger)
    for i, t in enumerate(r.get(raw, "timers", "", list, required=False, default=[])):
        p = f"timers[{i}]."
        if not isinstance(t, dict):
            r.problem(p[:-1], "expected a table")
            continue
        r.unknown_keys(t, _TIMER_KEYS, p)
        name = r.get(t, "name", p, str, default="")
        if name in seen:
            r.problem(f"{p}name", f"duplicate timer {name!r}")
        elif name and (not name.isascii() or not name.isidentifier()):
            r.problem(f"{p}name", f"{name!r} is not a valid timer name (letters, digits and underscores)")
        seen.add(name)
        anchor = _enum(r, t, "anchor", p, TimerAnchor, TimerAnchor.STATE)
        action = _enum(r, t, "action", p, TimerAction, TimerAction.NOTIFY)
        listed = r.strings(t, "states", p, one_ok=True)
        for j, s in enumerate(listed):
            if s not in names:
                r.problem(f"{p}states[{j}]", f"unknown state {s!r}" + did_you_mean(s, names))
            elif s in finals:
                r.problem(f"{p}states[{j}]", f"{s!r} is a final state: a finished dossier has no timers")
        if anchor is TimerAnchor.STATE and not listed and "states" not in t:
            r.problem(f"{p}states", "a timer with anchor = 'state' names the state(s) it counts from")
        live = tuple(listed) if listed else tuple(n for n in names if n not in finals)
        offsets = {k: r.get(t, k, p, int if k != "hours" else (int, float), required=False) for k in _OFFSETS
                   if k in t}
        at = r.get(t, "at", p, datetime, required=False)
        if anchor is TimerAnchor.ABSOLUTE:
            if at is None and "at" not in t:
                r.problem(f"{p}at", "a timer with anchor = 'absolute' needs at = <date-time with UTC offset>")
            elif at is not None and at.utcoffset() is None:
                r.problem(f"{p}at", "needs a UTC offset (e.g. 2026-12-31T17:00:00+07:00)")
            elif at is not None and not 2000 <= at.year <= 2100:
                r.problem(f"{p}at", f"must fall between the years 2000 and 2100, got {at.isoformat()}")
            for k in offsets:
                r.problem(f"{p}{k}", "an absolute timer has no offset; it fires at 'at'")
        else:
            if "at" in t:
                r.problem(f"{p}at", f"only anchor = 'absolute' takes 'at' (this timer counts from {anchor.value})")
            if len(offsets) > 1:
                r.problem(f"{p}{sorted(offsets)[1]}", f"give one of {', '.join(_OFFSETS)}, not several")
            elif not offsets and action is not TimerAction.OVERDUE:
                r.problem(p[:-1], f"needs an offset: one of {', '.join(_OFFSETS)}")
            limits = {"working_days": MAX_WORKING_DAYS, "calendar_days": MAX_CALENDAR_DAYS, "hours": MAX_HOURS}
            for k, v in list(offsets.items()):
                if v is None:
                    continue
                if not math.isfinite(v) or abs(v) > limits[k]:
                    r.problem(f"{p}{k}", f"must be a finite number of at most {limits[k]:,} (ten years), got {v!r}")
                    offsets[k] = None
                elif anchor is not TimerAnchor.DUE and v <= 0:
                    r.problem(f"{p}{k}", f"must be > 0: the timer fires after the dossier entered its "
                                         f"{anchor.value} (only anchor = 'due' counts backwards)")
                elif action is TimerAction.OVERDUE and v < 0:
                    r.problem(f"{p}{k}", "an overdue timer fires once the due date has passed: use >= 0")
        if action is TimerAction.OVERDUE and anchor is not TimerAnchor.DUE:
            r.problem(f"{p}anchor", "action = 'overdue' counts from the due date: use anchor = 'due'")
        trigger = r.get(t, "trigger", p, str, required=False)
        if action is TimerAction.FIRE:
            known = {x.trigger for x in transitions}
            if trigger is None and "trigger" not in t:
                r.problem(f"{p}trigger", "action = 'fire' names the trigger to fire")
            elif trigger is not None and trigger not in known:
                r.problem(f"{p}trigger", f"unknown trigger {trigger!r}" + did_you_mean(trigger, known))
            elif trigger is not None:
                bad = [s for s in live if s in names and s not in finals and trigger not in allowed.get(s, set())]
                if bad:
                    r.problem(f"{p}trigger", f"trigger {trigger!r} cannot be fired from state(s) "
                                             f"{', '.join(map(repr, bad))}, where this timer is live (narrow "
                                             "'states' or add the transition)")
        elif "trigger" in t:
            r.problem(f"{p}trigger", "only action = 'fire' fires a trigger")
        notify = tuple(r.strings(t, "notify", p, one_ok=True))
        for j, who in enumerate(notify):
            if who not in TIMER_RECIPIENTS:
                r.problem(f"{p}notify" + (f"[{j}]" if isinstance(t.get("notify"), list) else ""),
                          f"unknown recipient {who!r} (expected one of {', '.join(TIMER_RECIPIENTS)})")
        if action is TimerAction.NOTIFY and not notify and "notify" not in t:
            r.problem(f"{p}notify", "action = 'notify' names who is notified "
                                    f"({', '.join(TIMER_RECIPIENTS)})")
        notify = notify or {TimerAction.OVERDUE: ("citizen",), TimerAction.ESCALATE: ("head",)}.get(action, ())
        reassign = r.get(t, "reassign_to", p, str, required=False)
        if reassign is not None and action is not TimerAction.ESCALATE:
            r.problem(f"{p}reassign_to", "only action = 'escalate' reassigns")
        extension = r.get(t, "extension_working_days", p, int, required=False, default=1)
        if "extension_working_days" in t and action is not TimerAction.OVERDUE:
            r.problem(f"{p}extension_working_days", "only action = 'overdue' proposes a new date")
        elif isinstance(extension, int) and not 1 <= extension <= MAX_WORKING_DAYS:
            r.problem(f"{p}extension_working_days", f"must be between 1 and {MAX_WORKING_DAYS}")
            extension = 1
        hours = offsets.get("hours")
        out.append(TimerSpec(
            name=name, anchor=anchor, action=action, states=live, working_days=offsets.get("working_days"),
            calendar_days=offsets.get("calendar_days"), hours=None if hours is None else float(hours), at=at,
            trigger=trigger, notify=notify, reassign_to=reassign, extension_working_days=extension,
            text_vi=r.get(t, "text_vi", p, str, required=False, default=""),
            text_en=r.get(t, "text_en", p, str, required=False, default="")))
    return out


def _enum(r: _Reader, table: Mapping[str, Any], key: str, p: str, kind: type[enum.StrEnum],
          default: Any) -> Any:
    value = r.get(table, key, p, str, default=None)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        r.problem(f"{p}{key}", f"unknown {key} {value!r} (expected one of {', '.join(m.value for m in kind)})")
        return default


def _check_graph(r: _Reader, d: ProcedureDefinition, known_guards: Collection[str] | None) -> None:
    """Every state known, reachable and able to finish — in time linear in states + transitions (a 20,000-state
    definition is checked as fast as it is read)."""
    names = {s.name for s in d.states}
    if d.initial not in names:
        r.problem("initial", f"unknown state {d.initial!r}" + did_you_mean(d.initial, names))
    seen_pairs: dict[tuple[str, str], int] = {}
    outgoing: dict[str, list[Transition]] = {s: [] for s in names}
    for i, t in enumerate(d.transitions):
        if not t.trigger.isidentifier() or not t.trigger.isascii():
            r.problem(f"transitions[{i}].trigger", f"{t.trigger!r} is not a valid trigger name "
                                                   "(ASCII letters, digits and underscores)")
        for j, src in enumerate(t.source):
            if src not in names:
                r.problem(f"transitions[{i}].source[{j}]", f"unknown state {src!r}" + did_you_mean(src, names))
            else:
                outgoing[src].append(t)
            pair = (t.trigger, src)
            if pair in seen_pairs:
                r.problem(f"transitions[{i}].trigger", f"duplicate trigger {t.trigger!r} from state {src!r} "
                                                       f"(also transitions[{seen_pairs[pair]}])")
            seen_pairs[pair] = i
        if not t.source:
            r.problem(f"transitions[{i}].source", "needs at least one source state")
        if t.dest not in names:
            r.problem(f"transitions[{i}].dest", f"unknown state {t.dest!r}" + did_you_mean(t.dest, names))
        for j, g in enumerate(t.guards):
            if known_guards is not None and g not in known_guards:
                r.problem(f"transitions[{i}].guards[{j}]", f"unknown guard {g!r} (known: "
                                                           f"{', '.join(sorted(known_guards)) or 'none'})")
    for i, s in enumerate(d.states):
        if s.final and outgoing.get(s.name):
            r.problem(f"states[{i}].final", f"final state {s.name!r} has outgoing transitions")
        if not s.final and not outgoing.get(s.name):
            r.problem(f"states[{i}]", f"state {s.name!r} is a dead end but not marked final = true")
    if d.initial in names:
        roots = [d.initial] + ([d.online_initial] if d.online_initial in names else [])
        reached = set(roots)
        frontier = list(roots)
        while frontier:
            cur = frontier.pop()
            for t in outgoing[cur]:
                if t.dest not in reached and t.dest in names:
                    reached.add(t.dest)
                    frontier.append(t.dest)
        for i, s in enumerate(d.states):
            if s.name not in reached:
                r.problem(f"states[{i}]", f"state {s.name!r} is unreachable from the initial state "
                                          f"{d.initial!r}")
    if not any(s.final for s in d.states):
        r.problem("states", "no final state: every dossier must be able to finish")


def load_definition(path: str | Path, *, known_guards: Collection[str] | None = None) -> ProcedureDefinition:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"cannot read {path}: {exc}", file=str(path)) from exc
    frozen = re.search(r"_v\d+\.toml$", path.name) is not None  # a released version kept byte for byte
    return parse_definition(text, file=str(path), known_guards=known_guards, require_official_roles=not frozen)


def bundled_definitions() -> list[ProcedureDefinition]:
    """The procedures shipped with procflow (package data under ``procflow/procedures``)."""
    out = []
    for entry in sorted(resources.files("procflow").joinpath("procedures").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            # a frozen earlier version (``*_v1.toml``) stays byte for byte as released: its content hash is
            # registered in stores, so it is not edited to declare official_roles
            frozen = re.search(r"_v\d+\.toml$", entry.name) is not None
            out.append(parse_definition(entry.read_text(encoding="utf-8"), file=f"procflow/procedures/{entry.name}",
                                        require_official_roles=not frozen))
    return out
