"""Bundle definitions (TOML under ``procedures/bundles``): member procedures and which must finish first."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

import attrs

from procflow.errors import DefinitionError, Problem

__all__ = ["BundleDefinition", "BundleMember", "bundled_bundle_definitions", "check_members", "is_bundle_text",
           "parse_bundle"]


@attrs.frozen
class BundleMember:
    name: str
    procedure: str
    after: tuple[str, ...] = ()


@attrs.frozen
class BundleDefinition:
    code: str
    version: int
    name_vi: str
    name_en: str
    members: tuple[BundleMember, ...]
    sla_days: int
    supplement_policy: str = "restart"
    return_trigger: str = "return_result"
    legal_basis: tuple[str, ...] = ()
    source: str = ""
    file: str | None = None
    # a member's limit inside the bundle, overriding its standalone one (``[sla.members]``, e.g. permanent
    # residence: 7 working days alone, 2 inside the child-under-6 bundle — Decree 63/2024/ND-CP)
    member_limits: Mapping[str, int] = attrs.field(factory=dict)
    # the bundle's longer limit once a member enters one of ``verification_states`` ("member.state")
    verification_working_days: int | None = None
    verification_states: tuple[str, ...] = ()
    catalogue_source: str = ""
    unconfirmed: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.code, self.version)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def name(self) -> str:
        return f"{self.name_en} ({self.name_vi})" if self.name_en else self.name_vi

    @property
    def roots(self) -> tuple[BundleMember, ...]:
        return tuple(m for m in self.members if not m.after)


_KEYS = ("code", "version", "name_vi", "name_en", "legal_basis", "sla", "members", "return_trigger",
         "catalogue_source", "unconfirmed")
_SLA_KEYS = ("working_days", "supplement_policy", "members", "verification_working_days", "verification_states")
MAX_LIMIT = 365  # working days: anything longer is a typo, not a time limit


def parse_bundle(text: str, *, file: str | None = None) -> BundleDefinition:
    """Parse and check a bundle TOML; every problem is reported with its key path, as for procedures."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([Problem("", f"not valid TOML: {exc}", file)], file=file) from exc
    except RecursionError as exc:  # arrays nested thousands deep
        raise DefinitionError([Problem("", "not valid TOML: nested too deeply", file)], file=file) from exc
    problems: list[Problem] = []

    def need(table: Mapping[str, Any], key: str, path: str, typ: type, default: Any) -> Any:
        value = table.get(key, default)
        if key not in table and default is None:
            problems.append(Problem(f"{path}{key}", "missing required key", file))
        elif not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            problems.append(Problem(f"{path}{key}", f"expected {typ.__name__}, got {value!r}", file))
            return default
        return value

    problems += [Problem(k, f"unknown key (allowed: {', '.join(_KEYS)})", file) for k in raw if k not in _KEYS]
    sla = need(raw, "sla", "", dict, None) or {}
    policy = need(sla, "supplement_policy", "sla.", str, "restart")
    if policy not in ("restart", "pause"):
        problems.append(Problem("sla.supplement_policy", f"must be 'restart' or 'pause', got {policy!r}", file))
    members: list[BundleMember] = []
    for i, m in enumerate(need(raw, "members", "", list, None) or []):
        p = f"members[{i}]."
        if not isinstance(m, dict):
            problems.append(Problem(p[:-1], "expected a table", file))
            continue
        name = need(m, "name", p, str, None) or ""
        after = tuple(need(m, "after", p, list, []))
        known = {x.name for x in members}
        if name in known:
            problems.append(Problem(f"{p}name", f"duplicate member {name!r}", file))
        for j, a in enumerate(after):
            if a not in known:  # only earlier members: the order of the file is a topological order
                problems.append(Problem(f"{p}after[{j}]", f"{a!r} is not a member listed before {name!r}", file))
        members.append(BundleMember(name=name, procedure=need(m, "procedure", p, str, None) or "", after=after))
    if members and not any(not m.after for m in members):
        problems.append(Problem("members", "no member can start: every member waits for another", file))
    if not members and "members" in raw:
        problems.append(Problem("members", "a bundle needs at least one member", file))
    days = need(sla, "working_days", "sla.", int, None)
    problems += [Problem(f"sla.{k}", f"unknown key (allowed: {', '.join(_SLA_KEYS)})", file)
                 for k in sla if k not in _SLA_KEYS]
    if isinstance(days, int) and not 0 <= days <= MAX_LIMIT:
        problems.append(Problem("sla.working_days", f"must be 0..{MAX_LIMIT} working days, got {days}", file))
    names = {m.name for m in members}
    limits: dict[str, int] = {}
    for name, value in (need(sla, "members", "sla.", dict, {}) or {}).items():
        path = f"sla.members.{name}"
        if name not in names:
            problems.append(Problem(path, f"no member {name!r} in this bundle (members: "
                                          f"{', '.join(sorted(names)) or 'none'})", file))
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_LIMIT:
            problems.append(Problem(path, f"a member's limit inside the bundle is 0..{MAX_LIMIT} working days, "
                                          f"got {value!r}", file))
        else:
            limits[name] = value
    verify_days = need(sla, "verification_working_days", "sla.", int, 0) if "verification_working_days" in sla \
        else None
    verify_states = tuple(need(sla, "verification_states", "sla.", list, []))
    if verify_days is not None and isinstance(days, int) and not days <= verify_days <= MAX_LIMIT:
        problems.append(Problem("sla.verification_working_days", f"must be between sla.working_days ({days}) and "
                                                                 f"{MAX_LIMIT}, got {verify_days}", file))
    if (verify_days is None) != (not verify_states):
        problems.append(Problem("sla.verification_states" if verify_days is not None else
                                "sla.verification_working_days",
                                "give verification_working_days and verification_states together", file))
    for j, ref in enumerate(verify_states):
        member, _, state = ref.partition(".") if isinstance(ref, str) else ("", "", "")
        if not state or member not in names:
            problems.append(Problem(f"sla.verification_states[{j}]", f"expected 'member.state' naming a member of "
                                                                    f"this bundle, got {ref!r}", file))
    unconfirmed = need(raw, "unconfirmed", "", list, [])
    from procflow.definition.model import UNCONFIRMED_ITEMS

    problems += [Problem(f"unconfirmed[{i}]", f"unknown item {x!r} (expected one of {', '.join(UNCONFIRMED_ITEMS)})",
                         file) for i, x in enumerate(unconfirmed) if x not in UNCONFIRMED_ITEMS]
    bdef = BundleDefinition(
        code=need(raw, "code", "", str, None) or "", version=need(raw, "version", "", int, None) or 0,
        name_vi=need(raw, "name_vi", "", str, None) or "", name_en=need(raw, "name_en", "", str, ""),
        members=tuple(members), sla_days=days if isinstance(days, int) else 0, supplement_policy=policy,
        return_trigger=need(raw, "return_trigger", "", str, "return_result"),
        legal_basis=tuple(need(raw, "legal_basis", "", list, [])), source=text, file=file, member_limits=limits,
        verification_working_days=verify_days if isinstance(verify_days, int) else None,
        verification_states=verify_states, catalogue_source=need(raw, "catalogue_source", "", str, ""),
        unconfirmed=tuple(str(x) for x in unconfirmed))
    if problems:
        raise DefinitionError(problems, file=file)
    return bdef


