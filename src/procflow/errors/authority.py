"""Refusals of who may act on or read a dossier: the custodian agency, the official's roles, the identity
provider's word, the operator's credential and delegation, the officials directory.

Each is a ``PermissionError`` too (bar ``DirectoryError``); a refusal is audited and leaves the dossier
untouched (DESIGN.md invariant 4).
"""

from __future__ import annotations

from collections.abc import Iterable

from procflow.errors.base import ProcflowError

__all__ = [
    "AccessDenied",
    "CredentialError",
    "DelegationRefused",
    "DirectoryError",
    "NotCustodian",
    "OperatorRoleMissing",
    "RoleNotGranted",
    "UnknownOfficial",
]


class NotCustodian(ProcflowError, PermissionError):
    """Only the agency holding the dossier (at the allowed level, with an allowed role) may act on it."""

    def __init__(
        self,
        *,
        dossier_id: str,
        agency: str,
        custodian: str,
        trigger: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.dossier_id = dossier_id
        self.agency = agency
        self.custodian = custodian
        self.trigger = trigger
        msg = reason or (
            f"dossier {dossier_id} is held by {custodian}; agency {agency} may not fire "
            f"{trigger!r} (one custodian at a time — 1 cửa, 1 đầu mối)"
        )
        super().__init__(msg)


class RoleNotGranted(ProcflowError, PermissionError):
    """The custodian agency may act, but this official lacks the role the step needs (``official_roles``)."""

    def __init__(self, *, dossier_id: str, actor: str, trigger: str, needed: Iterable[str],
                 held: Iterable[str], claimed: bool = False) -> None:
        self.dossier_id = dossier_id
        self.actor = actor
        self.trigger = trigger
        self.needed = tuple(needed)
        self.held = tuple(sorted(held))
        self.claimed = claimed  # True: the caller claimed roles its identity provider does not grant
        if claimed:
            super().__init__(f"{actor} claims role(s) {', '.join(self.needed)} for {trigger!r}"
                             + (f" on dossier {dossier_id}" if dossier_id else "")
                             + f"; the identity provider grants {', '.join(self.held) or 'no roles'}")
        else:
            super().__init__(f"dossier {dossier_id}: trigger {trigger!r} needs role {' or '.join(self.needed)}; "
                             f"{actor} has {', '.join(self.held) or 'no roles'}")


class UnknownOfficial(ProcflowError, PermissionError):
    """The identity provider does not vouch for the acting official: unknown, of another agency, or outside
    the dates the official may act. Refused and audited; nothing else happens."""

    def __init__(self, *, actor: str, agency: str, reason: str) -> None:
        self.actor = actor
        self.agency = agency
        self.reason = reason
        super().__init__(f"{actor} ({agency}): {reason}")


class CredentialError(ProcflowError, PermissionError):
    """The operator credential the command line acts with is missing, readable by others, or not the one the
    officials directory holds."""


class OperatorRoleMissing(ProcflowError, PermissionError):
    """The operator is who their credential says, but a command that administers the whole store (keys,
    retention, restore, schema upgrade) needs a role the officials directory has not granted them. The message
    is the fix: the ``procflow officials grant`` command an administrator runs."""

    def __init__(self, *, operator: str, role: str, db: str | None = None, fix: str | None = None) -> None:
        self.operator = operator
        self.role = role
        super().__init__(f"{operator} does not hold the role {role} this command needs; " + (
            fix or f"an officials administrator grants it with: procflow officials grant {operator} --role {role}"
                   + (f" --db {db}" if db else "")))


class DelegationRefused(ProcflowError, PermissionError):
    """An operator named an official to act for (``--actor``) whom the directory does not delegate to them."""

    def __init__(self, *, operator: str, official: str, reason: str) -> None:
        self.operator = operator
        self.official = official
        super().__init__(f"{operator} may not act for {official}: {reason}")


class DirectoryError(ProcflowError, ValueError):
    """A change to the officials directory that cannot be made; ``row``/``column`` locate a bad import line."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.row = row
        self.column = column
        super().__init__(message)


class AccessDenied(ProcflowError, PermissionError):
    """A read refused: the agency is not on the dossier's custody path and has no oversight role."""

    def __init__(self, *, dossier_id: str, actor: str, agency: str, reason: str = "") -> None:
        self.dossier_id = dossier_id
        self.actor = actor
        self.agency = agency
        super().__init__(
            f"{actor} ({agency}) may not read dossier {dossier_id}" + (f": {reason}" if reason else "")
        )
