"""Save and restore a running simulation, so a killed ``procflow simulate`` resumes where it committed.

What the store does not already hold is small: the random generator's state, each agency's queue of
officials, the tasks already decided but not yet done (the arrivals are not saved: they are drawn again
from the seed, and those at or before the last processed event dropped), the counters, and when the next
backlog sample falls. It is written in the
same transaction as each group commit, so it always describes exactly the store it sits in. Dossiers are
not copied: the pending tasks name them by id and a resumed run reads them back.

A pending task never changes once decided (a task that must wait again is pushed anew, with a new sequence
number), so each one is encoded once, when the first checkpoint after its decision sees it, and kept until
it is taken: a group commit then costs its own new tasks, not the whole backlog of decided work again
(issue 17: re-encoding and sorting every pending task on each commit grew with the backlog).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from procflow.errors import StoreError
from procflow.simulate.resumable import RunPosition

if TYPE_CHECKING:
    from procflow.dossier import Dossier
    from procflow.simulate.runner import Simulator

__all__ = ["restore", "save"]

_VERSION = 1
_COUNTERS = ("filed", "fired", "refused", "online", "bundles")


def _choice_index(sim: Simulator) -> dict[tuple[Any, ...], Any]:
    """Per procedure, by identity (no attrs equality calls per task), the state a choice belongs to and its
    position there (a task outlives its state when a timer moves the dossier while the task waits: an
    expired supplement request withdraws a dossier whose citizen is still due)."""
    memo = sim.checkpoint_memo
    cached = memo.get("choice_index")
    if cached is None:
        cached = {}
        for code, states in sim.sc.profiles.items():
            for state, choices in states.items():
                for i, c in enumerate(choices):
                    cached.setdefault((code, id(c)), (state, i))
        memo["choice_index"] = cached
    return cached


def _encode(index: dict[tuple[Any, ...], Any], kind: str, payload: Any) -> list[Any]:
    """A task as JSON values. A choice is named by the state it belongs to and its position there, always:
    the encoding then depends on the task alone, not on where its dossier has moved since, so it is made
    once per task (``_Encoded``) and stays right while the task waits."""
    if kind == "ready":
        d, c, online = payload
        state, i = index[(d.procedure, id(c))]
        return [d.id, i, online, state]
    if kind == "fire":
        d, c, who, online = payload
        state, i = index[(d.procedure, id(c))]
        return [d.id, i, who, online, state]
    return list(payload)  # arrive, bready, breturn: plain values already


class _Encoded:
    """The JSON text of each pending task, by sequence number, from the last checkpoint on."""

    __slots__ = ("by_seq",)

    def __init__(self) -> None:
        self.by_seq: dict[int, str] = {}

    def heap_json(self, sim: Simulator) -> str:
        """The pending tasks as one JSON array (in heap order: a resumed run heapifies them again, and the
        (time, sequence) keys are unique, so it takes them in the same order). Only tasks decided since the
        last checkpoint are encoded; those taken since are dropped."""
        old, index = self.by_seq, _choice_index(sim)
        new: dict[int, str] = {}
        for ts, seq, kind, p in sim.pending_tasks():
            text = old.get(seq)
            if text is None:
                text = json.dumps([ts, seq, kind, _encode(index, kind, p)], separators=(",", ":"))
            new[seq] = text
        self.by_seq = new
        return "[" + ",".join(new.values()) + "]"


def _decode(sim: Simulator, kind: str, p: list[Any], live: dict[str, Dossier]) -> Any:
    if kind in ("ready", "fire"):
        d = live[p[0]]
        n = 3 if kind == "ready" else 4
        state = p[n] if len(p) > n else d.state
        c = sim.sc.profiles[d.procedure][state][p[1]]
        return (d, c, *p[2:n])
    return tuple(p)


def save(sim: Simulator, *, finished: bool) -> None:
    assert sim.tables is not None
    memo = sim.checkpoint_memo
    encoded = memo.get("encoded_tasks")
    if encoded is None:
        encoded = memo["encoded_tasks"] = _Encoded()
    version, internal, gauss = sim.rng.getstate()
    at = sim.position()
    state = {
        "v": _VERSION, "finished": finished, "last": list(at.last), "seq": at.seq,
        "rng": [version, list(internal), gauss], "next_sample": at.next_sample,
        "pools": at.pools,
        "result": {k: getattr(sim.result, k) for k in _COUNTERS},
    }
    text = json.dumps(state, separators=(",", ":"))
    sim.tables.save_checkpoint_text(sim.fingerprint, text[:-1] + ',"heap":' + encoded.heap_json(sim) + "}")


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
    position = RunPosition(last=(float(state["last"][0]), int(state["last"][1])), seq=int(state["seq"]),
                           next_sample=float(state["next_sample"]), pools=state["pools"])
    live = _load_live(sim, {p[0] for _, _, kind, p in state["heap"] if kind in ("ready", "fire")})
    sim.resume_from(position, [(ts, seq, kind, _decode(sim, kind, p, live)) for ts, seq, kind, p in state["heap"]],
                    live, {p[0] for _, _, kind, p in state["heap"] if kind in ("bready", "breturn")})
    version, internal, gauss = state["rng"]
    sim.rng.setstate((version, tuple(internal), gauss))
    for k in _COUNTERS:
        setattr(sim.result, k, int(state["result"][k]))
    sim.result.backlog = sim.tables.samples()
    sim.result.online_ids = sim.tables.online_ids()
    sim.result.resumed = True
    return True


def _load_live(sim: Simulator, pending: set[str]) -> dict[str, Dossier]:
    """The dossiers a resumed run works on: those with a pending task, and all not yet processed."""
    ids = pending | set(sim.engine.store.unreturned_dossier_ids())  # type: ignore[attr-defined]
    return {i: sim.engine.get(i) for i in sorted(ids)}  # opened: the run works on real values, as before
