"""What a simulated run produced: its counters, backlog samples and the wall/CPU clock of each simulated day.

Kept apart from the event loop (``procflow.simulate.runner``) so that the report and the footer read a run's
result without the simulator's machinery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from procflow.agency import Agency
from procflow.simulate.scenario import Scenario
from procflow.simulate.tables import Sample

__all__ = ["SimulationResult"]


@attrs.define
class SimulationResult:
    scenario: Scenario
    province: Agency
    start: datetime
    end: datetime
    filed: int = 0  # dossiers created (bundle members included)
    fired: int = 0
    refused: int = 0
    online: int = 0
    bundles: int = 0  # liên thông applications (each made of several dossiers)
    backlog: list[Sample] = attrs.field(factory=list)  # (at, agency or "*", open, overdue, paused)
    faults: list[dict[str, object]] = attrs.field(factory=list)
    resumed: bool = False
    bundle_summary: dict[str, Any] | None = None  # filled by run_simulation (statistics.bundle_summary)
    online_ids: set[str] = attrs.field(factory=set)  # dossiers filed online (the official table's split)
    volumes: dict[str, float] = attrs.field(factory=dict)  # yearly volume per code the run filed from
    skipped: list[str] = attrs.field(factory=list)  # calibrated codes not registered here (not simulated)
    official_table: dict[str, Any] | None = attrs.field(default=None, eq=False, repr=False)  # run_simulation fills it
    # wall-clock ``perf_counter`` at the start and at each simulated day's close (this process only; never in
    # the report, which must be the same for the same seed): what ``pace`` reports
    day_clock: list[float] = attrs.field(factory=list, eq=False, repr=False)
    # this process's CPU seconds (``process_time``) at the same moments: on a machine shared with other work,
    # wall time measures the neighbours too; CPU time is what the simulation itself spent
    day_cpu: list[float] = attrs.field(factory=list, eq=False, repr=False)
    # engine writes (filings + transitions) done by the same moments: a week with a holiday does less work than
    # a full one, so seconds per day alone mixes a change of load with a change of cost per write
    day_work: list[int] = attrs.field(factory=list, eq=False, repr=False)

    def pace(self, day: int, window: int = 7, *, cpu: bool = False) -> float | None:
        """Wall (or, with ``cpu``, CPU) seconds per simulated day around day ``day`` (1-based): the mean over
        the ``window`` days ending there, so a weekend's lighter load does not read as a speed-up. None if
        not reached."""
        stamps = self.day_cpu if cpu else self.day_clock
        if day >= len(stamps) or day < 1:
            return None
        first = max(0, day - window)
        return (stamps[day] - stamps[first]) / (day - first)

    def per_write(self, day: int, window: int = 7, *, cpu: bool = True) -> float | None:
        """CPU (or wall) seconds per engine write (filing or transition) over the same window as ``pace``:
        the cost that must stay flat as the backlog grows, whatever the week's load. None if not known."""
        stamps = self.day_cpu if cpu else self.day_clock
        work = self.day_work
        if day >= min(len(stamps), len(work)) or day < 1:
            return None
        first = max(0, day - window)
        done = work[day] - work[first]
        return (stamps[day] - stamps[first]) / done if done > 0 else None
