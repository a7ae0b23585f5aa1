"""Hypothesis strategies for procflow: procedure definitions, dossiers, filings and trigger sequences.

One module, as attrs keeps its strategies, so property tests across procflow (and users' tests of their own
procedures) draw from the same generators. Needs ``hypothesis`` (the ``test`` extra).

``procedure_tomls()`` draws TOML text that ``parse_definition`` accepts — every state reachable, every
non-final state with a way out, final states without one, portal statuses mapped — with the variety that
finds bugs: citizen and excluded clocks, pause and restart policies, per-step limits, custom roles held by
sector agencies, role- and level-restricted transitions, guards. ``office_seconds`` is an independent,
deliberately simple count of office time, to check the calendar's arithmetic against.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st

from procflow.calendar import WorkingCalendar
from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import bundled_definitions, parse_definition
from procflow.dossier import Dossier
from procflow.jurisdiction import Registry
from procflow.sla import SlaClock
from procflow.testing.clock import MONDAY

__all__ = [
    "Filing",
    "bundled",
    "dossier_data",
    "dossiers",
    "filings",
    "office_seconds",
    "procedure_definitions",
    "procedure_tomls",
    "register_profiles",
    "trigger_sequences",
    "walks",
]

SECTOR_KINDS = ("police", "social_insurance", "tax")
_STATUS_BY_CLOCK = {"running": (2, 4), "citizen": (5, 6), "excluded": (4,), "stopped": (9, 3, 7, 8, 10)}


def register_profiles() -> None:
    """``procflow-ci``: 200 examples of up to 50 steps, no deadline (CI machines stall); ``procflow-dev``:
    a quick pass. Select with ``--hypothesis-profile`` or ``settings.load_profile``."""
    settings.register_profile("procflow-ci", max_examples=200, stateful_step_count=50, deadline=None,
                              print_blob=True)
    settings.register_profile("procflow-dev", max_examples=30, stateful_step_count=25, deadline=None)


@functools.cache
def bundled() -> tuple[ProcedureDefinition, ...]:
    """The shipped procedures, parsed once per process (strategies and machines draw from them often)."""
    return tuple(bundled_definitions())


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


@st.composite
def procedure_tomls(draw: st.DrawFn, *, code: str | None = None, max_states: int = 7) -> str:
    """TOML text of a valid procedure definition (it parses; the engine registers it)."""
    n = draw(st.integers(2, max_states))
    n_final = draw(st.integers(1, max(1, n - 1)))
    names = [f"s{i}" for i in range(n)]
    finals = set(names[n - n_final:])
    custom = draw(st.sampled_from((None, *SECTOR_KINDS)))
    holders = ["receiving", "competent", "location"] + (["sector"] if custom else [])
    lines = [f'code = "{code or "T." + str(draw(st.integers(100, 999)))}"', "version = 1",
             'name_vi = "Thủ tục sinh ngẫu nhiên"', 'name_en = "Generated procedure"',
             f'level = "{draw(st.sampled_from(("commune", "province")))}"',
             f'competent_kind = "{draw(st.sampled_from(("commune", "province", *SECTOR_KINDS)))}"',
             'legal_basis = ["hypothesis"]', 'initial = "s0"', "",
             "[sla]", f"working_days = {draw(st.integers(0, 12))}",
             f'supplement_policy = "{draw(st.sampled_from(("restart", "pause")))}"', ""]
    if custom:
        lines += ["[roles]", f'sector = "{custom}"', ""]
    lines += ['[[fields]]', 'name = "applicant"', "required = true", 'personal = "name"', "",
              '[[fields]]', 'name = "documents_complete"', 'type = "bool"', ""]
    for i, name in enumerate(names):
        if name in finals:
            clock = "stopped"
        elif i == 0:
            clock = draw(st.sampled_from(("running", "running", "citizen")))
        else:
            clock = draw(st.sampled_from(("running", "running", "citizen", "excluded", "stopped")))
        lines += ["[[states]]", f'name = "{name}"',
                  f"portal_status = {draw(st.sampled_from(_STATUS_BY_CLOCK[clock]))}",
                  f'holder = "{draw(st.sampled_from(holders))}"', f'clock = "{clock}"']
        if name in finals:
            lines.append("final = true")
        if clock in ("citizen", "excluded") and draw(st.booleans()):
            lines.append(f'resume_policy = "{draw(st.sampled_from(("pause", "restart")))}"')
        if clock != "stopped" and draw(st.integers(0, 3)) == 0:
            lines.append(f"sla_days = {draw(st.integers(0, 5))}")
        lines.append("")
    open_states = [s for s in names if s not in finals]
    edges: list[tuple[list[str], str]] = []
    for i in range(1, n):  # a spanning tree from s0: everything reachable
        sources = [s for s in names[:i] if s not in finals]
        edges.append(([draw(st.sampled_from(sources))], names[i]))
    for s in open_states:
        if not any(s in src for src, _ in edges) or draw(st.integers(0, 2)) == 0:
            edges.append(([s], draw(st.sampled_from(names))))
    if len(open_states) > 1 and draw(st.booleans()):  # one trigger from several states (withdraw-like)
        edges.append((draw(st.lists(st.sampled_from(open_states), min_size=2, unique=True)),
                      draw(st.sampled_from(sorted(finals)))))
    for k, (sources, dest) in enumerate(edges):
        lines += ["[[transitions]]", f'trigger = "t{k}"', f"source = {_toml_list(sources)}", f'dest = "{dest}"']
        roles = draw(st.sampled_from(((), ("clerk",), ("officer",), ("clerk", "officer"))))
        if roles:
            lines.append(f"roles = {_toml_list(roles)}")
        if draw(st.integers(0, 3)) == 0:
            lines.append('guards = ["documents_complete"]')
        if draw(st.integers(0, 6)) == 0:
            lines.append(f'level = "{draw(st.sampled_from(("commune", "province")))}"')
        lines.append("")
    return "\n".join(lines)


def procedure_definitions(**kwargs: Any) -> st.SearchStrategy[ProcedureDefinition]:
    """Parsed ``procedure_tomls()``."""
    return procedure_tomls(**kwargs).map(lambda text: parse_definition(text, file="<hypothesis>"))


def dossier_data(defn: ProcedureDefinition, *, required_only: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Values for the fields a procedure declares (required ones always; others sometimes)."""
    def value(kind: str) -> st.SearchStrategy[Any]:
        return {
            "int": st.integers(0, 10**9), "decimal": st.floats(0, 10**6, allow_nan=False, allow_infinity=False),
            "bool": st.booleans(), "date": st.dates(date(2000, 1, 1), date(2030, 12, 31)).map(date.isoformat),
            "datetime": st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(datetime.isoformat),
        }.get(kind, st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20))

    fields = [f for f in defn.fields if f.name not in ("documents_complete", "obligation_paid")]
    required = {f.name: value(f.type) for f in fields if f.required}
    optional = {} if required_only else {f.name: value(f.type) for f in fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


@attrs.frozen
class Filing:
    """What ``filings()`` draws: the arguments of one ``Engine.file`` call."""

    procedure: str
    filed_at: str
    location: str
    data: Mapping[str, Any]


@st.composite
def filings(draw: st.DrawFn, defn: ProcedureDefinition, registry: Registry, *, province: str = "92",
            location_independent: float = 0.2) -> Filing:
    """Where and what a citizen files: a commune of ``province``, sometimes about another commune."""
    communes = registry.communes_of(province)
    location = draw(st.sampled_from(communes)).code
    filed_at = draw(st.sampled_from(communes)).code if draw(st.floats(0, 1)) < location_independent else location
    return Filing(defn.code, filed_at, location, draw(dossier_data(defn)))


def trigger_sequences(defn: ProcedureDefinition, *, max_size: int = 50) -> st.SearchStrategy[list[str]]:
    """Any of the procedure's triggers, and some it does not have: legal and illegal orders alike."""
    names = [*sorted({t.trigger for t in defn.transitions}), "no_such_trigger"]
    return st.lists(st.sampled_from(names), max_size=max_size)


@st.composite
def walks(draw: st.DrawFn, defn: ProcedureDefinition, *, max_size: int = 30) -> list[str]:
    """A legal path of triggers from the initial state (stops at a final state)."""
    state, path = defn.initial, []
    for _ in range(max_size):
        options = [t for t in defn.transitions if state in t.source]
        if not options:
            break
        t = draw(st.sampled_from(options))
        path.append(t.trigger)
        state = t.dest
    return path


@st.composite
def dossiers(draw: st.DrawFn, registry: Registry, *, calendar: WorkingCalendar | None = None) -> Dossier:
    """A snapshot as a store holds it (any bundled procedure, any of its states, a consistent SLA clock),
    for store round trips and serialisation properties; not the product of an engine run."""
    cal = calendar or WorkingCalendar()
    defn = draw(st.sampled_from(bundled()))
    step = draw(st.sampled_from(defn.states))
    communes = registry.communes_of("92")
    location = draw(st.sampled_from(communes)).code
    receiving = draw(st.sampled_from(communes)).code
    agencies = {"receiving": receiving, "location": location,
                "competent": registry.resolve(defn.competent_kind, location).code}
    agencies.update({role: registry.resolve(kind, location).code for role, kind in defn.roles.items()})
    received = MONDAY + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
    updated = received + timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)))
    sla = SlaClock.start(cal, received, defn.sla_days)
    if step.clock.value == "stopped":
        sla = sla.stop(updated)
    elif step.clock.value != "running":
        sla = sla.pause(updated)
    return Dossier(id=f"{receiving}-{received:%y%m%d}-{draw(st.integers(1, 9999)):04d}", procedure=defn.code,
                   definition_version=defn.version, state=step.name, status=step.portal_status,
                   custodian=agencies[step.holder], agencies=agencies,
                   location_independent=receiving != location, received_at=received, updated_at=updated, sla=sla,
                   data=draw(dossier_data(defn)), revision=draw(st.integers(1, 40)))


def office_seconds(cal: WorkingCalendar, a: datetime, b: datetime) -> float:
    """Office time between two moments, counted day by day over the office sessions of working days.

    Deliberately naive (no tables, no microsecond arithmetic): an oracle for the calendar's own counting.
    """
    a, b = a.astimezone(cal.tz), b.astimezone(cal.tz)
    if b <= a:
        return 0.0
    total = 0.0
    day = a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            for start, end in cal.office_hours.sessions:
                s = max(a, datetime.combine(day, start, cal.tz))
                e = min(b, datetime.combine(day, end, cal.tz))
                if e > s:
                    total += (e - s).total_seconds()
        day += timedelta(days=1)
    return total
