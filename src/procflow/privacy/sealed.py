"""What a sealed personal value looks like outside the vault: the reference a snapshot or event holds in its
place, the key ids that name no key, and the plaintext encoding of a vault row.

Kept apart from ``procflow.privacy.vault`` because most readers of a reference (the engine, masking, the
exchange payload) only need to recognise one, not to open it; ``procflow.privacy.vault`` re-exports these
names, and ``procflow.privacy.rotation`` shares the plaintext encoding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ERASED", "MARKER", "PLAIN", "PLAINTEXT_JSON", "has_refs", "is_ref", "make_ref", "normalise_id",
           "parse_ref"]

MARKER = "$vault"
PLAIN = "plain"  # key id of values stored unencrypted (Vault(encrypt=False))
ERASED = "erased"  # key id of values erased by retention



def make_ref(dossier_id: str, seq: int, field: str) -> dict[str, str]:
    return {MARKER: f"{dossier_id}/{seq}/{field}"}


def is_ref(value: Any) -> bool:
    return type(value) is dict and MARKER in value


def parse_ref(value: Mapping[str, str]) -> tuple[str, int, str]:
    dossier_id, seq, field = value[MARKER].rsplit("/", 2)
    return dossier_id, int(seq), field


def has_refs(data: Mapping[str, Any]) -> bool:
    for v in data.values():
        if type(v) is dict and MARKER in v:
            return True
    return False


PLAINTEXT_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def normalise_id(value: Any) -> str:
    return "".join(str(value).split())

