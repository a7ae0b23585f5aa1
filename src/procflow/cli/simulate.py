"""``procflow simulate`` with resume, faults, HTML report and portal sync (also ``python -m procflow.simulate``).

The options of the original command keep their names, defaults and output; the new ones only add. The text
report is printed by ``procflow.cli.app`` (one place for the console layout); this module adds the bundle line,
the faults' effect and the file outputs.
"""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from procflow.cli._common import err, fail
from procflow.officehours import local_time

__all__ = ["complete_fault", "parse_fault_option", "simulate"]

# The kinds of procflow.simulate.faults.FAULT_KINDS (tests/test_cli_conventions.py keeps the two in step; the
# module is imported only when a value is checked, so ``procflow --help`` stays fast).
FAULT_NAMES = ("portal-down", "commune-offline", "official-leave", "holiday-week")
FAULT_METAVAR = "KIND[:key=value,...]"


def parse_fault_option(value: str) -> Any:
    """``--fault KIND[:key=value,...]``: the kind is a choice (listed in the help, completed by the shell), the
    parameters follow it; a wrong kind or key ends in one line naming the allowed ones."""
    from procflow.errors import ProcflowError
    from procflow.simulate.faults import Fault, parse_fault

    if isinstance(value, Fault):
        return value
    try:
        return parse_fault(str(value))
    except ProcflowError as exc:
        fail(f"--fault: {exc}")


def complete_fault(incomplete: str) -> list[str]:
    """Shell completion of ``--fault``: the kinds."""
    return [n for n in FAULT_NAMES if n.startswith(incomplete)]


