"""The ``procflow`` command: simulate, validate, diagram, inspect (and the subcommands of other modules)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from procflow.cli._common import DbOption, LazyGroup, ReadableGroup, err, fail, open_store_or_fail, out
from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import bundled_definitions, load_definition
from procflow.definition.statuses import PORTAL_STATUS
from procflow.errors import DefinitionError, ProcflowError

app = typer.Typer(help="procflow — durable workflows for Vietnam's one-stop (một cửa) procedures.", cls=ReadableGroup,
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=True,
                  context_settings={"help_option_names": ["-h", "--help"]})
_fail = fail


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def print_report(report, *, elapsed: float, db: str) -> None:  # type: ignore[no-untyped-def]
    sim = report.extra.get("simulation", {})
    out.print(f"[bold]procflow simulation[/] — {sim.get('province', '')} ({sim.get('province_code', '')}), "
              f"{sim.get('days')} days from {sim.get('start')}, seed {sim.get('seed')}")
    out.print(f"dossiers received (tiếp nhận): {sim.get('filed'):,}  ·  filed online: {sim.get('online'):,}  ·  "
              f"transitions: {sim.get('transitions'):,}  ·  location-independent (phi địa giới): "
              f"{report.location_independent:,} ({report.location_independent_share:.1%})")
    tm = report.extra.get("timers")
    if tm:
        out.print(f"timers (hẹn giờ): reminders {tm['reminders']:,}  ·  overdue recorded "
                  f"{tm['overdue_recorded']:,}  ·  expired supplement requests {tm['supplements_expired']:,}  ·  "
                  f"escalations {tm['escalations']:,}")
    table = Table(title="By level and procedure", title_justify="left")
    for col in ("", "received", "completed", "on time", "on-time rate", "overdue open", "open",
                "paused", "median w-days"):
        table.add_column(col, justify="left" if not col else "right")

    def row(label: str, f) -> None:  # type: ignore[no-untyped-def]
        median = f.median_working_days
        table.add_row(label, f"{f.received:,}", f"{f.completed:,}", f"{f.on_time:,}", _pct(f.on_time_rate),
                      f"{f.overdue_open:,}", f"{f.open:,}", f"{f.paused:,}", "—" if median is None else f"{median:g}")

    row("[bold]all[/]", report.total)
    for level in ("ministry", "province", "commune"):
        if level in report.by_level:
            row(f"{level} level", report.by_level[level])
    for code, f in sorted(report.by_procedure.items()):
        row(f"{code} {report.procedure_names.get(code, '').split(' (')[0]}", f)
    out.print(table)
    st = Table(title="National-portal status (TrangThaiHoSo)", title_justify="left")
    st.add_column("code", justify="right")
    st.add_column("status")
    st.add_column("dossiers", justify="right")
    for code, n in sorted(report.statuses.items()):
        st.add_row(str(code), PORTAL_STATUS[code], f"{n:,}")
    out.print(st)
    bt = Table(title="Top communes by backlog (hồ sơ tồn)", title_justify="left")
    for col in ("agency code", "commune", "open", "overdue"):
        bt.add_column(col, justify="right" if col in ("open", "overdue") else "left")
    for r in report.top_backlog:
        bt.add_row(r.agency, r.name, f"{r.open:,}", f"{r.overdue:,}")
    out.print(bt)
    out.print(f"[dim]store: {db} · {elapsed:.1f} s · same --seed gives the same figures[/]")


def _print_problems(path: Path, exc: DefinitionError) -> None:
    err.print(f"[red]✗[/] {path}: {len(exc.problems)} problem(s)", highlight=False)
    for p in exc.problems:
        err.print(f"    {p.path or '(file)'}: {p.message}", highlight=False)


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Procedure or liên thông bundle TOML files.")]) -> None:
    """Lint procedure definitions and bundles; exit non-zero when any has problems."""
    from procflow.engine.guards import BUILTIN_GUARDS
    from procflow.plugins import make_plugin_manager, plugin_guards

    known = set(BUILTIN_GUARDS) | set(plugin_guards(make_plugin_manager()))
    bad = 0
    bundles = [p for p in files if p.suffix == ".toml" and _is_bundle(p)]
    procedures = {d.code: d for d in bundled_definitions()}
    for path in files:
        if path in bundles:
            continue
        try:
            d = load_definition(path, known_guards=known)
        except DefinitionError as exc:
            bad += 1
            _print_problems(path, exc)
        else:
            procedures[d.code] = d
            out.print(f"[green]✓[/] {path}: {d.code} v{d.version} {d.name} — {len(d.states)} states, "
                      f"{len(d.transitions)} transitions", highlight=False)
    for path in bundles:  # after the procedures, so a bundle may name a procedure validated in the same run
        from procflow.bundle.definition import check_members, parse_bundle

        try:
            b = parse_bundle(path.read_text(encoding="utf-8"), file=str(path))
            problems = check_members(b, procedures)
            if problems:
                raise DefinitionError(problems, file=str(path))
        except DefinitionError as exc:
            bad += 1
            _print_problems(path, exc)
        else:
            out.print(f"[green]✓[/] {path}: bundle {b.code} v{b.version} {b.name} — {len(b.members)} members, "
                      f"{b.sla_days} working days", highlight=False)
    if bad:
        raise typer.Exit(1)


_SAFE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _mermaid_text(text: str) -> str:
    """Text safe inside a mermaid label: no line breaks, quotes or comment/statement syntax from a definition
    can reach the diagram's structure (entity codes, which mermaid renders as the character)."""
    out = []
    for ch in text:
        if ch in '"#;:<>{}[]|`\\' or not ch.isprintable():
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def _is_bundle(path: Path) -> bool:
    from procflow.bundle.definition import is_bundle_text

    try:
        return is_bundle_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, ValueError):
        return False  # load_definition reports it (a file nested too deeply for the TOML parser included)


