"""mkdocs hooks: generate the reference parts of the docs from the code, so they cannot drift from it.

A page asks for generated content with a marker comment on a line of its own:

``<!-- procflow:toml-reference -->``
    every key of a procedure definition, table by table: type, required or default, allowed values and
    the attribute it lands in. Keys, required-ness and defaults are *probed from the loader itself*
    (``procflow.definition.reader.parse_definition``) on a minimal definition; types come from the attrs classes
    ``ProcedureDefinition``, ``Step``, ``Transition`` and ``FieldSpec``; allowed values from ``LEVELS``,
    ``FIELD_TYPES``, ``PERSONAL_KINDS``, ``ClockMode``, ``PORTAL_STATUS`` and the built-in guards.
``<!-- procflow:validation-errors -->``
    broken snippets run through the loader, ``procflow validate`` and ``Engine.register``, with the real
    messages they produce.
``<!-- procflow:diagram FILE -->``
    the mermaid diagram ``procflow diagram`` prints for a bundled procedure (``FILE`` without ``.toml``).
``<!-- procflow:portal-status -->``, ``<!-- procflow:status-rules -->``, ``<!-- procflow:clock-modes -->``,
``<!-- procflow:masking -->``
    the national-portal status codes and what each means for a state, the clock modes, and how each
    personal-data kind is masked.
``<!-- procflow:hookspecs -->``, ``<!-- procflow:testing-api -->``
    the adapter hooks (``procflow.hookspecs``) and the ``procflow.testing`` contents, when they exist.
``<!-- procflow:fixtures -->``, ``<!-- procflow:story-api -->``, ``<!-- procflow:strategies -->``
    every pytest fixture of the plugin (scope, what it uses, its docstring), the ``Story`` methods and the
    hypothesis strategies, from the code.
``<!-- procflow:conformance -->``
    the conformance kit's whole docstring and the complete example file that runs it.
``<!-- procflow:simulate-report -->``
    what ``procflow simulate`` prints for a short run, produced by running it during the build.

``on_page_content`` shows reST roles in docstrings (``:class:`Engine```) as code on the API pages.

``tests/test_docs.py`` imports this module and checks that every key the loader accepts is described here.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import inspect
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from procflow.definition import model as pdef
from procflow.definition import reader, statuses
from procflow.errors import DefinitionError, Problem, ProcflowError
from procflow.sla import ClockPolicy

MARKER = re.compile(r"^<!-- procflow:([a-z-]+)(?: ([^ ]+))? -->$", re.M)

# -- the definition schema ----------------------------------------------------------------------------

# A minimal valid definition (as data); probes remove or add one key at a time.
BASE: dict[str, Any] = {
    "code": "9.999999",
    "version": 1,
    "name_vi": "Thủ tục mẫu",
    "level": "commune",
    "initial": "received",
    "sla": {"working_days": 3},
    "fields": [{"name": "note"}],
    "states": [
        {"name": "received", "portal_status": 2},
        {"name": "returned", "portal_status": 10, "final": True},
    ],
    "transitions": [{"trigger": "finish", "source": "received", "dest": "returned"}],
    # anchor "due" + action "overdue" is the timer with the fewest conditional keys
    "timers": [{"name": "late", "anchor": "due", "action": "overdue"}],
}


@attrs.frozen
class Table:
    """One TOML table of a definition and the attrs class its entries become."""

    key: str  # "" for the top level
    heading: str
    cls: type
    attr: Callable[[str], str] = lambda key: key  # TOML key -> attribute name
    read: Callable[[Any], Any] = lambda d: d  # parsed definition -> the object holding the attributes


TABLES = (
    Table("", "Top level", pdef.ProcedureDefinition),
    Table("sla", "`[sla]` — the whole time limit", pdef.ProcedureDefinition,
          attr=lambda k: {"working_days": "sla_days"}.get(k, k)),
    Table("fields", "`[[fields]]` — the dossier's data", pdef.FieldSpec, read=lambda d: d.fields[0]),
    Table("states", "`[[states]]` — the steps (Step)", pdef.Step, read=lambda d: d.states[0]),
    Table("transitions", "`[[transitions]]` — who may move a dossier, from where to where", pdef.Transition,
          read=lambda d: d.transitions[0]),
)
if hasattr(pdef, "TimerSpec"):
    TABLES += (Table("timers", "`[[timers]]` — reminders, escalations, overdue notices, automatic steps",
                     pdef.TimerSpec, read=lambda d: d.timers[0]),)

# What each key means. tests/test_docs.py fails when the loader accepts a key that is not described here.
DESCRIPTIONS: dict[str, str] = {
    "code": "National catalogue code of the procedure (mã TTHC), e.g. `1.001193`.",
    "version": "Definition version (1 … 2,147,483,647). `(code, version)` identifies a definition; a running dossier "
               "keeps the version it was filed under. Change the content ⇒ bump the version.",
    "name_vi": "Vietnamese name, as in the national catalogue.",
    "name_en": "English name (shown as `English (Tiếng Việt)` in reports).",
    "level": "Level of government that decides the procedure.",
    "competent_kind": "Agency kind of the competent agency (cơ quan có thẩm quyền), resolved for the "
                      "commune where the subject is. Defaults to the value of `level`.",
    "initial": "Name of the state a new dossier starts in (usually `received`, tiếp nhận).",
    "online_initial": "State an online filing starts in (`engine.file(..., online=True)`): portal status 1, "
                      "clock `excluded`, held by the receiving desk. The time limit starts when the desk "
                      "receives it (status 2); the desk may refuse it (3) or ask for a supplement first (5).",
    "sector_code": "The procedure's sector code as the national portal wants it (mã lĩnh vực, MaLinhVuc). "
                   "The bundled procedures carry procflow's provisional codes: use your portal's list.",
    "applicant_kind": "Who files (LoaiDoiTuong): `citizen` (1), `business` (2) or `household_business` (3).",
    "applicant": "Which fields name the dossier holder (chủ hồ sơ) the portal lists and a payment request "
                 "bills — the person who files, e.g. the parent for a birth registration, not the newborn. "
                 "Keys: `name`, `national_id`, `phone`, `address`, `email`; each names a declared field.",
    "legal_basis": "Laws, decrees and circulars the definition follows, so users can check it.",
    "retention_years": "Years the personal data of a closed dossier is kept; then `procflow retention apply` "
                       "erases it from the vault (statistics and the event log stay), and a liên thông bundle's "
                       "own copy once every member has expired. Absent: kept.",
    "sector": "The sector (lĩnh vực) as the national catalogue files the procedure; the official reporting "
              "table groups by it. Optional (procflow knows the sectors of its bundled procedures).",
    "catalogue_source": "The public page or document the catalogue code and time limit were checked against "
                        "(a URL or a citation); bundled procedures list it in "
                        "[Bundled procedures](bundled.md).",
    "unconfirmed": "What could not be confirmed against a public source, from: `catalogue_code`, `time_limit`, "
                   "`verification_limit`, `flow`, `competent_agency`, `fee`, `legal_basis`. Users check these "
                   "before relying on the definition.",
    "effective_from": "First day this version's flow is the law (a TOML date, e.g. `2025-07-01`). A later "
                      "decree is a new version with its own dates.",
    "effective_until": "First day it no longer is (exclusive), after `effective_from` — e.g. `2027-03-01` for "
                       "the Decree 151/2025/NĐ-CP land flow.",
    "sla": "The whole time limit; see the `[sla]` table below.",
    "roles": "Extra holder roles: `name = \"agency kind\"`; see `[roles]` below.",
    "official_roles": "The roles officials hold (`[\"one_stop_officer\", \"civil_status_officer\"]`). Every role a "
                      "transition names must be listed here (`procflow validate` suggests the closest name for a "
                      "typo); an official of the custodian agency without the role is refused with "
                      "`RoleNotGranted`.",
    "fields": "Declared dossier data; data a procedure does not declare is refused (`InvalidData`).",
    "states": "The steps; see `[[states]]` below.",
    "transitions": "The moves between steps; see `[[transitions]]` below.",
    "sla.working_days": "Working days (ngày làm việc) from receipt to result; `0` means the same working "
                        "day (trong ngày), with the daily cut-off.",
    "sla.supplement_policy": "What the clock does when a dossier comes back from a `citizen` step: "
                             "`restart` counts the full limit again from the complete dossier; `pause` "
                             "keeps the progress and moves the deadline by the office time spent waiting.",
    "fields.name": "Field name, the key in `dossier.data`.",
    "fields.type": "Value type, enforced when a dossier is filed or a trigger carries the field (`InvalidData` "
                   "names the field and the kind of value, never the value): `string`, `int`, `decimal`, `bool`, "
                   "`date` (`YYYY-MM-DD`), `datetime` (ISO 8601), `enum` (one of `values`), `national_id` "
                   "(12 digits), `phone` (a Vietnamese number, `0…` or `+84…`, stored as `0…`).",
    "fields.values": "For `type = \"enum\"`: the allowed values.",
    "fields.required": "Must be present (and non-empty) when the dossier is filed.",
    "fields.personal": "Personal-data kind: the value is masked wherever it is shown to people "
                       "(`true` means `other`).",
    "fields.label_vi": "Vietnamese label for forms and reports.",
    "fields.label_en": "English label.",
    "states.name": "State name (an identifier, unique in the procedure).",
    "states.portal_status": "National-portal status code (TrangThaiHoSo) reported while a dossier is here.",
    "states.holder": "Holder role: which agency holds the dossier (is its custodian) in this state.",
    "states.clock": "What the SLA clock does while a dossier is in this state.",
    "states.final": "A dossier that reaches this state is finished; final states have no outgoing "
                    "transitions and every non-final state needs one.",
    "states.sla_days": "A limit for this step alone, in working days from entering it (`step_due_at`).",
    "states.resume_policy": "Overrides how the clock resumes when a dossier leaves this (paused) state; "
                            "unset means `sla.supplement_policy` for `citizen` steps and `pause` for "
                            "`excluded` ones.",
    "states.label_vi": "Vietnamese label.",
    "states.label_en": "English label.",
    "transitions.trigger": "Trigger name, fired with `engine.fire(dossier, trigger, actor)`.",
    "transitions.source": "State(s) the trigger fires from: a name or a list of names.",
    "transitions.dest": "State the dossier moves to.",
    "transitions.roles": "Actor roles allowed to fire it (any one of them); empty means any official of "
                         "the custodian agency.",
    "transitions.level": "Only fire when the custodian is an agency of this level.",
    "transitions.guards": "Named guards that must all return true (pure, in-process checks).",
    "transitions.label_vi": "Vietnamese label.",
    "transitions.label_en": "English label.",
    "timers": "Timers the procedure declares; see `[[timers]]` below.",
    "timers.name": "Timer name (an identifier, unique in the procedure).",
    "timers.anchor": "What the timer counts from: `due` — the SLA due date (moves with pauses, re-armed when "
                     "the clock restarts); `state` — entering one of its `states`; `custody` — the current "
                     "custodian receiving the dossier; `absolute` — the moment `at`.",
    "timers.action": "What it does when it falls due: `notify` — send notices; `fire` — fire `trigger` as the "
                     "custodian's system actor; `escalate` — record an escalation and notify the head of unit "
                     "(optionally `reassign_to`); `overdue` — record the lateness and notify the officials "
                     "named (form 04 is issued before the due date with `procflow extend`).",
    "timers.states": "States where the timer is live; leaving them cancels it.",
    "timers.working_days": "Offset in working days (negative counts back from the due date). Give exactly one "
                           "of `working_days`, `calendar_days`, `hours` (none for `absolute`).",
    "timers.calendar_days": "Offset in calendar days.",
    "timers.hours": "Offset in hours.",
    "timers.at": "The moment an `absolute` timer falls due, with a UTC offset (`2026-12-31T17:00:00+07:00`).",
    "timers.trigger": "The trigger an `action = \"fire\"` timer fires; it must be allowed from every live state.",
    "timers.notify": "Who is notified.",
    "timers.reassign_to": "For `escalate`: who takes the dossier over.",
    "timers.extension_working_days": "No longer used (accepted for old definitions): form 04 is issued before "
                                     "the due date by `procflow extend`.",
    "timers.text_vi": "Vietnamese notice text.",
    "timers.text_en": "English notice text.",
}

# Defaults that depend on other keys (the probe would show the value for the minimal definition only).
DEFAULT_TEXT = {
    "competent_kind": "value of `level`",
    "timers.states": "all non-final states",
    "timers.notify": "`citizen` for `overdue`, `head` for `escalate`; required for `notify`",
    "timers.working_days": "one offset required, except for `absolute` and `overdue`",
}

# Where the loader accepts more than the attribute's type says.
TYPE_OVERRIDES = {
    "transitions.source": "string or array of strings",
    "fields.personal": "string or boolean",
    "roles": "table of strings",
    "sla": "table",
    "timers.states": "string or array of strings",
    "timers.notify": "string or array of strings",
    "timers.hours": "integer or float",
}

# Keys that land in more than one attribute (or in one of another name).
ATTRIBUTE_OVERRIDES = {"sla": "ProcedureDefinition.sla_days, .supplement_policy"}

CLOCK_MODES = {
    pdef.ClockMode.RUNNING: "The agency is working: time counts.",
    pdef.ClockMode.CITIZEN: "Waiting on the citizen (supplement, payment): the clock pauses, and on leaving "
                            "resumes as `resume_policy` (or `sla.supplement_policy`) says.",
    pdef.ClockMode.EXCLUDED: "Does not count towards the limit (e.g. a 15-day public posting): the clock "
                             "pauses and on leaving the deadline moves later by the office time spent here.",
    pdef.ClockMode.STOPPED: "Result ready, refused, withdrawn or stopped: the clock stops for good.",
}

_TOML_TYPES = {
    "str": "string", "int": "integer", "bool": "boolean", "str | None": "string", "int | None": "integer",
    "tuple[str, ...]": "array of strings", "ClockMode": "string", "Mapping[str, str]": "table",
    "tuple[Step, ...]": "array of tables", "tuple[Transition, ...]": "array of tables",
    "tuple[FieldSpec, ...]": "array of tables", "tuple[TimerSpec, ...]": "array of tables",
    "TimerAnchor": "string", "TimerAction": "string", "float | None": "float", "datetime | None": "offset date-time",
    "date | None": "local date",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """Just enough TOML writing for the definition shapes used here."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict | list)
             or (isinstance(v, list) and not (v and isinstance(v[0], dict)))]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]", *(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())]
    for k, v in data.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines += ["", f"[[{k}]]", *(f"{kk} = {_toml_value(vv)}" for kk, vv in item.items())]
    return "\n".join(lines) + "\n"


