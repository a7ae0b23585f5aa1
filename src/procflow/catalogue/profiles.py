"""How officials and citizens behave on a catalogue procedure in ``procflow simulate --catalogue``.

Hand-written procedures carry their own behaviour (``procflow.simulate.scenario.DEFAULT_PROFILES``); the
hundreds of generated ones get a generic profile chosen by level and time limit: a same-day procedure is a
short desk task, a longer one needs more work (and, from 5 working days, waits for a verification or site
visit of about a third of its limit), province-level examinations take longer than commune ones, and a few
per cent are sent back for a supplement or refused. A hand-written definition without a profile gets one
read off its transitions (``profile_from_transitions``), so it never just sits in the backlog.
"""

from __future__ import annotations

from procflow.definition.model import ClockMode, ProcedureDefinition
from procflow.simulate.scenario import Choice

__all__ = ["generic_profile", "profile_for", "profile_from_transitions"]

_OK = {"documents_complete": True}
_SUPPLEMENT = (Choice("resubmit", 0.89, "citizen", minutes=10, days=6),
               Choice("withdraw", 0.08, "citizen", minutes=5, days=8),
               Choice("abandon", 0.03, "never"))  # the supplement_expiry timer closes these
_RETURN = (Choice("return_result", 1.0, "pickup", minutes=5, days=3),)


def generic_profile(level: str, limit_days: int) -> dict[str, tuple[Choice, ...]]:
    """The behaviour on the generated one-stop shape for a procedure of ``level`` with ``limit_days``."""
    province = level != "commune"
    if limit_days == 0:
        work, supplement = 15.0, 0.03
    elif limit_days <= 3:
        work, supplement = 35.0, 0.06
    elif limit_days <= 10:
        work, supplement = 60.0, 0.09
    else:
        work, supplement = 120.0, 0.12
    if province:
        work *= 1.5
    wait = round(limit_days / 3) if limit_days >= 5 else 0  # verification, site visit, consulting others
    submit = (Choice("submit", 1.0 - supplement - 0.02, "wait", minutes=work, days=wait, data=_OK) if wait
              else Choice("submit", 1.0 - supplement - 0.02, minutes=work, data=_OK))
    return {
        "received": (Choice("accept", 0.985, minutes=8), Choice("refuse_receipt", 0.015, minutes=5)),
        "assigned": (Choice("assign", 1.0, minutes=3),),
        "processing": (submit, Choice("request_supplement", supplement, minutes=10),
                       Choice("refuse", 0.02, minutes=15)),
        "approval": (Choice("approve", 1.0, minutes=5, data=_OK),),
        "supplement_requested": _SUPPLEMENT,
        "processed": _RETURN,
    }


_NEGATIVE = ("refuse", "reject", "withdraw", "stop", "cancel", "abandon", "deregister")
_SIDE = ("request_", "verify", "survey")


def profile_from_transitions(definition: ProcedureDefinition) -> dict[str, tuple[Choice, ...]]:
    """A plain profile for any definition, read off its transitions: in each state the forward triggers
    share most of the weight, requests (supplement, verification) ~8 %, refusals and withdrawals ~2 %;
    a state waiting on the citizen is answered within days, a result waiting at the desk is collected,
    an excluded step (a public posting) passes after its days."""
    out: dict[str, tuple[Choice, ...]] = {}
    ok = _OK if any(f.name == "documents_complete" for f in definition.fields) else {}
    for step in definition.states:
        if step.final:
            continue
        triggers = [t.trigger for t in definition.transitions if step.name in t.source]
        if step.portal_status == 9:
            pick = [t for t in triggers if "return" in t] or triggers
            out[step.name] = tuple(Choice(t, 1.0, "pickup", minutes=5, days=3) for t in pick)
            continue
        neg = [t for t in triggers if t.startswith(_NEGATIVE)]
        side = [t for t in triggers if t.startswith(_SIDE) and t not in neg]
        fwd = [t for t in triggers if t not in neg and t not in side] or side or neg
        if step.clock is ClockMode.CITIZEN:
            choices = [Choice(t, 0.9 / len(fwd), "citizen", minutes=10, days=6, data=ok) for t in fwd]
        elif step.clock is ClockMode.EXCLUDED:
            choices = [Choice(t, 1.0 / len(fwd), "wait", minutes=10, days=15, data=ok) for t in fwd]
        else:
            choices = [Choice(t, 0.9 / len(fwd), minutes=30, data=ok) for t in fwd]
        if fwd is not side:
            choices += [Choice(t, 0.08 / len(side), minutes=10) for t in side]
        if fwd is not neg:
            choices += [Choice(t, 0.02 / len(neg), "citizen" if step.clock is ClockMode.CITIZEN else "work",
                               minutes=5, days=8) for t in neg]
        out[step.name] = tuple(choices)
    return out


def profile_for(definition: ProcedureDefinition) -> dict[str, tuple[Choice, ...]]:
    """The generated shape gets ``generic_profile``; anything else ``profile_from_transitions``."""
    states = {s.name for s in definition.states}
    if {"received", "assigned", "processing", "approval", "processed"} <= states and \
            {t.trigger for t in definition.transitions} >= {"accept", "assign", "submit", "approve"}:
        return generic_profile(definition.level, definition.sla_days)
    return profile_from_transitions(definition)
