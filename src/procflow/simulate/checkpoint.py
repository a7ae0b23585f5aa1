"""Save and restore a running simulation, so a killed ``procflow simulate`` resumes where it committed.

What the store does not already hold is small: the random generator's state, each agency's queue of
officials, the tasks already decided but not yet done (the arrivals are not saved: they are drawn again
from the seed, and those at or before the last processed event dropped), the counters, and when the next
backlog sample falls. It is written in the
same transaction as each group commit, so it always describes exactly the store it sits in. Dossiers are
not copied: the pending tasks name them by id and a resumed run reads them back.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import TYPE_CHECKING, Any

from procflow.errors import StoreError

if TYPE_CHECKING:
    from procflow.dossier import Dossier
    from procflow.simulate.runner import Simulator

__all__ = ["restore", "save"]

_VERSION = 1
_COUNTERS = ("filed", "fired", "refused", "online", "bundles")


def _choice_index(sim: Simulator) -> dict[tuple[str, str, int], int]:
    """Each choice's position in its state's tuple, by identity (no attrs equality calls per task)."""
    cached = getattr(sim, "_choice_index", None)
    if cached is None:
        cached = {(code, state, id(c)): i for code, states in sim.sc.profiles.items()
                  for state, choices in states.items() for i, c in enumerate(choices)}
        sim._choice_index = cached  # type: ignore[attr-defined]
    return cached


def _encode(index: dict[tuple[str, str, int], int], kind: str, payload: Any) -> list[Any]:
    if kind == "ready":
        d, c, online = payload
        return [d.id, index[(d.procedure, d.state, id(c))], online]
    if kind == "fire":
        d, c, who, online = payload
        return [d.id, index[(d.procedure, d.state, id(c))], who, online]
    return list(payload)  # arrive, bready, breturn: plain values already


def _decode(sim: Simulator, kind: str, p: list[Any], live: dict[str, Dossier]) -> Any:
    if kind in ("ready", "fire"):
        d = live[p[0]]
        c = sim.sc.profiles[d.procedure][d.state][p[1]]
        return (d, c, *p[2:])
    return tuple(p)


def save(sim: Simulator, *, finished: bool) -> None:
    assert sim.tables is not None
    index = _choice_index(sim)
    heap = [[ts, seq, kind, _encode(index, kind, p)] for ts, seq, kind, p in sorted(sim._heap)]
    version, internal, gauss = sim.rng.getstate()
    state = {
        "v": _VERSION, "finished": finished, "last": list(sim._last), "seq": sim._seq,
        "rng": [version, list(internal), gauss], "next_sample": sim._next_sample, "heap": heap,
        "pools": {agency: sorted([free, who] for free, who in pool.free_at)
                  for agency, pool in sorted(sim._pools.items())},
        "result": {k: getattr(sim.result, k) for k in _COUNTERS},
    }
    sim.tables.save_checkpoint(sim.fingerprint, state)


def restore(sim: Simulator) -> bool:
    """Continue from the store's checkpoint; False (and nothing changed) when there is none."""
    assert sim.tables is not None
    loaded = sim.tables.load_checkpoint()
    if loaded is None:
        return False
    fingerprint, state = loaded
    if state.get("v") != _VERSION:
        raise StoreError(f"the store's simulator checkpoint has format {state.get('v')}, this procflow "
                         f"writes {_VERSION}; start the simulation afresh (without --resume)")
    if fingerprint != sim.fingerprint:
        raise StoreError("the store was written by a simulation with other settings (province, days, seed, "
                         "rate, faults or behaviour); resume with the same options, or start afresh")
    last = (float(state["last"][0]), int(state["last"][1]))
    arrivals = sim._arrivals_heap  # drawn again from the seed: drop those already filed
    arrivals[:] = [e for e in arrivals if (e[0], e[1]) > last]
    heapq.heapify(arrivals)
    sim._heap.clear()
    live = _load_live(sim, {p[0] for _, _, kind, p in state["heap"] if kind in ("ready", "fire")})
    sim._heap.extend((ts, seq, kind, _decode(sim, kind, p, live)) for ts, seq, kind, p in state["heap"])
    heapq.heapify(sim._heap)
    sim._seq, sim._last = int(state["seq"]), last
    version, internal, gauss = state["rng"]
    sim.rng.setstate((version, tuple(internal), gauss))
    for agency, free in state["pools"].items():
        pool = sim._pool(agency)
        pool.free_at = [(float(t), int(who)) for t, who in free]
    for k in _COUNTERS:
        setattr(sim.result, k, int(state["result"][k]))
    sim._next_sample = float(state["next_sample"])
    sim.result.backlog = sim.tables.samples()
    sim.result.online_ids = sim.tables.online_ids()
    sim._live = {i: d for i, d in live.items() if not sim._step(d).final}
    sim._open = {i: d for i, d in sim._live.items() if d.status not in (9, 10)}
    sim._returning = {p[0] for _, _, kind, p in state["heap"] if kind in ("bready", "breturn")}
    if sim.bundles is not None:
        sim.bundles.remember(live.values())
    if last[0] > 0:
        sim.engine.clock.set(datetime.fromtimestamp(last[0], sim.cal.tz))  # type: ignore[attr-defined]
    sim.result.resumed = True
    return True


def _load_live(sim: Simulator, pending: set[str]) -> dict[str, Dossier]:
    """The dossiers a resumed run works on: those with a pending task, and all not yet processed."""
    store = sim.engine.store
    ids = pending | {r[0] for r in store.execute("SELECT id FROM dossiers WHERE status NOT IN (9, 10)")}  # type: ignore[attr-defined]
    return {i: sim.engine.get(i) for i in sorted(ids)}  # opened: the run works on real values, as before
