"""Behaviour profiles and demand shares for the commune procedures added in issue 15, and the second
liên thông group (death registration → residence deregistration → funeral allowance, Decree 63/2024/ND-CP).

Kept apart from ``scenario.py`` (whose volumes are calibrated separately) so the two can change on their own;
``scenario.DEFAULT_PROFILES`` and the default mix merge these in. Shares are relative weights in the mix: a
commune's one-stop desk certifies copies all day (chứng thực is the largest item of its volume), registers a
few marriages and deaths a week, and most deaths of insured people now come as the liên thông group.
"""

from __future__ import annotations

from collections.abc import Mapping

from procflow.simulate.scenario import _OK as OK
from procflow.simulate.scenario import _RETURN as RETURN
from procflow.simulate.scenario import _SUPPLEMENT as SUPPLEMENT
from procflow.simulate.scenario import DEFAULT_PROFILES, Choice
from procflow.simulate.scenario import _paid as paid
from procflow.simulate.scenario import _unpaid as unpaid

__all__ = ["EXTRA_MIX", "EXTRA_PROFILES"]


def _same_day(officer_minutes: float, *, verify: float = 0.0, verify_days: int = 0) -> dict[str, tuple[Choice, ...]]:
    """A commune procedure decided at once (or after a verification that does not count)."""
    processing = [Choice("approve", 0.95 - verify, minutes=officer_minutes, data=OK),
                  Choice("request_supplement", 0.04, minutes=8), Choice("stop_processing", 0.01, minutes=8)]
    profile: dict[str, tuple[Choice, ...]] = {
        "received": (Choice("accept", 0.99, minutes=5), Choice("refuse_receipt", 0.01, minutes=4)),
        "supplement_requested": SUPPLEMENT,
        "processed": RETURN,
    }
    if verify:
        processing.append(Choice("request_verification", verify, minutes=15))
        profile["verifying"] = (Choice("verification_done", 1.0, "wait", minutes=20, days=verify_days),)
    profile["processing"] = tuple(processing)
    return profile


EXTRA_PROFILES: Mapping[str, Mapping[str, tuple[Choice, ...]]] = {
    "1.000894": _same_day(30, verify=0.10, verify_days=3),  # marriage registration (đăng ký kết hôn)
    "1.000656": _same_day(20, verify=0.05, verify_days=2),  # death registration (đăng ký khai tử)
    "2.000815": _same_day(4),  # certification of copies from originals (chứng thực bản sao)
    "2.000635": _same_day(8),  # copies of civil-status extracts (bản sao trích lục hộ tịch)
    "1.004873": _same_day(20, verify=0.08, verify_days=10),  # marriage-status confirmation
    "CA.XOA-TT": _same_day(20),  # deregistration of permanent residence (xóa đăng ký thường trú)
    "BHXH.MAI-TANG": _same_day(25),  # funeral allowance (trợ cấp mai táng)
    # first land registration: version 1's states (before Decree 151/2025, in scenario.DEFAULT_PROFILES) and
    # the two states version 2 adds (the commune reviews and issues; the office updates the cadastre)
    "1.012751": {
        **DEFAULT_PROFILES["1.012751"],
        "commune_review": (Choice("send_to_tax", 0.93, minutes=90, data=OK, when=unpaid),
                           Choice("request_supplement", 0.07, minutes=20, when=unpaid),
                           Choice("issue_certificate", 1.0, minutes=60, data=OK, when=paid)),
        "cadastre_update": (Choice("update_cadastre", 1.0, minutes=60),),
    },
}

# relative weights beside the calibrated mix in scenario.py (its own shares sum to about 1)
EXTRA_MIX: Mapping[str, float] = {
    "2.000815": 0.30,   # certification of copies: the bulk of a commune desk's day
    "2.000635": 0.05,   # civil-status extract copies
    "1.004873": 0.04,   # marriage-status confirmation
    "1.000894": 0.03,   # marriage registration
    "1.000656": 0.01,   # death registration on its own
    "1.011537": 0.02,   # the death liên thông group (bundle)
}
