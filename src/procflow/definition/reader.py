"""Reading a definition's TOML into the frozen model, collecting every problem with its key path.

Separate from the model so that code which only holds definitions (the engine, the store, the forms) does
not carry the reader's TOML and checking machinery.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from procflow.definition.checks import _Reader, did_you_mean
from procflow.definition.graph import _check_graph
from procflow.definition.model import (
    APPLICANT_KINDS,
    APPLICANT_ROLES,
    BUILTIN_ROLES,
    FIELD_TYPES,
    LEVELS,
    MAX_RETENTION_YEARS,
    MAX_SOURCE_BYTES,
    MAX_VERSION,
    MAX_WORKING_DAYS,
    PERSONAL_KINDS,
    UNCONFIRMED_ITEMS,
    ClockMode,
    FieldSpec,
    ProcedureDefinition,
    Step,
    Transition,
)
from procflow.definition.statuses import PORTAL_STATUS
from procflow.definition.timers import _read_timers
from procflow.errors import DefinitionError, Problem

__all__ = [
    "bundled_definitions",
    "load_definition",
    "parse_definition",
]


_TOP_KEYS: tuple[str, ...]  # grows below (sector); every key a definition may have
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

