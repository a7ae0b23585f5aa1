"""What an engine remembers about the dossiers it wrote or read lately, kept off the records themselves.

Two facts save work on the hot path, and both used to ride on ``Dossier`` as hidden fields: the hash of a
dossier's last event (the next event links to it; without it every fire reads it back from the store), and
the vault references of its personal values (an outbox payload carries the reference, not the value; without
them the store row is read and the vault opened again). A record is the caller's value; bookkeeping that
only this engine can keep up to date belongs to the engine, bounded so it never grows with the number of
live dossiers (first-remembered dossiers are forgotten first; forgetting costs one store read later).

Every fact is checked before it is trusted: a head only for the revision it was remembered at, and a
reference only when the value it was made for is still the record's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from typing import Any

from procflow.engine.payloadrefs import Sealed  # {field: (real value, vault reference)}
from procflow.privacy.sealed import is_ref

__all__ = ["RecordMemo"]


class RecordMemo:
    """dossier id → [revision, head hash, sealed references]; at most ``limit`` dossiers."""

    __slots__ = ("_rows", "limit")

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._rows: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def _row(self, dossier_id: str) -> list[Any]:
        row = self._rows.get(dossier_id)
        if row is None:
            if len(self._rows) >= self.limit:  # forget the first-remembered tenth in one go
                for key in list(islice(self._rows, max(1, self.limit // 10))):
                    del self._rows[key]
            row = self._rows[dossier_id] = [0, None, None]
        return row

    def head(self, dossier_id: str, revision: int) -> bytes | None:
        """The hash of event ``revision`` of the dossier, if remembered for exactly that revision."""
        row = self._rows.get(dossier_id)
        return row[1] if row is not None and row[0] == revision else None

    def set_head(self, dossier_id: str, revision: int, head: bytes | None) -> None:
        row = self._row(dossier_id)
        row[0], row[1] = revision, head

    def sealed(self, dossier_id: str) -> Sealed | None:
        row = self._rows.get(dossier_id)
        return None if row is None else row[2]

    def set_sealed(self, dossier_id: str, sealed: Sealed | None) -> None:
        self._row(dossier_id)[2] = sealed

    def set_refs(self, dossier_id: str, real: Mapping[str, Any], stored: Mapping[str, Any]) -> None:
        """Remember the vault references among ``stored`` (a row as written) with the values ``real`` holds
        for the same fields."""
        self.set_sealed(dossier_id, {k: (real[k], v) for k, v in stored.items() if is_ref(v)})

    def forget(self, dossier_id: str) -> None:
        self._rows.pop(dossier_id, None)

    def clear(self) -> None:
        self._rows.clear()
