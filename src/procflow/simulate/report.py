"""The simulation's full report: the store's figures plus what only the run knows, as JSON and HTML.

``build_report`` computes what any store yields (and what the parallel simulator reproduces); the backlog
over time, the liên thông bundles and the faults' effect come from the run itself, so they are added here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from procflow.engine.core import Engine
from procflow.official import official_table
from procflow.simulate.calibration import calibration_summary
from procflow.simulate.result import SimulationResult
from procflow.simulate.scenario import Scenario
from procflow.statistics import Report, backlog_series, compare_runs

__all__ = ["run_with_baseline", "simulation_report", "write_html"]


def simulation_report(result: SimulationResult, report: Report, engine: Engine, *,
                      baseline: tuple[SimulationResult, Report] | None = None) -> dict[str, Any]:
    """``report.to_dict()`` plus ``backlog_over_time``, ``bundles``, ``faults`` and (with a baseline run of
    the same scenario without faults) ``fault_effect``."""
    out = report.to_dict()
    series = backlog_series(result.backlog, engine.registry)
    out["backlog_over_time"] = series
    out["bundles"] = result.bundle_summary
    out["faults"] = result.faults
    out["official_table"] = result.official_table if result.official_table is not None else official_table(
        engine.store.iter_dossiers(), {d.key: d for d in engine.definitions()}, start=result.start, at=report.at,
        online=lambda d: d.id in result.online_ids)
    out["calibration"] = calibration_summary(result, report)
    if baseline is not None:
        base_result, base_report = baseline
        out["fault_effect"] = compare_runs(report, base_report, series, backlog_series(base_result.backlog,
                                                                                      engine.registry))
    return out


def run_with_baseline(scenario: Scenario, **options: Any) -> tuple[SimulationResult, Report]:
    """The same scenario without its faults, in memory: what the faults are compared against."""
    from procflow.simulate.job import run_simulation

    result, report, engine = run_simulation(attrs.evolve(scenario, faults=(), portal_sync=False), ":memory:",
                                            **options)
    engine.store.close()
    return result, report


def write_html(data: dict[str, Any], path: str | Path) -> Path:
    from procflow.simulate.html import render_html

    target = Path(path)
    target.write_text(render_html(data), encoding="utf-8")
    return target
