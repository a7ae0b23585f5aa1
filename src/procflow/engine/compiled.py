"""A definition compiled once for the engine: its transition table and what each move does to the clock.

Compiled once per (code, version) and shared by every dossier of that version (DESIGN invariant 1), so a fire
looks its move up instead of walking the definition.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date

import attrs
from transitions import Machine

from procflow.definition.model import ProcedureDefinition, Step, Transition
from procflow.engine.timers import TimerTable

__all__ = [
    "CompiledDefinition",
    "VersionsInForce",
]

_log = logging.getLogger("procflow.engine.core")


@attrs.frozen
class CompiledDefinition:
    definition: ProcedureDefinition
    machine: Machine
    table: Mapping[tuple[str, str], Transition]
    steps: Mapping[str, Step]
    allowed: Mapping[str, tuple[str, ...]]
    # (state, trigger) → (source step, destination step, SLA clock surely unchanged): what a fire needs that
    # depends only on the definition, looked up once instead of recomputed per fire
    moves: Mapping[tuple[str, str], tuple[Step, Step, bool]] = attrs.field(factory=dict)
    timers: TimerTable | None = None  # None: no timers declared, and the hot path skips them entirely
    personal: Mapping[str, str] = attrs.field(factory=dict)  # {field: personal kind}: these go to the vault

    @classmethod
    def compile(cls, defn: ProcedureDefinition) -> CompiledDefinition:
        machine = Machine(
            model=None,
            states=[s.name for s in defn.states],
            initial=defn.initial,
            transitions=[{"trigger": t.trigger, "source": list(t.source), "dest": t.dest}
                         for t in defn.transitions],
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        # The hot path reads the machine's compiled event table directly (DESIGN invariant 1): the
        # destinations come from transitions' own Event/Transition objects, so the machine stays the
        # single source of truth, without paying its callback machinery on every fire.
        table = {}
        for t in defn.transitions:
            event = machine.events[t.trigger]
            for src in t.source:
                compiled_dest = event.transitions[src][0].dest
                assert compiled_dest is not None  # only internal transitions lack a dest; we add none
                table[(src, t.trigger)] = attrs.evolve(t, dest=compiled_dest) if compiled_dest != t.dest else t
        by_source: dict[str, list[str]] = {s.name: [] for s in defn.states}  # linear, not states × transitions
        for t in defn.transitions:
            for src in t.source:
                by_source.setdefault(src, []).append(t.trigger)
        allowed = {name: tuple(sorted(set(triggers))) for name, triggers in by_source.items()}
        steps = {s.name: s for s in defn.states}
        moves = {key: (steps[key[0]], steps[t.dest], _clock_fixed(defn, steps[key[0]], steps[t.dest]))
                 for key, t in table.items()}
        return cls(definition=defn, machine=machine, table=table, steps=steps, moves=moves,
                   allowed=allowed, timers=TimerTable.compile(defn),
                   personal={f.name: f.personal for f in defn.fields if f.personal is not None})


def _clock_fixed(defn: ProcedureDefinition, src: Step, dest: Step) -> bool:
    """Whether moving ``src`` → ``dest`` leaves any SLA clock as it is (``Engine._advance_clock`` returns it
    unchanged): same clock mode, and not the desk's receipt of an online filing (which starts the limit)."""
    leaves_online = src.name == defn.online_initial and src.name != dest.name
    return not leaves_online and src.clock is dest.clock



_LAPSED_TOLD: set[tuple[str, int]] = set()  # (procedure, version) whose lapse was logged: once per process


class VersionsInForce:
    """Which registered version of a procedure a dossier filed on a given day follows, remembered per
    (procedure, day): the highest version whose ``effective_from`` has come (a later version supersedes an
    earlier one from its first day). When that version's ``effective_until`` has passed too, no registered
    version is the law on that day: it is still used — a simulation or a deployment must go on — and a
    warning says so, once per version. ``clear`` after registering a version."""

    def __init__(self, compiled: Mapping[tuple[str, int], CompiledDefinition]) -> None:
        self._compiled = compiled
        self._chosen: dict[tuple[str, date], CompiledDefinition | None] = {}

    def clear(self) -> None:
        self._chosen.clear()

    def on(self, code: str, day: date) -> CompiledDefinition | None:
        """None: no version of ``code`` had started by ``day`` (the caller falls back to the latest)."""
        key = (code, day)
        if key in self._chosen:
            return self._chosen[key]
        best: CompiledDefinition | None = None
        for (c, _), entry in self._compiled.items():
            d = entry.definition
            if c == code and (d.effective_from is None or d.effective_from <= day) and (
                    best is None or d.version > best.definition.version):
                best = entry
        if best is not None:
            d = best.definition
            if d.effective_until is not None and day >= d.effective_until and (code, d.version) not in _LAPSED_TOLD:
                _LAPSED_TOLD.add((code, d.version))
                _log.warning("procedure %s: v%d stopped being the law on %s and no later version is registered; "
                             "dossiers filed from %s still follow v%d (register the version now in force)",
                             code, d.version, d.effective_until.isoformat(), day.isoformat(), d.version)
        if len(self._chosen) > 100_000:
            self._chosen.clear()
        self._chosen[key] = best
        return best