def is_bundle_text(text: str) -> bool:
    """Whether TOML text is a bundle definition (it lists ``[[members]]``) rather than a procedure."""
    try:
        return isinstance(tomllib.loads(text).get("members"), list)
    except (tomllib.TOMLDecodeError, RecursionError):
        return False


def check_members(bdef: BundleDefinition, procedures: Mapping[str, Any]) -> list[Problem]:
    """Problems with the members against the known procedures (code → definition): a member procedure that
    does not exist, a verification state its procedure does not have."""
    problems = [Problem(f"members[{i}].procedure", f"procedure {m.procedure!r} is not registered", bdef.file)
                for i, m in enumerate(bdef.members) if m.procedure not in procedures]
    by_name = {m.name: m for m in bdef.members}
    for j, ref in enumerate(bdef.verification_states):
        member, _, state = ref.partition(".")
        found = procedures.get(by_name[member].procedure) if member in by_name else None
        if found is not None and state not in {s.name for s in found.states}:
            problems.append(Problem(f"sla.verification_states[{j}]", f"procedure {found.code!r} has no state "
                                                                     f"{state!r}", bdef.file))
    return problems


def bundled_bundle_definitions() -> list[BundleDefinition]:
    """The bundles shipped with procflow (package data under ``procflow/procedures/bundles``)."""
    folder = resources.files("procflow").joinpath("procedures", "bundles")
    return [parse_bundle(e.read_text(encoding="utf-8"), file=f"procflow/procedures/bundles/{e.name}")
            for e in sorted(folder.iterdir(), key=lambda e: e.name) if e.name.endswith(".toml")]
