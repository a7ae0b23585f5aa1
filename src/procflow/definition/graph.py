"""The definition's graph check: every state reachable, every transition's ends known, guards registered.

Linear in the size of the definition (20,000 states check in under a second), since the check runs on
every load, including a province's whole catalogue.
"""

from __future__ import annotations

from collections.abc import Collection

from procflow.definition.checks import _Reader, did_you_mean
from procflow.definition.model import ProcedureDefinition, Transition


def _check_graph(r: _Reader, d: ProcedureDefinition, known_guards: Collection[str] | None) -> None:
    """Every state known, reachable and able to finish — in time linear in states + transitions (a 20,000-state
    definition is checked as fast as it is read)."""
    names = {s.name for s in d.states}
    if d.initial not in names:
        r.problem("initial", f"unknown state {d.initial!r}" + did_you_mean(d.initial, names))
    seen_pairs: dict[tuple[str, str], int] = {}
    outgoing: dict[str, list[Transition]] = {s: [] for s in names}
    for i, t in enumerate(d.transitions):
        if not t.trigger.isidentifier() or not t.trigger.isascii():
            r.problem(f"transitions[{i}].trigger", f"{t.trigger!r} is not a valid trigger name "
                                                   "(ASCII letters, digits and underscores)")
        for j, src in enumerate(t.source):
            if src not in names:
                r.problem(f"transitions[{i}].source[{j}]", f"unknown state {src!r}" + did_you_mean(src, names))
            else:
                outgoing[src].append(t)
            pair = (t.trigger, src)
            if pair in seen_pairs:
                r.problem(f"transitions[{i}].trigger", f"duplicate trigger {t.trigger!r} from state {src!r} "
                                                       f"(also transitions[{seen_pairs[pair]}])")
            seen_pairs[pair] = i
        if not t.source:
            r.problem(f"transitions[{i}].source", "needs at least one source state")
        if t.dest not in names:
            r.problem(f"transitions[{i}].dest", f"unknown state {t.dest!r}" + did_you_mean(t.dest, names))
        for j, g in enumerate(t.guards):
            if known_guards is not None and g not in known_guards:
                r.problem(f"transitions[{i}].guards[{j}]", f"unknown guard {g!r} (known: "
                                                           f"{', '.join(sorted(known_guards)) or 'none'})")
    for i, s in enumerate(d.states):
        if s.final and outgoing.get(s.name):
            r.problem(f"states[{i}].final", f"final state {s.name!r} has outgoing transitions")
        if not s.final and not outgoing.get(s.name):
            r.problem(f"states[{i}]", f"state {s.name!r} is a dead end but not marked final = true")
    if d.initial in names:
        roots = [d.initial] + ([d.online_initial] if d.online_initial in names else [])
        reached = set(roots)
        frontier = list(roots)
        while frontier:
            cur = frontier.pop()
            for t in outgoing[cur]:
                if t.dest not in reached and t.dest in names:
                    reached.add(t.dest)
                    frontier.append(t.dest)
        for i, s in enumerate(d.states):
            if s.name not in reached:
                r.problem(f"states[{i}]", f"state {s.name!r} is unreachable from the initial state "
                                          f"{d.initial!r}")
    if not any(s.final for s in d.states):
        r.problem("states", "no final state: every dossier must be able to finish")

