"""Shared values and helpers of the personal-data tests."""

from __future__ import annotations

from procflow.dossier import Actor

BIRTH = "1.001193"
LAND = "1.012751"
NATIONAL_ID = "092123456789"
PHONE = "0912345678"
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": NATIONAL_ID,
         "parent_phone": PHONE}


def desk(code: str) -> Actor:
    return Actor(f"desk@{code}", code, {"one_stop_officer"})


def civil(code: str) -> Actor:
    return Actor(f"hotich@{code}", code, {"civil_status_officer"})