def mermaid(d: ProcedureDefinition) -> str:
    """A mermaid state diagram: each transition labelled with its trigger, each state with its portal status.
    States get generated ids (``s0``…) and quoted, escaped labels, so no name can inject diagram text."""
    ids = {s.name: s.name if _SAFE_ID.fullmatch(s.name) and s.name not in ("state", "note", "end")
           else f"s{i}" for i, s in enumerate(d.states)}
    lines = ["stateDiagram-v2", f"    %% {_mermaid_text(d.code)} v{d.version} {_mermaid_text(d.name)}",
             f"    [*] --> {ids.get(d.initial, 's_unknown')}"]
    for s in d.states:
        if ids[s.name] != s.name:
            lines.append(f'    state "{_mermaid_text(s.name)}" as {ids[s.name]}')
        lines.append(f"    {ids[s.name]} : {_mermaid_text(s.label)} #91;{s.portal_status}#93; · "
                     f"{_mermaid_text(s.holder)}")
    for t in d.transitions:
        for src in t.source:
            lines.append(f"    {ids[src]} --> {ids[t.dest]} : {_mermaid_text(t.trigger)}")
    for s in d.states:
        if s.final:
            lines.append(f"    {ids[s.name]} --> [*]")
    return "\n".join(lines) + "\n"


@app.command()
def diagram(file: Annotated[Path, typer.Argument(help="Procedure definition TOML file.")]) -> None:
    """Print the procedure's state machine as mermaid text."""
    try:
        d = load_definition(file)
    except DefinitionError as exc:
        _fail(str(exc))
    sys.stdout.write(mermaid(d))


