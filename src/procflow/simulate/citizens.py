"""Synthetic citizens and demand: plausible but invented values, drawn from the run's one random stream."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from procflow.definition.model import FieldSpec, ProcedureDefinition

__all__ = ["poisson", "synthetic_data"]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


_GIVEN = ("Minh", "Lan", "Hùng", "Thảo", "Quang", "Ngọc", "Tuấn", "Hương", "Đức", "Phương")
_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi")


def synthetic_data(fields: list[FieldSpec] | ProcedureDefinition, rng: random.Random) -> dict[str, object]:
    """Synthetic citizens: plausible but invented values for the declared fields."""
    out: dict[str, object] = {}
    for f in fields.fields if isinstance(fields, ProcedureDefinition) else fields:
        if f.name in ("documents_complete", "obligation_paid"):
            continue
        if f.personal == "national_id":
            out[f.name] = f"092{rng.randrange(10**9):09d}"
        elif f.personal == "phone":
            out[f.name] = f"09{rng.randrange(10**8):08d}"
        elif f.personal == "name":
            out[f.name] = f"{rng.choice(_FAMILY)} Văn {rng.choice(_GIVEN)}"
        elif f.personal == "address":
            out[f.name] = f"Số {rng.randint(1, 300)}, đường {rng.choice(_GIVEN)}"
        elif f.type in ("date", "datetime"):
            out[f.name] = (date(2026, 1, 1) + timedelta(days=rng.randrange(100))).isoformat()
        elif f.type == "int":
            out[f.name] = rng.randrange(10, 500) * 1_000_000
        elif f.type == "decimal":
            out[f.name] = round(rng.uniform(50, 600), 1)
        elif f.required:
            out[f.name] = f"{f.name}-{rng.randrange(10**6)}"
    return out