def simulate(
    province: Annotated[str, typer.Option(help="Province name or code (e.g. 'Cần Thơ', 'can-tho', '92').")] = "Cần Thơ",
    days: Annotated[int, typer.Option(min=1, max=366, help="Simulated calendar days.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same numbers.")] = 1,
    db: Annotated[str, typer.Option(help="Store: a SQLite path (replaced only if an earlier `procflow simulate` "
                                         "made it), or ':memory:'.")] = "procflow-sim.db",
    start: Annotated[str, typer.Option(help="First simulated day (YYYY-MM-DD).")] = "2026-04-20",
    rate: Annotated[float, typer.Option(min=0.0, help="Multiplier of the calibrated yearly volumes (1.0 = the "
                                                      "province's published figures; see calibration.toml).")] = 1.0,
    catalogue: Annotated[Path | None, typer.Option(
        help="Run the province on this procedure catalogue (CSV/JSON, imported in memory): volumes from its "
             "annual_volume column or the default by level, a generic behaviour by level and time limit.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace --db even if it is an application's store or not a "
                                                 "procflow store (its data is deleted).")] = False,
    resume: Annotated[bool, typer.Option(help="Continue a run that was killed, from the checkpoint in --db "
                                              "(SQLite or PostgreSQL, one process; give the same options); "
                                              "starts afresh when there is none.")] = False,
    fault: Annotated[list[Any] | None, typer.Option(
        "--fault", metavar=FAULT_METAVAR, parser=parse_fault_option, autocompletion=complete_fault,
        help="Inject a fault (repeatable). KIND is one of: portal-down[:day=,hours=], "
             "commune-offline[:commune=,start=,hours=], official-leave[:agency=,officials=,days=,start=], "
             "holiday-week[:start=]. The baseline without the faults runs as a second progress step.")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write a self-contained HTML report (inline charts).")] = None,
    baseline: Annotated[bool, typer.Option(help="With --fault: also simulate without the faults (in memory) "
                                                "and report what they cost.")] = True,
    sync_to: Annotated[Path | None, typer.Option(
        help="Emit national-portal status messages and deliver them to an idempotent receiver kept in this "
             "SQLite file (what the crash test checks).")] = None,
    portal: Annotated[str | None, typer.Option(
        help="Sync statuses to this national-portal URL through the outbox (needs procflow-portal-http; "
             "credentials from PROCFLOW_PORTAL_*).")] = None,
    local_portal: Annotated[bool, typer.Option(
        help="Start the portal simulator on 127.0.0.1 and sync to it through the outbox.")] = False,
    fail_rate: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of calls the local portal fails (errors and timeouts).")] = 0.0,
    workers: Annotated[int, typer.Option(
        min=1, help="Processes writing to a PostgreSQL --db (the same report as one process).")] = 1,
) -> None:
    """Simulate one province's one-stop offices (bộ phận một cửa) and report SLA figures."""
    from procflow.cli.progress import Progress
    from procflow.errors import CatalogueError, ProcflowError
    from procflow.simulate import Scenario, run_simulation
    from procflow.simulate.faults import Fault, parse_fault
    from procflow.simulate.report import run_with_baseline, simulation_report, write_html
    from procflow.simulate.sync import FileReceiver

    if not db.strip():
        _fail("--db is empty: name a SQLite file, a postgresql:// URL, or ':memory:'")
    if not math.isfinite(rate) or not 0 < rate <= 10_000:
        _fail(f"--rate: the volume multiplier must be a finite number above 0 and at most 10,000, got {rate}")
    try:
        first = date.fromisoformat(start)
    except ValueError as exc:
        _fail(f"--start: expected YYYY-MM-DD ({exc})")
    if not 2000 <= first.year <= 2100:
        _fail(f"--start: {start} is outside the years procflow counts (2000–2100)")
    definitions: list[Any] = []
    extra: dict[str, Any] = {}
    if catalogue is not None:
        if workers > 1 or db.startswith(("postgresql://", "postgres://")):
            _fail("--catalogue runs in one process on SQLite for now; drop --workers / the PostgreSQL --db")
        try:
            from procflow.catalogue import simulation_inputs

            definitions, volumes, profiles = simulation_inputs(catalogue)
        except CatalogueError as exc:
            _fail(exc.one_line())
        except ProcflowError as exc:
            _fail(f"--catalogue {catalogue}: " + " ".join(str(exc).split()))
        extra = {"volumes": volumes, "profiles": profiles}
    try:
        faults = tuple(f if isinstance(f, Fault) else parse_fault(f) for f in fault or ())
        scenario = Scenario(province=province, days=days, seed=seed, start=first,
                            rate=rate, faults=faults, portal_sync=sync_to is not None, **extra)
    except ValueError as exc:
        _fail(f"--fault: {exc}")
    except ProcflowError as exc:
        _fail(f"--fault: {exc}")
    try:  # before any file is touched: a typo in --province must not leave an empty store behind
        from procflow.jurisdiction import Registry

        Registry.default().province(province)
    except ProcflowError as exc:
        _fail(f"--province: {exc}")
    if fail_rate and not local_portal:
        _fail("--fail-rate needs --local-portal")
    if portal and local_portal:
        _fail("give either --portal URL or --local-portal, not both")
    portal_opts = ({"portal_url": portal, "local": local_portal, "fail_rate": fail_rate}
                   if (portal or local_portal) else None)
    t0 = time.perf_counter()
    receiver = FileReceiver(str(sync_to)) if sync_to is not None else None
    with_baseline = bool(faults and baseline)
    progress = Progress(err, steps=2 if with_baseline else 1)
    try:
        with progress.step(f"simulating {province}, {days} days") as update:
            if workers > 1:  # one process (SQLite or PostgreSQL) checkpoints every commit: --resume works there
                if resume or sync_to is not None or portal_opts is not None:
                    _fail("--workers does not combine with --resume, --sync-to or a portal yet")
                if not db.startswith(("postgresql://", "postgres://")):
                    _fail("several simulation workers need a PostgreSQL store (--db postgresql://…); "
                          "SQLite has one writer at a time")
                from procflow.simulate.parallel import run_parallel_simulation

                result, report, engine = run_parallel_simulation(
                    scenario, db, workers=workers, overwrite=overwrite, progress=update)
            else:
                result, report, engine = run_simulation(scenario, db, overwrite=overwrite, resume=resume,
                                                        receiver=receiver, portal=portal_opts,
                                                        progress=update, definitions=definitions)
        base = None
        if with_baseline:  # the same run without the faults, to show what they cost
            with progress.step("baseline without the faults (in memory)") as update:
                base = run_with_baseline(scenario, definitions=definitions, progress=update)
    except ProcflowError as exc:
        _fail(str(exc))
    finally:
        if receiver is not None:
            receiver.close()
    data = simulation_report(result, report, engine, baseline=base)
    engine.store.close()
    if html is not None:
        write_html(data, html)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from procflow.cli._common import out
    from procflow.cli.app import print_report  # the console layout lives in one place

    print_report(report, elapsed=time.perf_counter() - t0, db=db)
    _print_extras(out, data, resumed=result.resumed, html=html)
    if not result.resumed:  # the main job's cost per simulated day must stay flat as the backlog grows
        line = pace_line(result)
        if line:
            out.print(f"[dim]{line}[/]", highlight=False)


PACE_TARGET = 1.3  # issue 17: seconds per simulated day at day 300 within 1.3× of day 10


def pace_line(result: Any) -> str:
    """Seconds per simulated day at days 10, 30, 100 and 300 (those reached), wall and this process's CPU,
    with the last day's ratio to day 10 against the ≤ 1.3× target of issue 17 (judged at day 300; a shorter
    run's ratio is shown as a trend). CPU per engine write (filing or transition) beside it: a holiday week
    does less work than a full one, so the per-day ratio mixes load with cost; the per-write ratio does not."""
    days = [day for day in (10, 30, 100, 300) if result.pace(day) is not None]
    if not days:
        return ""
    parts = []
    for day in days:
        wall, cpu = result.pace(day), result.pace(day, cpu=True)
        parts.append(f"day {day} {wall:.2f} s" + (f" ({cpu:.2f} s CPU)" if cpu is not None else ""))
    line = "wall time per simulated day (7-day mean): " + " · ".join(parts)
    first, last = days[0], days[-1]
    if last != first and result.pace(first):
        line += f" · day {last} / day {first}: {result.pace(last) / result.pace(first):.2f}× wall"
        cpu_first, cpu_last = result.pace(first, cpu=True), result.pace(last, cpu=True)
        if cpu_first and cpu_last is not None:
            ratio = cpu_last / cpu_first
            line += f", {ratio:.2f}× CPU"
            if last == 300:
                line += f" (target ≤ {PACE_TARGET}×: {'met' if ratio <= PACE_TARGET else 'missed'})"
        per = getattr(result, "per_write", None)
        w_first, w_last = (per(first), per(last)) if per is not None else (None, None)
        if w_first and w_last is not None:
            line += (f" · CPU per filing/transition: day {first} {w_first * 1e3:.2f} ms, day {last} "
                     f"{w_last * 1e3:.2f} ms ({w_last / w_first:.2f}×)")
    return line


_fail = fail


def _print_extras(out: Any, data: dict[str, Any], *, resumed: bool, html: Path | None) -> None:
    bundles = data.get("bundles")
    if bundles:
        out.print(f"liên thông bundles: {bundles['received']:,} received · on time against each bundle's limit, "
                  "the longer one where a member had to verify (Decree 63/2024/NĐ-CP):", highlight=False)
        for code, b in (bundles.get("by_bundle") or {}).items():
            rate = b["on_time_rate"]
            limit = f"{b['working_days']} working days" if b["working_days"] is not None else "its limit"
            if b.get("verification_working_days") is not None:
                limit += f", {b['verification_working_days']} with verification ({b['verified']:,} verified)"
            out.print(f"  {code} {b['name'].split(' (')[0]}: {b['received']:,} received · "
                      f"{b['completed']:,} with a joined result · on time {'—' if rate is None else f'{rate:.1%}'} "
                      f"({limit}) · {b['open']:,} open", highlight=False)
    ranking = data.get("commune_ranking") or []
    if ranking:
        best, worst = ranking[0], ranking[-1]
        out.print(f"commune ranking (on-time rate and location-independent share): first {best['name']}, "
                  f"last {worst['name']} of {len(ranking)}")
    for f in data.get("faults") or []:
        out.print(f"fault {f['kind']}: {f['what']}{' · ' + str(f['name']) if f.get('name') else ''} "
                  f"({local_time(f['from'])} → {local_time(f['to'])})")
    effect = data.get("fault_effect")
    if effect:
        a, b = effect["faulted"], effect["baseline"]
        out.print(f"effect of the faults: on-time rate {_pct(b['on_time_rate'])} → {_pct(a['on_time_rate'])}, "
                  f"overdue open {b['overdue_open']:,} → {a['overdue_open']:,}, backlog peak "
                  f"{b['backlog_peak']:,} → {a['backlog_peak']:,}")
    if data.get("portal"):
        from procflow.simulate.portal import portal_lines

        for line in portal_lines(data["portal"]):
            out.print(line, highlight=False)
    table = data.get("official_table")
    if table:
        out.print(official_rich_table(table))
        out.print("[dim]" + " · ".join(c["label"] for c in table["columns"]) + "[/]", highlight=False)
    cal = data.get("calibration") or {}
    if "births_per_month_simulated" in cal:
        out.print(f"births (khai sinh, incl. liên thông bundles): {cal['births_filed']:,} filed ≈ "
                  f"{cal['births_per_month_simulated']:,.0f} a month; calibrated "
                  f"{cal['births_per_month_expected']:,.0f} a month × rate {cal['rate']:g}"
                  + (f" · not simulated (not registered here): {', '.join(cal['not_simulated'])}"
                     if cal.get("not_simulated") else ""), highlight=False)
    if resumed:
        out.print("[dim]resumed from the checkpoint in the store[/]")
    if html is not None:
        out.print(f"HTML report: {html}")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


_SHORT = {"received": "received", "carried_over": "carried\nover", "online": "online", "in_person": "in\nperson",
          "resolved": "resolved", "early": "early", "on_time": "on\ntime", "late": "late",
          "in_progress": "in\nprogress", "within_limit": "within\nlimit", "overdue": "overdue",
          "withdrawn": "with-\ndrawn", "refused": "refused"}


def official_rich_table(table: dict[str, Any]) -> Any:
    """The official reporting table (per level, then per sector) as a rich table for the console (the
    Vietnamese column names are printed under it)."""
    from rich import box
    from rich.table import Table

    t = Table(title="Official reporting table (tình hình, kết quả giải quyết TTHC), "
                    f"{table['period']['from'][:10]} → {table['period']['to'][:10]}", title_justify="left",
              box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False)
    t.add_column("level, sector", no_wrap=True, overflow="ellipsis", max_width=21)
    for col in table["columns"]:
        head = _SHORT.get(col["key"], col["key"])
        t.add_column(head, justify="right", no_wrap=True, min_width=max(len(h) for h in head.split("\n")))

    def row(label: str, r: dict[str, Any]) -> None:
        t.add_row(label, *("—" if r[c["key"]] is None else f"{r[c['key']]:,}" for c in table["columns"]))

    row("[bold]total (tổng số)[/]", table["total"])
    for level, r in table["by_level"].items():
        row(f"{level} level", r)
    for sector, r in table["by_sector"].items():
        row(sector, r)
    return t
