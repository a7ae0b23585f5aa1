"""The filings of a run, drawn up front from the seed alone (so a resumed run draws the same ones again).

Each commune gets a Poisson number of filings a day, in proportion to a population proxy; days off only
have online filings. The draw order is part of the seed's contract: changing it changes every run."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING

from procflow.simulate.calibration import commune_weights, daily_rate, working_day_online_share
from procflow.simulate.citizens import poisson

if TYPE_CHECKING:
    from procflow.simulate.runner import Simulator

__all__ = ["draw_arrivals"]


def draw_arrivals(sim: Simulator) -> None:
    """Push every filing of the run onto ``sim``'s arrivals heap (and set ``sim.busiest``)."""
    sc, rng = sim.sc, sim.rng
    codes = list(sim.mix)
    weights = [sim.mix[c] for c in codes]
    cum = list(accumulate(weights))
    # the province's daily filings, spread over communes by a population proxy within bounds (seeded)
    daily = daily_rate(sum(weights) * sc.rate, online_share=sc.online_share)
    online_share = working_day_online_share(sc.online_share)  # days off file online only
    demand = [daily * w for w in commune_weights(sim.communes, rng)]
    busiest = max(range(len(demand)), key=demand.__getitem__)
    sim.busiest = sim.communes[busiest].code
    open_s = sim.cal.office_hours.sessions[0][0]
    close_s = sim.cal.office_hours.sessions[-1][1]
    day_span = (datetime.combine(date.min, close_s) - datetime.combine(date.min, open_s)).total_seconds()
    for offset in range(sc.days):
        d = sc.start + timedelta(days=offset)
        working = sim.cal.is_working_day(d)
        for i, commune in enumerate(sim.communes):
            n = poisson(rng, demand[i] * (1.0 if working else sc.online_share))
            for _ in range(n):
                online = (not working) or rng.random() < online_share
                if online:
                    at = datetime.combine(d, time(0), sim.cal.tz) + timedelta(seconds=rng.uniform(0, 86400))
                else:
                    at = datetime.combine(d, open_s, sim.cal.tz) + timedelta(seconds=rng.uniform(0, day_span))
                location = commune
                filed_at = commune
                if rng.random() < sc.location_independent_share:
                    filed_at = sim.communes[rng.randrange(len(sim.communes))]
                proc = rng.choices(codes, cum_weights=cum)[0]  # the draw of choices(codes, weights)
                sim._push(at, "arrive", (proc, filed_at.code, location.code, online), heap=sim._arrivals_heap)
