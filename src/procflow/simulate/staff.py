"""The simulated province's staff, registered in the officials directory before the run starts.

The simulator's officials act through the same identity check as real ones (``procflow.engine.authoriser``): each
agency of the province (and each ministry) gets the pool of officials the scenario gives it
(``official-N@<agency code>``), and each commune its one-stop desk (``desk@<code>``). They hold every role
the registered procedures use — a simulated office is generic staff, its choices come from the scenario.
All rows go in one statement batch (``Directory.register_system_roster``), so a run pays for it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from procflow.agency import Agency, Level
from procflow.engine.core import Engine
from procflow.privacy.directory import Official

__all__ = ["register_staff", "staff_roster"]


def staff_roster(engine: Engine, agencies: Iterable[Agency], pool_size: Callable[[str], int]) -> list[Official]:
    roles = frozenset({"one_stop_officer"} | {r for d in engine.definitions() for t in d.transitions for r in t.roles})
    roster: list[Official] = []
    for a in agencies:
        roster.extend(Official(id=f"official-{who}@{a.code}", name=f"Cán bộ {who + 1} ({a.code})", agency=a.code,
                               roles=roles) for who in range(pool_size(a.code)))
        if a.level is Level.COMMUNE:
            roster.append(Official(id=f"desk@{a.code}", name=f"Bộ phận một cửa ({a.code})", agency=a.code,
                                   roles=frozenset({"one_stop_officer"})))
    return roster


def register_staff(engine: Engine, province_code: str | None, pool_size: Callable[[str], int]) -> int:
    """Register the staff of ``province_code``'s agencies and of the ministries; returns how many (0 when the
    store holds them already)."""
    agencies = [a for a in engine.registry if a.province_code == province_code or a.level is Level.MINISTRY]
    roster = staff_roster(engine, agencies, pool_size)
    if {o.to_row() for o in roster} <= set(engine.store.official_rows()):  # type: ignore[attr-defined]
        return 0  # a resumed run: its staff is registered already (writing again would change the store)
    engine.directory.register_system_roster(roster)
    return len(roster)