@app.command()
def inspect(
    dossier_id: Annotated[str, typer.Argument(help="Dossier code, e.g. 311.20.99.H92-260420-0001.")],
    db: DbOption = None,
    actor: Annotated[str | None, typer.Option(help="Read for this official (an id the officials directory "
                                                    "delegates to the operator); default: the operator.")] = None,
    purpose: Annotated[str, typer.Option(help="Why the dossier is read (recorded in the access audit).")] = "inspect",
) -> None:
    """Show a dossier's timeline: custodians, hand-offs, statuses and the SLA clock (personal data masked)."""
    from procflow.calendar import WorkingCalendar
    from procflow.dossier import replay
    from procflow.jurisdiction import Registry
    from procflow.officehours import local_time
    from procflow.privacy.masking import mask_record

    store = open_store_or_fail(db)  # a read: no schema upgrade, and refused without the store's keyring
    try:  # a read on behalf of a person: access-checked, audited, masked (procflow.privacy.access)
        from procflow.engine.core import Engine
        from procflow.privacy.credential import acting_actor

        engine = Engine(store)
        reader = acting_actor(engine.directory, actor)  # the operator's credential, never a claimed role
        d = engine.read(dossier_id, reader, purpose=purpose)
        events = engine.read_history(dossier_id, reader, purpose=purpose)
    except ProcflowError as exc:
        store.close()
        _fail(str(exc))
    defs = {(c, v): src for c, v, src in store.definition_sources()}
    from procflow.definition.reader import parse_definition

    defn = parse_definition(defs[(d.procedure, d.definition_version)])
    reg = Registry.default()
    cal = WorkingCalendar()

    def name(code: str) -> str:
        try:
            return reg.agency(code).name
        except ProcflowError:
            return code

    step = defn.step(d.state)
    out.print(f"[bold]{d.id}[/] — {defn.name} v{d.definition_version}")
    out.print(f"state: {step.label} · portal status {d.status} {PORTAL_STATUS[d.status]}")
    out.print(f"custodian (đầu mối đang giữ hồ sơ): {name(d.custodian)} ({d.custodian})")
    out.print(f"received at (tiếp nhận): {name(d.receiving)}"
              + ("  [yellow]location-independent (phi địa giới)[/]" if d.location_independent else ""))
    clock_state = "stopped" if d.sla.stopped else "paused" if d.sla.paused else "running"
    due = local_time(d.sla.due_at)
    late = cal.working_days_late(d.sla.due_at, d.sla.stopped_at or events[-1].at) if d.sla.due_at else 0
    out.print(f"received: {local_time(d.received_at)} · times in Asia/Ho_Chi_Minh")
    out.print(f"SLA: {d.sla.working_days} working day(s), due {due}, clock {clock_state}"
              + (f", [red]{late} working day(s) late[/]" if late else ""))
    out.print(f"data: {mask_record(d.data, defn)}", highlight=False)
    t = Table(title="Timeline (phiếu kiểm soát quá trình giải quyết)", title_justify="left")
    for col in ("#", "at", "event", "from → to", "status", "by", "custodian after", "SLA"):
        t.add_column(col)
    for e in events:
        fx = e.effects or {}
        sla = ""
        if "sla" in fx:
            s = fx["sla"]
            sla = "stopped" if s["stopped_at"] else "paused" if s["paused_at"] else f"due {local_time(s['due_at'])}"
        handoff = " [cyan](hand-off)[/]" if "custodian_from" in fx else ""
        t.add_row(str(e.seq), local_time(e.at), e.trigger or e.kind,
                  f"{e.from_state or '∅'} → {e.to_state}", str(e.status), e.actor,
                  f"{name(e.custodian)}{handoff}", sla)
    out.print(t)
    ok = replay(events) == d
    out.print(f"replay of {len(events)} event(s) reproduces the snapshot: {'yes' if ok else '[red]NO[/]'}")
    from procflow.cli.timers import dossier_timers, timers_table

    armed = dossier_timers(engine, d.id)
    if armed:
        out.print(timers_table(armed, title="Timers (hẹn giờ)"))
    store.close()


class _ExchangeGroup(LazyGroup):
    target = "procflow.cli.exchange:app"  # the XML stack, imported only by `procflow exchange …`


def _mount_optional() -> None:
    from procflow.cli.simulate import simulate as simulate_command
    from procflow.cli.simulate_extras import register as register_migrate

    app.command(name="simulate")(simulate_command)
    register_migrate(app)
    from procflow.cli.db import register as register_db

    register_db(app)
    from procflow.cli.root import register as register_root

    register_root(app)
    from procflow.cli.privacy import register as register_privacy

    register_privacy(app)
    from procflow.cli.anchor import register as register_anchor

    register_anchor(app)
    from procflow.cli.safety import register as register_safety

    register_safety(app)
    from procflow.cli.adapters import register as register_adapters

    register_adapters(app)
    from procflow.cli.timers import register as register_timers

    register_timers(app)
    from procflow.cli.calendar import register as register_calendar

    register_calendar(app)
    from procflow.cli.forms import register as register_forms

    register_forms(app)
    from procflow.cli.officials import register as register_officials

    register_officials(app)
    from procflow.cli.catalogue import app as catalogue_app

    app.add_typer(catalogue_app, name="catalogue", help="A province's procedure catalogue as definitions.")
    app.add_typer(typer.Typer(), name="exchange", help="Inter-agency XML envelopes (edXML).", cls=_ExchangeGroup)


_mount_optional()


def main() -> None:
    app()