def _copy() -> dict[str, Any]:
    return {k: ([dict(i) for i in v] if isinstance(v, list) and v and isinstance(v[0], dict)
                else dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}


def _container(data: dict[str, Any], table: str) -> dict[str, Any]:
    if not table:
        return data
    value = data[table]
    return value[0] if isinstance(value, list) else value


def _problems(data: dict[str, Any]) -> list[Problem]:
    try:
        reader.parse_definition(to_toml(data))
    except DefinitionError as exc:
        return list(exc.problems)
    return []


def allowed_keys(table: str) -> list[str]:
    """The keys the loader accepts in a table, read from its own "unknown key" message."""
    data = _copy()
    _container(data, table)["zz_probe"] = 1
    for p in _problems(data):
        if p.path.endswith("zz_probe") and "allowed: " in p.message:
            return p.message.split("allowed: ", 1)[1].rstrip(")").split(", ")
    raise AssertionError(f"the loader did not report allowed keys for table {table!r}")


@attrs.frozen
class KeyDoc:
    path: str  # "states.holder"
    key: str
    type: str
    required: bool
    default: Any
    attribute: str
    allowed: str
    description: str


def _allowed_values(path: str) -> str:
    def codes(values: Any) -> str:
        return ", ".join(f"`{v}`" for v in values)

    from procflow.engine.guards import BUILTIN_GUARDS

    return {
        "level": codes(pdef.LEVELS),
        "transitions.level": codes(pdef.LEVELS),
        "fields.type": codes(pdef.FIELD_TYPES),
        "fields.personal": codes(pdef.PERSONAL_KINDS) + ", `true`, `false`",
        "states.clock": codes(m.value for m in pdef.ClockMode),
        "states.portal_status": "1–10 (see the table below)",
        "states.holder": codes(pdef.BUILTIN_ROLES) + " or a key of `[roles]`",
        "states.resume_policy": codes(p.value for p in ClockPolicy),
        "sla.supplement_policy": "`restart`, `pause`",
        "transitions.guards": "built in: " + codes(sorted(BUILTIN_GUARDS)) + "; or registered with the engine",
        "competent_kind": "an agency kind (see below)",
        "version": "≥ 1",
        "sla.working_days": "≥ 0",
        "states.sla_days": "≥ 0",
        "transitions.trigger": "an identifier",
        "timers.name": "an identifier",
        "timers.anchor": codes(m.value for m in getattr(pdef, "TimerAnchor", ())),
        "timers.action": codes(m.value for m in getattr(pdef, "TimerAction", ())),
        "timers.notify": codes(getattr(pdef, "TIMER_RECIPIENTS", ())),
        "timers.states": "non-final state names",
        "timers.trigger": "a trigger of the procedure",
        "timers.extension_working_days": "≥ 1",
    }.get(path, "")


def schema() -> list[tuple[Table, list[KeyDoc]]]:
    """Every key of every table, probed from the loader and typed from the attrs classes."""
    base = reader.parse_definition(to_toml(_copy()))
    out = []
    for table in TABLES:
        fields = {f.name: f for f in attrs.fields(table.cls)}
        docs = []
        for key in allowed_keys(table.key):
            path = f"{table.key}.{key}" if table.key else key
            data = _copy()
            holder = _container(data, table.key)
            required = False
            default: Any = None
            if key in holder and path not in DEFAULT_TEXT:
                del holder[key]
                located = path.replace(".", "[0].", 1) if isinstance(BASE.get(table.key), list) else path
                required = any(p.path == located for p in _problems(data))
            attr = table.attr(key)
            if not required and attr in fields:
                try:
                    default = getattr(table.read(reader.parse_definition(to_toml(data))), attr)
                except DefinitionError:
                    default = getattr(table.read(base), attr)
            typ = TYPE_OVERRIDES.get(path) or _TOML_TYPES[str(fields[attr].type)]
            docs.append(KeyDoc(path=path, key=key, type=typ, required=required, default=default,
                               attribute=ATTRIBUTE_OVERRIDES.get(path, f"{table.cls.__name__}.{attr}"),
                               allowed=_allowed_values(path),
                               description=DESCRIPTIONS.get(path, "")))
        out.append((table, docs))
    return out


def _default_text(doc: KeyDoc) -> str:
    if doc.required:
        return "**required**"
    if doc.path in DEFAULT_TEXT:
        return DEFAULT_TEXT[doc.path]
    value = doc.default
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "unset"
    if isinstance(value, tuple | list | dict) and not value:
        return "`[]`" if not isinstance(value, dict) else "`{}`"
    return f"`{_toml_value(value) if not isinstance(value, tuple) else value}`"


def toml_reference() -> str:
    out = []
    for table, docs in schema():
        out += [f"### {table.heading}", "", "| key | type | default | allowed | meaning | becomes |",
                "|---|---|---|---|---|---|"]
        for d in docs:
            out.append(f"| `{d.key}` | {d.type} | {_default_text(d)} | {d.allowed} | {d.description} | "
                       f"`{d.attribute}` |")
        out.append("")
        if table.key == "":
            out += _roles_section()
    return "\n".join(out)


def _roles_section() -> list[str]:
    from procflow.jurisdiction import Registry

    kinds = sorted(Registry.default().kinds())
    return [
        "### `[roles]` — holder roles beyond the built-in three", "",
        "Every dossier knows three agencies from the moment it is filed: `receiving` (the one-stop desk "
        "where it was filed, which returns the result), `competent` (the agency of `competent_kind` for the "
        "place) and `location` (the commune where the subject — person, land — is). `[roles]` adds more, "
        "each an agency kind resolved for the same place; a state's `holder` names one of them.", "",
        "```toml", "[roles]", 'tax = "tax"                        # the provincial tax authority',
        'land_branch = "land_registration_branch"', "```", "",
        f"Built-in role names ({', '.join(f'`{r}`' for r in pdef.BUILTIN_ROLES)}) cannot be redefined. "
        "Agency kinds known to the shipped registry (`Registry.default().kinds()`): "
        + ", ".join(f"`{k}`" for k in kinds) + ".", "",
    ]


def portal_status() -> str:
    rows = ["| code | status |", "|---|---|"]
    rows += [f"| {code} | {label} |" for code, label in sorted(statuses.PORTAL_STATUS.items())]
    return "\n".join(rows) + "\n"


def status_rules() -> str:
    rows = ["| code | final state | SLA clock in that state | held by |", "|---|---|---|---|"]
    for code, rule in sorted(statuses.STATUS_RULES.items()):
        final = "either" if rule.final is None else "yes" if rule.final else "no"
        rows.append(f"| {code} | {final} | {' or '.join(f'`{c}`' for c in rule.clocks)} | "
                    f"{rule.holder or 'any'} |")
    return "\n".join(rows) + "\n"


def clock_modes() -> str:
    rows = ["| `clock` | meaning |", "|---|---|"]
    rows += [f"| `{m.value}` | {CLOCK_MODES[m]} |" for m in pdef.ClockMode]
    return "\n".join(rows) + "\n"


MASKING_SAMPLES = {
    "national_id": "092123456789", "phone": "0912345678", "address": "12 Lý Tự Trọng, phường Ninh Kiều",
    "date_of_birth": "2026-04-18", "name": "Nguyễn Văn An", "email": "an.nguyen@example.vn",
    "other": "số sổ hộ khẩu 123",
}


def masking() -> str:
    from procflow.privacy.masking import mask_value

    rows = ["| `personal` | value | shown as |", "|---|---|---|"]
    for kind in pdef.PERSONAL_KINDS:
        sample = MASKING_SAMPLES[kind]
        rows.append(f"| `{kind}` | `{sample}` | `{mask_value(sample, kind)}` |")
    return "\n".join(rows) + "\n"


# -- validation errors ---------------------------------------------------------------------------------

@attrs.frozen
class Broken:
    title: str
    explanation: str
    shown: str  # the broken lines as the author wrote them
    change: Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return change


def _add_state(state: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["states"].append(state)


BROKEN = (
    Broken("A typo in a key", "Unknown keys are errors, not silently ignored; the message lists the keys "
           "the table accepts.", '[[states]]\nname = "received"\nportal_staus = 2',
           lambda d: d["states"][0].update({"portal_staus": d["states"][0].pop("portal_status")})),
    Broken("A wrong type", "Values are type-checked; quote strings, do not quote numbers.",
           'version = "2"', _set(("version",), "2")),
    Broken("A state without a national-portal status", "Every state must say which TrangThaiHoSo code "
           "(1–10) the portal sees while a dossier is in it.", '[[states]]\nname = "checking"',
           _add_state({"name": "checking"})),
    Broken("A status code that does not exist", "", "portal_status = 11", _set(("states", 0, "portal_status"), 11)),
    Broken("An unknown holder role", "A holder must be `receiving`, `competent`, `location` or a key of "
           "`[roles]`.", 'holder = "tax"', _set(("states", 0, "holder"), "tax")),
    Broken("An unknown clock mode", "", 'clock = "paused"', _set(("states", 0, "clock"), "paused")),
    Broken("A transition to a state that does not exist", "Names are checked across the whole file.",
           'dest = "retuned"', _set(("transitions", 0, "dest"), "retuned")),
    Broken("A dead end", "A state with no way out must be marked `final = true` (and a final state must "
           "have no way out).", '[[states]]\nname = "archived"\nportal_status = 10\n\n[[transitions]]\n'
           'trigger = "archive"\nsource = "received"\ndest = "archived"',
           lambda d: (d["states"].append({"name": "archived", "portal_status": 10}),
                      d["transitions"].append({"trigger": "archive", "source": "received", "dest": "archived"}))),
    Broken("An unreachable state", "Every state must be reachable from `initial`.",
           '[[states]]\nname = "appeal"\nportal_status = 4\nfinal = true',
           _add_state({"name": "appeal", "portal_status": 4, "final": True})),
    Broken("The same trigger twice from one state", "From one state, a trigger leads to one place.",
           '[[transitions]]\ntrigger = "finish"\nsource = "received"\ndest = "received"',
           lambda d: d["transitions"].append({"trigger": "finish", "source": "received", "dest": "received"})),
    Broken("A bad time limit and policy", "", '[sla]\nworking_days = -1\nsupplement_policy = "reset"',
           _set(("sla",), {"working_days": -1, "supplement_policy": "reset"})),
    Broken("A personal-data kind that does not exist", "", 'personal = "passport"',
           _set(("fields", 0, "personal"), "passport")),
)


def broken_messages(case: Broken) -> list[str]:
    data = _copy()
    case.change(data)
    problems = _problems(data)
    if not problems:
        raise AssertionError(f"docs example {case.title!r} is not actually broken")
    return [f"{p.path or '(file)'}: {p.message}" for p in problems]


@contextlib.contextmanager
def _tempdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def _cli_output(text: str) -> str:
    """Run the real ``procflow validate`` on ``text`` and return what a terminal shows."""
    import os
    import subprocess
    import sys

    with _tempdir() as tmp:
        (tmp / "my_procedure.toml").write_text(text, encoding="utf-8")
        exe = Path(sys.executable).with_name("procflow")
        result = subprocess.run([str(exe) if exe.exists() else "procflow", "validate", "my_procedure.toml"],
                                cwd=tmp, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    output = (result.stdout + result.stderr).rstrip()
    return f"$ procflow validate my_procedure.toml\n{output}\n$ echo $?\n{result.returncode}"


def _register_messages(data: dict[str, Any]) -> list[str]:
    from procflow import Engine, open_store

    engine = Engine(open_store(":memory:"))
    try:
        engine.register(reader.parse_definition(to_toml(data)))
    except ProcflowError as exc:
        return [f"{p.path}: {p.message}" for p in getattr(exc, "problems", ())] or [str(exc)]
    finally:
        engine.store.close()
    raise AssertionError("the register example did not fail")


def validation_errors() -> str:
    out = []
    for case in BROKEN:
        out += [f"#### {case.title}", ""]
        if case.explanation:
            out += [case.explanation, ""]
        out += ["```toml", case.shown, "```", "", "```text", *broken_messages(case), "```", ""]
    data = _copy()
    data["states"][0]["portal_staus"] = data["states"][0].pop("portal_status")
    data["transitions"][0]["dest"] = "retuned"
    out += ["#### What `procflow validate` prints", "",
            "Every problem in a file is reported in one run, each with its key path, and the exit status is "
            "non-zero:", "", "```text", _cli_output(to_toml(data)), "```", ""]
    guard = _copy()
    guard["transitions"][0]["guards"] = ["fee_paid"]
    kind = _copy()
    kind["roles"] = {"fee_office": "fee_collection"}
    out += ["#### Problems found when the engine registers a definition", "",
            "`procflow validate` checks guard names against the built-in guards. `Engine.register` checks them "
            "against the guards registered with *that* engine (built-in, `Engine(guards=...)`, "
            "`engine.add_guard`, plugins), and checks every agency kind against its registry:", "",
            "```toml", '[[transitions]]\ntrigger = "finish"\nguards = ["fee_paid"]', "```", "",
            "```text", *_register_messages(guard), "```", "",
            "```toml", '[roles]\nfee_office = "fee_collection"', "```", "",
            "```text", *_register_messages(kind), "```", ""]
    return "\n".join(out)


# -- diagrams, hooks, testing --------------------------------------------------------------------------

def diagram(name: str) -> str:
    from importlib import resources

    from procflow.cli.app import mermaid

    text = resources.files("procflow").joinpath("procedures", f"{name}.toml").read_text(encoding="utf-8")
    return "```mermaid\n" + mermaid(reader.parse_definition(text)) + "```\n"


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def hookspecs() -> str:
    module = _module("procflow.hookspecs")
    if module is None:
        return ('!!! warning "Not in this release yet"\n    `procflow.hookspecs` (the adapter SDK) has not '
                "landed. This section is generated from it and fills in when it does.\n")
    out = []
    for name, fn in sorted(inspect.getmembers(module, inspect.isfunction)):
        if not name.startswith("procflow_") or fn.__module__ != module.__name__:
            continue
        marker = getattr(fn, "procflow_spec", None) or getattr(fn, f"{_project(module)}_spec", None) or {}
        flags = " *(first result wins)*" if isinstance(marker, dict) and marker.get("firstresult") else ""
        out += [f"### `{name}`{flags}", "", "```python", f"def {name}{inspect.signature(fn)}", "```", "",
                inspect.cleandoc(fn.__doc__ or "(undocumented)"), ""]
    return "\n".join(out)


def _project(module: Any) -> str:
    return getattr(module, "PROJECT", "procflow")


def testing_api() -> str:
    """What ``procflow.testing`` holds right now: its public names and its submodules, first docstring line."""
    import pkgutil

    module = _module("procflow.testing")
    if module is None:
        return ('!!! warning "Not in this release yet"\n    `procflow.testing` (pytest plugin, strategies, '
                "conformance kit) has not landed; until it does, use `FakeClock` and a temporary SQLite file "
                "as shown on this page.\n")
    rows: list[tuple[str, str]] = []
    for name in getattr(module, "__all__", []):
        doc = inspect.getdoc(getattr(module, name, None)) or ""
        rows.append((f"procflow.testing.{name}", doc))
    for info in pkgutil.iter_modules(module.__path__):
        if not info.name.startswith("_"):
            sub = _module(f"procflow.testing.{info.name}")
            rows.append((f"procflow.testing.{info.name}", inspect.getdoc(sub) or "" if sub else ""))
    if not rows:
        return "`procflow.testing` exists but exports nothing yet.\n"
    out = ["| module or name | what it is |", "|---|---|"]
    out += [f"| `{name}` | {doc.splitlines()[0] if doc else ''} |" for name, doc in sorted(rows)]
    return "\n".join(out) + "\n"


def _markdown(doc: str) -> str:
    """A reST docstring as markdown: ``literal`` → `literal`, and each ``::`` block as a fenced Python block."""
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and i + 1 < len(lines) and not lines[i + 1].strip():
            intro = re.sub(r"``([^`]+)``", r"`\1`", line.rstrip()[:-2].rstrip() + ":")
            out.append(intro if line.strip() != "::" else "")
            i += 2
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i])
                i += 1
            out += ["", "```python", textwrap.dedent("\n".join(block)).strip(), "```", ""]
            continue
        out.append(re.sub(r"``([^`]+)``", r"`\1`", line))
        i += 1
    return "\n".join(out)


EXAMPLE_KIT = Path(__file__).resolve().parents[1] / "examples" / "adapter_plugin" / "test_conformance.py"


def conformance() -> str:
    """The kit's whole contract (its module docstring, fault() included), the complete example that runs it
    (the file procflow's own suite runs, included verbatim: nothing can be cut), its checks and fields."""
    module = _module("procflow.testing.conformance")
    if module is None:
        return ('!!! warning "Not in this release yet"\n    The adapter conformance kit '
                "(`procflow.testing.conformance`) has not landed.\n")
    kit = module.AdapterConformance
    checks = [(name, inspect.getdoc(fn)) for name, fn in inspect.getmembers(kit, inspect.isfunction)
              if name.startswith("test_")]
    out = ["### The conformance kit", "", _markdown(inspect.getdoc(module)), "",
           f"#### A complete example: `{EXAMPLE_KIT.relative_to(EXAMPLE_KIT.parents[2]).as_posix()}`", "",
           "The example plugin's whole conformance suite — the `procflow_adapter` fixture with its `fault()` "
           "and the `AdapterConformance` subclass — exactly as procflow's own test suite runs it:", "",
           "```python", EXAMPLE_KIT.read_text(encoding="utf-8").strip(), "```", "",
           "#### Its checks", "",
           "A check for a hook the plugin does not implement, or a fault the fake cannot simulate, is skipped, "
           "saying so:", ""]
    for name, doc in sorted(checks, key=lambda c: inspect.getsourcelines(getattr(kit, c[0]))[1]):
        out.append(f"- `{name}`" + (f": {_markdown(doc.splitlines()[0])}" if doc else ""))
    fields = ", ".join(f"`{f.name}`" for f in attrs.fields(module.AdapterHarness))
    out += ["", f"`AdapterHarness` fields: {fields}. Faults a fake may simulate: "
            + ", ".join(f"`{f}`" for f in module.FAULTS) + ".", ""]
    return "\n".join(out)


# -- the testing kit: fixtures, story API, strategies ---------------------------------------------------------

def _fixtures() -> list[tuple[str, str, str, str]]:
    """(name, scope, signature, docstring) of every fixture procflow's pytest plugin provides, in source order."""
    from procflow.testing import plugin

    found = []
    for name, obj in vars(plugin).items():
        marker = getattr(obj, "_fixture_function_marker", None) or getattr(obj, "_pytestfixturefunction", None)
        if marker is None:
            continue
        fn = obj._get_wrapped_function() if hasattr(obj, "_get_wrapped_function") else obj
        deps = ", ".join(p for p in inspect.signature(fn).parameters)
        found.append((inspect.getsourcelines(fn)[1], name, marker.scope, deps, inspect.getdoc(obj) or ""))
    return [(name, scope, deps, doc) for _, name, scope, deps, doc in sorted(found)]


def fixtures() -> str:
    rows = ["| fixture | scope | uses | what it gives |", "|---|---|---|---|"]
    for name, scope, deps, doc in _fixtures():
        rows.append(f"| `{name}` | {scope} | {', '.join(f'`{d}`' for d in deps.split(', ') if d) or '—'} | "
                    f"{_markdown(' '.join(doc.split()))} |")
    return "\n".join(rows) + "\n"


class _Name:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _signature(fn: Callable[..., Any], *, drop_first: bool = False) -> str:
    """Names and defaults only: annotations are in the API reference, and a call is what a test writes."""
    params = list(inspect.signature(fn).parameters.values())[1 if drop_first else 0:]
    plain = [p.replace(annotation=inspect.Parameter.empty,
                       default=_Name(p.default.__name__) if isinstance(p.default, type) and p.default is not p.empty
                       else p.default)
             for p in params]
    return str(inspect.Signature(plain))


def _api(cls: type, *, members: list[str] | None = None, call: str | None = None) -> list[str]:
    out = []
    for name, member in inspect.getmembers(cls):
        if (name.startswith("_") and name != "__call__") or (members is not None and name not in members):
            continue
        if isinstance(member, property):
            out.append((name, f"{name}", inspect.getdoc(member) or ""))
        elif inspect.isfunction(member):
            sig = _signature(member, drop_first=True)
            out.append((name, f"{name}{sig}", inspect.getdoc(member) or ""))
    order = {n: i for i, n in enumerate(vars(cls))}
    lines = []
    for name, sig, doc in sorted(out, key=lambda m: order.get(m[0], 0)):
        shown = f"{call or cls.__name__}{sig[len('__call__'):]}" if name == "__call__" else f".{sig}"
        lines.append(f"`{shown}`")
        lines.append(f":   {_markdown(' '.join(doc.split())) or '—'}")
        lines.append("")
    return lines


def story_api() -> str:
    from procflow.testing.story import Story, StoryFactory

    out = ["#### `StoryFactory` (the `dossier_story` fixture)", "", *_api(StoryFactory, call="dossier_story"),
           "#### `Story`", "", *_api(Story)]
    return "\n".join(out) + "\n"


def strategies() -> str:
    from procflow.testing import strategies as module

    out = []
    for name in module.__all__:
        obj = getattr(module, name)
        target = getattr(obj, "__wrapped__", obj)
        if isinstance(target, type):
            sig = "(" + ", ".join(f.name for f in attrs.fields(target)) + ")" if attrs.has(target) else ""
        else:  # an @st.composite strategy: the caller does not pass draw
            sig = _signature(target, drop_first=next(iter(inspect.signature(target).parameters), "") == "draw")
        doc = inspect.getdoc(target) or ""
        out += [f"`{name}{sig}`", f":   {_markdown(' '.join(doc.split())) or '—'}", ""]
    return "\n".join(out) + "\n"


SAMPLE_RUN = ("simulate", "--province", "Cần Thơ", "--days", "2", "--rate", "0.2", "--seed", "1", "--db", ":memory:")


def simulate_report() -> str:
    """What ``procflow simulate`` prints, produced by running it while the pages are built (a short run, so
    the build stays quick): the figures on the page are always the real ones of this procflow."""
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("procflow")
    result = subprocess.run([str(exe) if exe.exists() else "procflow", *SAMPLE_RUN], capture_output=True,
                            text=True, timeout=600, env={**os.environ, "COLUMNS": "132", "NO_COLOR": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"procflow {' '.join(SAMPLE_RUN)} failed:\n{result.stderr}")
    lines = [line.rstrip() for line in result.stdout.splitlines() if not line.startswith("store: ")]
    return "\n".join(["```text", f"$ procflow {' '.join(SAMPLE_RUN).replace('Cần Thơ', chr(34) + 'Cần Thơ' + chr(34))}",
                      *lines, "```", ""])


GENERATORS: dict[str, Callable[..., str]] = {
    "simulate-report": simulate_report,
    "conformance": conformance,
    "toml-reference": toml_reference,
    "validation-errors": validation_errors,
    "diagram": diagram,
    "portal-status": portal_status,
    "status-rules": status_rules,
    "clock-modes": clock_modes,
    "masking": masking,
    "hookspecs": hookspecs,
    "testing-api": testing_api,
    "fixtures": fixtures,
    "story-api": story_api,
    "strategies": strategies,
}


def render(markdown: str) -> str:
    def replace(match: re.Match[str]) -> str:
        generator = GENERATORS[match.group(1)]
        return generator(match.group(2)) if match.group(2) else generator()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:  # mkdocs hook
    return render(markdown)


# Docstrings cross-reference in reST (:class:`Engine`); the Google-style parser leaves the role as text before
# the code span. Shown as code (the role's meaning) rather than rewriting every docstring.
SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const|ref|term):<code>~?")


def on_page_content(html: str, **kwargs: Any) -> str:  # mkdocs hook
    return SPHINX_ROLE.sub("<code>", html)
