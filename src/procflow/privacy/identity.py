"""The identity seam: who the acting official is and which roles they hold, answered by a provider.

The engine asks, in this order: the provider passed as ``Engine(identity=…)``; else the plugins'
``procflow_resolve_official`` hook (``procflow.plugins.build_engine`` wires it); else the store's officials
directory (``procflow.privacy.directory``). A province plugs in its own — its LDAP, the national single sign-on, a
JWT verifier at its web edge — by implementing :class:`IdentityProvider` (one method) or the hook.

A provider is *managed* when it is the authority on who may act. The directory becomes managed once it
holds anyone (``procflow officials init``, the simulator's roster, the testing fixtures): a store that never
set up a directory keeps taking actors as the embedding code builds them, so code written before the
directory existed keeps running (the command line refuses to act on such a store). Providers given
explicitly and the hook are always managed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from procflow.errors import PluginError
from procflow.privacy.directory import Directory, Official

if TYPE_CHECKING:
    import pluggy

__all__ = ["DirectoryIdentity", "HookIdentity", "IdentityProvider", "as_official"]


@runtime_checkable
class IdentityProvider(Protocol):
    """Answers "who is this official?" for the engine. Called once per official per engine (cached)."""

    def resolve_official(self, official_id: str) -> Official | None:
        """The official with their agency and granted roles, or None when the provider does not know them."""
        ...

    def managed(self) -> bool:
        """True when only the officials this provider knows may act."""
        ...


class DirectoryIdentity:
    """The default provider: the store's officials directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def resolve_official(self, official_id: str) -> Official | None:
        return self.directory.get(official_id)

    def managed(self) -> bool:
        return self.directory.managed()


def as_official(value: Official | Mapping[str, Any], where: str) -> Official:
    """A hook's answer as an :class:`Official`: the record itself or a mapping of its fields."""
    if isinstance(value, Official):
        return value
    if isinstance(value, Mapping):
        try:
            return Official(id=str(value["id"]), name=str(value.get("name", value["id"])),
                            agency=str(value["agency"]), roles=frozenset(value.get("roles", ())),
                            valid_from=_date(value.get("valid_from")), valid_to=_date(value.get("valid_to")))
        except (KeyError, TypeError, ValueError) as exc:
            raise PluginError(f"{where}: an official needs id and agency (and roles): {exc}") from exc
    raise PluginError(f"{where}: expected an Official or a mapping, got {type(value).__name__}")


def _date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class HookIdentity:
    """The plugins' ``procflow_resolve_official`` hook as a provider (first plugin with an answer wins)."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def resolve_official(self, official_id: str) -> Official | None:
        found = self.pm.hook.procflow_resolve_official(official_id=official_id)
        return None if found is None else as_official(found, "procflow_resolve_official")

    def managed(self) -> bool:
        return True
