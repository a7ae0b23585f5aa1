"""The identity seam: who the acting official is and which roles they hold, answered by a provider.

The engine asks, in this order: the provider passed as ``Engine(identity=…)``; else the plugins'
``procflow_resolve_official`` hook (``procflow.plugins.build_engine`` wires it); else the store's officials
directory (``procflow.privacy.directory``). A province plugs in its own — its LDAP, the national single sign-on, a
JWT verifier at its web edge — by implementing :class:`IdentityProvider` (one method) or the hook.

Whichever provider answers is the authority on who may act, from the first fire on: an official it does not
know is refused (``UnknownOfficial``), also when it knows nobody at all (a store whose directory was never
set up). There is no mode that takes a caller's ``Actor`` and its roles on trust — the refusal's message
says how to enrol officials instead (``unknown_reason``). Only procflow's own machinery, ``Actor.system``,
is never looked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from procflow.errors import PluginError
from procflow.privacy.directory import Directory, Official

if TYPE_CHECKING:
    import pluggy

__all__ = ["DirectoryIdentity", "HookIdentity", "IdentityProvider", "as_official", "unknown_reason"]


@runtime_checkable
class IdentityProvider(Protocol):
    """Answers "who is this official?" for the engine. Called once per official per engine (cached)."""

    def resolve_official(self, official_id: str) -> Official | None:
        """The official with their agency and granted roles, or None when the provider does not know them."""
        ...


class DirectoryIdentity:
    """The default provider: the store's officials directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def resolve_official(self, official_id: str) -> Official | None:
        if not self.directory.managed():  # empty, or a store opened without upgrading that predates it
            return None
        return self.directory.get(official_id)


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


_ENROL = ("enrol officials with `procflow officials init` then `procflow officials add`, or "
          "`procflow officials import FILE.csv` (in tests: the procflow_directory fixture or "
          "procflow.testing.StaffDirectory), or pass Engine(identity=...) for the province's own identity provider")


def unknown_reason(provider: IdentityProvider) -> str:
    """Why an official was refused as unknown, with how to fix it (one line; asked only on a refusal)."""
    if isinstance(provider, DirectoryIdentity):
        if not provider.directory.managed():
            return f"the officials directory of this store is empty, so no official may act yet: {_ENROL}"
        return ("not in the officials directory: an administrator adds them (`procflow officials add`, "
                "`procflow officials import FILE.csv`)")
    return f"the identity provider ({type(provider).__name__}) does not know this official"
