"""Reading a definition's [[timers]] table: anchors, offsets, actions and who is told.

Timers have the most cross-checks of any table (their states, triggers and recipients must exist), so they
read apart from the rest of the definition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from procflow.definition.checks import _enum, _Reader, did_you_mean
from procflow.definition.model import (
    MAX_CALENDAR_DAYS,
    MAX_HOURS,
    MAX_WORKING_DAYS,
    TIMER_RECIPIENTS,
    Step,
    TimerAction,
    TimerAnchor,
    TimerSpec,
    Transition,
)

_TIMER_KEYS = ("name", "anchor", "states", "working_days", "calendar_days", "hours", "at", "action", "trigger",
               "notify", "reassign_to", "extension_working_days", "text_vi", "text_en")


_OFFSETS = ("working_days", "calendar_days", "hours")


def _read_timers(r: _Reader, raw: Mapping[str, Any], states: list[Step],
                 transitions: list[Transition]) -> list[TimerSpec]:
    out: list[TimerSpec] = []
    seen: set[str] = set()
    names = [s.name for s in states]
    finals = {s.name for s in states if s.final}
    allowed: dict[str, set[str]] = {}
    for t in transitions:
        for src in t.source:
            allowed.setdefault(src, set()).add(t.trigger)
    for i, t in enumerate(r.get(raw, "timers", "", list, required=False, default=[])):
        p = f"timers[{i}]."
        if not isinstance(t, dict):
            r.problem(p[:-1], "expected a table")
            continue
        r.unknown_keys(t, _TIMER_KEYS, p)
        name = r.get(t, "name", p, str, default="")
        if name in seen:
            r.problem(f"{p}name", f"duplicate timer {name!r}")
        elif name and (not name.isascii() or not name.isidentifier()):
            r.problem(f"{p}name", f"{name!r} is not a valid timer name (letters, digits and underscores)")
        seen.add(name)
        anchor = _enum(r, t, "anchor", p, TimerAnchor, TimerAnchor.STATE)
        action = _enum(r, t, "action", p, TimerAction, TimerAction.NOTIFY)
        listed = r.strings(t, "states", p, one_ok=True)
        for j, s in enumerate(listed):
            if s not in names:
                r.problem(f"{p}states[{j}]", f"unknown state {s!r}" + did_you_mean(s, names))
            elif s in finals:
                r.problem(f"{p}states[{j}]", f"{s!r} is a final state: a finished dossier has no timers")
        if anchor is TimerAnchor.STATE and not listed and "states" not in t:
            r.problem(f"{p}states", "a timer with anchor = 'state' names the state(s) it counts from")
        live = tuple(listed) if listed else tuple(n for n in names if n not in finals)
        offsets = {k: r.get(t, k, p, int if k != "hours" else (int, float), required=False) for k in _OFFSETS
                   if k in t}
        at = r.get(t, "at", p, datetime, required=False)
        if anchor is TimerAnchor.ABSOLUTE:
            if at is None and "at" not in t:
                r.problem(f"{p}at", "a timer with anchor = 'absolute' needs at = <date-time with UTC offset>")
            elif at is not None and at.utcoffset() is None:
                r.problem(f"{p}at", "needs a UTC offset (e.g. 2026-12-31T17:00:00+07:00)")
            elif at is not None and not 2000 <= at.year <= 2100:
                r.problem(f"{p}at", f"must fall between the years 2000 and 2100, got {at.isoformat()}")
            for k in offsets:
                r.problem(f"{p}{k}", "an absolute timer has no offset; it fires at 'at'")
        else:
            if "at" in t:
                r.problem(f"{p}at", f"only anchor = 'absolute' takes 'at' (this timer counts from {anchor.value})")
            if len(offsets) > 1:
                r.problem(f"{p}{sorted(offsets)[1]}", f"give one of {', '.join(_OFFSETS)}, not several")
            elif not offsets and action is not TimerAction.OVERDUE:
                r.problem(p[:-1], f"needs an offset: one of {', '.join(_OFFSETS)}")
            limits = {"working_days": MAX_WORKING_DAYS, "calendar_days": MAX_CALENDAR_DAYS, "hours": MAX_HOURS}
            for k, v in list(offsets.items()):
                if v is None:
                    continue
                if not math.isfinite(v) or abs(v) > limits[k]:
                    r.problem(f"{p}{k}", f"must be a finite number of at most {limits[k]:,} (ten years), got {v!r}")
                    offsets[k] = None
                elif anchor is not TimerAnchor.DUE and v <= 0:
                    r.problem(f"{p}{k}", f"must be > 0: the timer fires after the dossier entered its "
                                         f"{anchor.value} (only anchor = 'due' counts backwards)")
                elif action is TimerAction.OVERDUE and v < 0:
                    r.problem(f"{p}{k}", "an overdue timer fires once the due date has passed: use >= 0")
        if action is TimerAction.OVERDUE and anchor is not TimerAnchor.DUE:
            r.problem(f"{p}anchor", "action = 'overdue' counts from the due date: use anchor = 'due'")
        trigger = r.get(t, "trigger", p, str, required=False)
        if action is TimerAction.FIRE:
            known = {x.trigger for x in transitions}
            if trigger is None and "trigger" not in t:
                r.problem(f"{p}trigger", "action = 'fire' names the trigger to fire")
            elif trigger is not None and trigger not in known:
                r.problem(f"{p}trigger", f"unknown trigger {trigger!r}" + did_you_mean(trigger, known))
            elif trigger is not None:
                bad = [s for s in live if s in names and s not in finals and trigger not in allowed.get(s, set())]
                if bad:
                    r.problem(f"{p}trigger", f"trigger {trigger!r} cannot be fired from state(s) "
                                             f"{', '.join(map(repr, bad))}, where this timer is live (narrow "
                                             "'states' or add the transition)")
        elif "trigger" in t:
            r.problem(f"{p}trigger", "only action = 'fire' fires a trigger")
        notify = tuple(r.strings(t, "notify", p, one_ok=True))
        for j, who in enumerate(notify):
            if who not in TIMER_RECIPIENTS:
                r.problem(f"{p}notify" + (f"[{j}]" if isinstance(t.get("notify"), list) else ""),
                          f"unknown recipient {who!r} (expected one of {', '.join(TIMER_RECIPIENTS)})")
        if action is TimerAction.NOTIFY and not notify and "notify" not in t:
            r.problem(f"{p}notify", "action = 'notify' names who is notified "
                                    f"({', '.join(TIMER_RECIPIENTS)})")
        notify = notify or {TimerAction.OVERDUE: ("citizen",), TimerAction.ESCALATE: ("head",)}.get(action, ())
        reassign = r.get(t, "reassign_to", p, str, required=False)
        if reassign is not None and action is not TimerAction.ESCALATE:
            r.problem(f"{p}reassign_to", "only action = 'escalate' reassigns")
        extension = r.get(t, "extension_working_days", p, int, required=False, default=1)
        if "extension_working_days" in t and action is not TimerAction.OVERDUE:
            r.problem(f"{p}extension_working_days", "only action = 'overdue' proposes a new date")
        elif isinstance(extension, int) and not 1 <= extension <= MAX_WORKING_DAYS:
            r.problem(f"{p}extension_working_days", f"must be between 1 and {MAX_WORKING_DAYS}")
            extension = 1
        hours = offsets.get("hours")
        out.append(TimerSpec(
            name=name, anchor=anchor, action=action, states=live, working_days=offsets.get("working_days"),
            calendar_days=offsets.get("calendar_days"), hours=None if hours is None else float(hours), at=at,
            trigger=trigger, notify=notify, reassign_to=reassign, extension_working_days=extension,
            text_vi=r.get(t, "text_vi", p, str, required=False, default=""),
            text_en=r.get(t, "text_en", p, str, required=False, default="")))
    return out

