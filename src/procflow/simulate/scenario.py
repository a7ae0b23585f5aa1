"""What a simulation run assumes: the province, the period, the citizens' demand and officials' behaviour.

Defaults follow public figures (see DESIGN.md "Scale"): ~6 officials per commune centre, tens of dossiers
per commune per working day, ~40 % filed online, a few % location-independent. Every number is a field,
so a province can tune the scenario to its own statistics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import attrs

from procflow.dossier import Dossier
from procflow.simulate.faults import Fault

__all__ = ["DEFAULT_PROFILES", "ONLINE_INTAKE", "Choice", "Scenario", "with_online_intake"]


@attrs.frozen
class Choice:
    """One thing an official (or the citizen) may do with a dossier in a state.

    ``delay`` says what must happen before the trigger fires:
    ``work`` — an official of the custodian agency spends ``minutes`` of office time;
    ``citizen`` — the citizen comes back after 1..``days`` working days (supplement, payment), then a
    short desk task; ``wait`` — ``days`` calendar days pass (a public posting), then a short task;
    ``pickup`` — the citizen collects the result after 0..``days`` working days (0 when filed online);
    ``never`` — the citizen never comes back (only a timer, an expiring supplement request, closes it).
    """

    trigger: str
    weight: float = 1.0
    delay: str = "work"
    minutes: float = 20.0
    days: int = 0
    data: Mapping[str, Any] = attrs.field(factory=dict)
    when: Callable[[Dossier], bool] | None = None


_OK = {"documents_complete": True}


def _paid(d: Dossier) -> bool:
    return d.data.get("obligation_paid") is True


def _unpaid(d: Dossier) -> bool:
    return not _paid(d)


_SUPPLEMENT = (Choice("resubmit", 0.89, "citizen", minutes=10, days=6),
               Choice("withdraw", 0.08, "citizen", minutes=5, days=8),
               Choice("abandon", 0.03, "never"))  # the supplement_expiry timer closes these
_RETURN = (Choice("return_result", 1.0, "pickup", minutes=5, days=3),)

# Online filings (portal status 1) wait for the desk, which receives them (the limit starts), asks for a
# supplement first, or refuses them; states named as in every bundled procedure's online intake.
ONLINE_INTAKE: Mapping[str, tuple[Choice, ...]] = {
    "submitted_online": (Choice("receive_online", 0.96, minutes=6),
                         Choice("request_online_supplement", 0.03, minutes=5),
                         Choice("refuse_online", 0.01, minutes=4)),
    "online_supplement_requested": (Choice("resubmit_online", 0.9, "citizen", minutes=4, days=3),
                                    Choice("withdraw_online", 0.1, "citizen", minutes=3, days=5)),
}

DEFAULT_PROFILES: Mapping[str, Mapping[str, tuple[Choice, ...]]] = {
    # birth registration (đăng ký khai sinh)
    "1.001193": {
        "received": (Choice("accept", 0.99, minutes=8), Choice("refuse_receipt", 0.01, minutes=5)),
        "processing": (Choice("approve", 0.90, minutes=25, data=_OK),
                       Choice("request_supplement", 0.095, minutes=10),
                       Choice("stop_processing", 0.005, minutes=10)),
        "supplement_requested": _SUPPLEMENT,
        "processed": _RETURN,
    },
    # household business registration (đăng ký hộ kinh doanh)
    "2.000720": {
        "received": (Choice("accept", 1.0, minutes=10),),
        "reviewing": (Choice("approve", 0.85, minutes=45, data=_OK),
                      Choice("request_supplement", 0.12, minutes=15),
                      Choice("refuse", 0.03, minutes=20)),
        "supplement_requested": _SUPPLEMENT,
        "processed": _RETURN,
    },
    # first land registration (đăng ký đất đai lần đầu)
    # permanent-residence registration (đăng ký thường trú), mostly as a member of the liên thông bundle
    "1.004222": {
        "received": (Choice("accept", 0.98, minutes=10), Choice("refuse_receipt", 0.02, minutes=5)),
        "processing": (Choice("approve", 0.86, minutes=30, data=_OK),
                       Choice("request_verification", 0.09, minutes=15),
                       Choice("request_supplement", 0.04, minutes=10),
                       Choice("stop_processing", 0.01, minutes=10)),
        "verification": (Choice("verification_done", 1.0, "wait", minutes=20, days=2),),
        "supplement_requested": _SUPPLEMENT,
        "processed": _RETURN,
    },
    # health-insurance card for a child under 6 (thẻ BHYT trẻ em dưới 6 tuổi)
    "BHYT.TE6": {
        "received": (Choice("accept", 1.0, minutes=5),),
        "processing": (Choice("approve", 0.96, minutes=15, data=_OK),
                       Choice("request_supplement", 0.04, minutes=10)),
        "supplement_requested": _SUPPLEMENT,
        "processed": _RETURN,
    },
    "1.012751": {
        "received": (Choice("forward_to_commune", 1.0, minutes=15),),
        "commune_verification": (Choice("post_publicly", 0.60, minutes=90),
                                 Choice("request_survey", 0.30, minutes=30),
                                 Choice("request_supplement", 0.08, minutes=20),
                                 Choice("stop_processing", 0.02, minutes=20)),
        "cadastral_survey": (Choice("survey_done", 1.0, "citizen", minutes=240, days=4),),
        "public_posting": (Choice("posting_complete", 1.0, "wait", minutes=20, days=15),),
        "office_processing": (Choice("send_to_tax", 0.93, minutes=90, data=_OK, when=_unpaid),
                              Choice("request_supplement", 0.07, minutes=20, when=_unpaid),
                              Choice("issue_certificate", 1.0, minutes=120, data=_OK, when=_paid)),
        "tax_assessment": (Choice("notify_obligation", 1.0, minutes=60),),
        "awaiting_payment": (Choice("confirm_payment", 1.0, "citizen", minutes=10, days=8,
                                    data={"obligation_paid": True}),),
        "supplement_requested": (Choice("resubmit", 0.87, "citizen", minutes=10, days=8),
                                 Choice("withdraw", 0.1, "citizen", minutes=5, days=10),
                                 Choice("abandon", 0.03, "never")),
        "processed": _RETURN,
    },
}


def _extras() -> tuple[Mapping[str, Mapping[str, tuple[Choice, ...]]], Mapping[str, float]]:
    """Profiles and shares of the further commune procedures and the death liên thông group (issue 15),
    kept in ``procedure_profiles`` (imported here, late, because that module builds on ``Choice``)."""
    from procflow.simulate.procedure_profiles import EXTRA_MIX, EXTRA_PROFILES

    return EXTRA_PROFILES, EXTRA_MIX


def with_online_intake(profiles: Mapping[str, Mapping[str, tuple[Choice, ...]]],
                       ) -> dict[str, dict[str, tuple[Choice, ...]]]:
    """Every procedure's profile with the desk's handling of online filings (a profile's own states win)."""
    return {code: {**ONLINE_INTAKE, **states} for code, states in profiles.items()}


def _faults(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    # a named converter, not ``tuple``: mypy's attrs plugin cannot type a generic class used as converter
    return tuple(faults)


@attrs.frozen(kw_only=True)
class Scenario:
    province: str = "Cần Thơ"
    days: int = 30
    seed: int = 1
    start: date = date(2026, 4, 20)  # spans Hùng Kings' day, 30/4 and 1/5: the calendar matters
    # demand: by default the province's calibrated yearly volumes (procflow.simulate.calibration, cited in
    # simulate/data/calibration.toml) spread over communes by a population proxy; ``rate`` multiplies them.
    # ``volumes`` (code -> dossiers a year) replaces them (a catalogue run); a number here instead files that
    # many dossiers per commune per working day, shared out by ``procedure_mix`` (uncalibrated provinces: 12).
    rate: float = 1.0
    volumes: Mapping[str, float] | None = None
    dossiers_per_commune_day: float | None = None
    online_share: float = 0.40
    location_independent_share: float = 0.04
    officials_per_commune: int = 6
    officials_per_agency: int = 25  # a provincial office (land registration, tax) and its branches
    # sector agencies whose work is really done by many local units: residence registration is the commune
    # police's job, but the shipped agencies table has one police unit per province, so it gets their staff
    officials_by_kind: Mapping[str, int] = attrs.field(factory=lambda: {"police": 45})
    # a code is a procedure or a liên thông bundle (most births of children now come as the bundle)
    procedure_mix: Mapping[str, float] = attrs.field(factory=lambda: {
        "1.001193": 0.52, "LT.KS-TT-BHYT": 0.10, "2.000720": 0.30, "1.012751": 0.08, **_extras()[1]})
    profiles: Mapping[str, Mapping[str, tuple[Choice, ...]]] = attrs.field(
        factory=lambda: {**DEFAULT_PROFILES, **_extras()[0]}, converter=with_online_intake)
    commit_every: int = 2000  # group-commit size (events per transaction) for the simulated run
    faults: tuple[Fault, ...] = attrs.field(default=(), converter=_faults)  # see procflow.simulate.faults
    portal_sync: bool = False  # emit national-portal status messages to the outbox (and deliver them)

    def fingerprint(self) -> str:
        """What a checkpoint must match to be resumed: every field that changes the run's decisions."""
        profiles = {code: {state: [(c.trigger, c.weight, c.delay, c.minutes, c.days, sorted(c.data.items()),
                                    getattr(c.when, "__qualname__", None)) for c in choices]
                           for state, choices in sorted(states.items())}
                    for code, states in sorted(self.profiles.items())}
        fields = {f.name: getattr(self, f.name) for f in attrs.fields(Scenario) if f.name != "profiles"}
        fields["procedure_mix"] = sorted(self.procedure_mix.items())
        fields["faults"] = [str(f) for f in self.faults]
        text = repr(sorted((k, repr(v)) for k, v in fields.items())) + repr(profiles)
        return hashlib.sha256(text.encode()).hexdigest()
