"""The backlog samples of a run: at each day's close, the open dossiers per custodian agency.

One pass over the simulator's open dossiers a simulated day (not per event): what the report's backlog chart
and the checkpoint's samples are made of. Also stamps the wall and CPU clock of the day's close
(``SimulationResult.pace``)."""

from __future__ import annotations

import time as _time
from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from procflow.simulate.tables import Sample

if TYPE_CHECKING:
    from procflow.simulate.runner import Simulator

__all__ = ["PAUSED", "SAMPLE_AT", "sample_until"]

PAUSED = frozenset({5, 6, 8})
SAMPLE_AT = time(17, 0)  # backlog is sampled at the close of each day


def sample_until(sim: Simulator, ts: float) -> None:
    """Sample the backlog at every day close before ``ts`` (the state as of that moment)."""
    while sim._next_sample <= ts and sim._next_sample < sim._end_ts:
        at = datetime.fromtimestamp(sim._next_sample, sim.cal.tz)
        rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for d in sim._open.values():
            row = rows[d.custodian]
            row[0] += 1
            row[1] += d.sla.is_overdue(at)
            row[2] += d.status in PAUSED
        stamp = at.isoformat()
        total = [sum(r[i] for r in rows.values()) for i in range(3)]
        samples: list[Sample] = [(stamp, "*", *total)]  # type: ignore[list-item]
        samples += [(stamp, agency, *r) for agency, r in sorted(rows.items())]  # type: ignore[misc]
        sim.result.backlog += samples
        sim.result.day_clock.append(_time.perf_counter())
        sim.result.day_cpu.append(_time.process_time())
        sim.result.day_work.append(sim.result.filed + sim.result.fired)
        if sim.tables is not None:
            sim.tables.add_samples(samples)
        sim._next_sample = datetime.combine(at.date() + timedelta(days=1), SAMPLE_AT, sim.cal.tz).timestamp()
