"""Typed errors: every refusal procflow makes is one of these.

::

    ProcflowError
    ├── DefinitionError (ValueError)        a procedure definition is malformed; .problems lists each one
    │   └── CatalogueError                  a province's catalogue file is malformed (row N, column C)
    ├── InvalidData (ValueError)            dossier data the procedure does not declare / a missing field
    ├── JurisdictionError (LookupError)
    │   └── UnknownAgency                   an agency / province / commune code that does not exist
    ├── TransitionNotAllowed                the trigger cannot fire from the dossier's state
    │   └── GuardRejected                   a named guard said no
    ├── NotCustodian (PermissionError)      the acting agency does not hold the dossier, or the wrong level
    ├── RoleNotGranted (PermissionError)    the custodian agency's official lacks the role the step needs
    ├── AccessDenied (PermissionError)      a read by an agency off the dossier's custody path
    ├── UnknownOfficial (PermissionError)   the identity provider does not know the acting official (or not
    │                                       for that agency, or not on that date)
    ├── CredentialError (PermissionError)   the operator's credential file is missing, unsafe or wrong
    ├── DelegationRefused (PermissionError) an operator acting for an official the directory does not let them
    ├── DirectoryError (ValueError)         a bad change to the officials directory; .row / .column for imports
    ├── ConcurrencyConflict                 the dossier changed since it was read (optimistic version check)
    ├── DossierNotFound (KeyError)
    ├── StoreError                          the store refused (schema mismatch, definition conflict, ...)
    ├── CalendarError (ValueError)          a date the working calendar cannot count
    ├── ExtensionRefused (ValueError)       form 04: after the due date, a second time, no reason, bad date
    ├── FormNotAvailable (LookupError)      a one-stop form the dossier's history does not support
    ├── PluginError                         a plugin failed to load or implements a hook wrongly
    ├── AdapterError                        an adapter failed to deliver
    │   ├── RetryableAdapterError
    │   └── PermanentAdapterError
    ├── KeysUnavailable                     a key the vault needs is not in the key provider
    ├── VaultError                          a vault value could not be read (missing, wrong key, tampered)
    ├── AnchorUnavailable                   no checkpoint key to anchor the log, or an unreadable anchor file
    ├── MigrationRefused                    in-flight dossiers cannot move to another unit or version
    ├── HandoffError (ValueError)           the sending node cannot export a hand-off
    ├── UsageError (ValueError)             an argument the API cannot use (a naive datetime, a batch of 0,
    │                                       time going backwards on a FakeClock, an unknown state name)
    └── EnvelopeRejected (ValueError)       an XML envelope failed a check; .reason is a stable code;
                                            one subclass per code in procflow.exchange.errors

Messages name what was wrong and where. Third-party errors are converted at the boundary with
``raise ... from exc`` so callers only need to catch ``ProcflowError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from procflow.migrate import Refusal

__all__ = [
    "AccessDenied",
    "AdapterError",
    "AnchorUnavailable",
    "CalendarError",
    "CalendarWarning",
    "CatalogueError",
    "ConcurrencyConflict",
    "CredentialError",
    "DefinitionError",
    "DelegationRefused",
    "DirectoryError",
    "DossierNotFound",
    "EnvelopeRejected",
    "ExtensionRefused",
    "FormNotAvailable",
    "GuardRejected",
    "HandoffError",
    "InvalidData",
    "JurisdictionError",
    "KeysUnavailable",
    "MigrationRefused",
    "NotCustodian",
    "PermanentAdapterError",
    "PluginError",
    "Problem",
    "ProcflowError",
    "RetryableAdapterError",
    "RoleNotGranted",
    "StoreError",
    "TransitionNotAllowed",
    "UnknownAgency",
    "UnknownOfficial",
    "UsageError",
    "VaultError",
]


class ProcflowError(Exception):
    """Root of every error procflow raises on purpose."""

    def __str__(self) -> str:
        # Last line of defence (rule 5): a message that quotes input may carry a citizen's ID or phone
        # number; printed, logged or shown in a traceback, it is masked by pattern (procflow.privacy.masking).
        from procflow.privacy.masking import mask_text

        return mask_text(super().__str__())


@attrs.frozen
class Problem:
    """One thing wrong in a definition, located by file and key path (e.g. ``transitions[2].dest``)."""

    path: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.path}: {self.message}"


class DefinitionError(ProcflowError, ValueError):
    """A procedure definition is malformed. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem] | Problem | str, *, file: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems, file)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.file = file
        head = f"{len(self.problems)} problem(s) in procedure definition"
        if file:
            head += f" {file}"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class InvalidData(ProcflowError, ValueError):
    """Dossier data that the procedure does not declare, or a required field that is missing."""

    def __init__(self, message: str, *, dossier_id: str | None = None, field: str | None = None) -> None:
        self.dossier_id = dossier_id
        self.field = field
        super().__init__(message)


class JurisdictionError(ProcflowError, LookupError):
    """An administrative division or agency question that has no answer."""


class UnknownAgency(JurisdictionError):
    """A code that names no known agency, province or commune."""

    def __init__(self, code: str, *, kind: str = "agency", hint: str | None = None) -> None:
        self.code = code
        self.kind = kind
        msg = f"unknown {kind} code {code!r}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class TransitionNotAllowed(ProcflowError):
    """The trigger cannot fire from the dossier's current state."""

    def __init__(
        self,
        *,
        dossier_id: str,
        state: str,
        trigger: str,
        allowed: Iterable[str] = (),
        reason: str | None = None,
    ) -> None:
        self.dossier_id = dossier_id
        self.state = state
        self.trigger = trigger
        self.allowed = tuple(sorted(allowed))
        msg = reason or (
            f"dossier {dossier_id}: trigger {trigger!r} is not allowed in state {state!r}; "
            f"allowed here: {', '.join(self.allowed) or '(none — final state)'}"
        )
        super().__init__(msg)


class GuardRejected(TransitionNotAllowed):
    """A named guard refused the transition."""

    def __init__(self, *, dossier_id: str, state: str, trigger: str, guard: str, detail: str = "") -> None:
        self.guard = guard
        msg = f"dossier {dossier_id}: guard {guard!r} refused trigger {trigger!r} in state {state!r}"
        if detail:
            msg += f": {detail}"
        super().__init__(dossier_id=dossier_id, state=state, trigger=trigger, reason=msg)


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


class ConcurrencyConflict(ProcflowError):
    """The dossier was changed by someone else since it was read; re-read and retry."""

    def __init__(self, *, dossier_id: str, expected_version: int, actual_version: int | None) -> None:
        self.dossier_id = dossier_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"dossier {dossier_id}: expected version {expected_version}, store has {actual_version}"
        )


class DossierNotFound(ProcflowError, KeyError):
    def __init__(self, dossier_id: str) -> None:
        self.dossier_id = dossier_id
        super().__init__(f"no dossier {dossier_id!r} in this store")

    def __str__(self) -> str:  # KeyError would repr() the message (masked like every ProcflowError)
        from procflow.privacy.masking import mask_text

        return mask_text(str(self.args[0]))


class StoreError(ProcflowError):
    """The store refused an operation (schema version, conflicting definition registration, ...)."""


class CalendarError(ProcflowError, ValueError):
    """A date or duration the working calendar cannot count."""


class ExtensionRefused(ProcflowError, ValueError):
    """An extension (form 04, văn bản xin lỗi và đề nghị gia hạn) that may not be issued: the due date has
    passed, the dossier was already extended once, the clock is stopped, or the reason / new date is unfit."""

    def __init__(self, message: str, *, dossier_id: str, rule: str) -> None:
        self.dossier_id = dossier_id
        self.rule = rule  # stable code: after_due, already_extended, no_reason, bad_date, clock_stopped
        super().__init__(f"dossier {dossier_id}: form 04 refused: {message}")


class FormNotAvailable(ProcflowError, LookupError):
    """A one-stop form (Circular 03/2025/TT-VPCP, Annex I) that cannot be built: an unknown form number,
    or a dossier whose history has no such act (no refusal for form 03, no extension for form 04, ...)."""

    def __init__(self, message: str, *, form: str, dossier_id: str | None = None) -> None:
        self.form = form
        self.dossier_id = dossier_id
        super().__init__(message)

    def __str__(self) -> str:  # LookupError is fine with str(); keep the message as given (masked)
        from procflow.privacy.masking import mask_text

        return mask_text(str(self.args[0]))


class CalendarWarning(UserWarning):
    """A date outside the years whose substituted days off the holiday data knows."""


class PluginError(ProcflowError):
    """A plugin failed to import, or implements a hook with the wrong signature."""


class AdapterError(ProcflowError):
    """An adapter could not deliver a message. Subclasses say whether retrying can help."""

    retryable: bool = True


class RetryableAdapterError(AdapterError):
    retryable = True


class PermanentAdapterError(AdapterError):
    retryable = False


class EnvelopeRejected(ProcflowError, ValueError):
    """An inter-agency XML envelope was refused before anything was stored. ``reason`` is a stable code."""

    reason: str = "rejected"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(f"[{self.reason}] {message}")


class KeysUnavailable(ProcflowError):
    """A key the vault needs is not in the key provider (wrong keyring, or a key retired too early)."""


class VaultError(ProcflowError):
    """A vault value could not be read (missing row, wrong key, tampered ciphertext)."""


class AnchorUnavailable(ProcflowError):
    """No checkpoint key (``procflow keys init --checkpoint``; never made silently), or an anchor file
    (``procflow audit checkpoints export``) that cannot be read (``procflow.privacy.checkpoint``)."""


class MigrationRefused(ProcflowError):
    """Some in-flight dossiers cannot be moved; ``refused`` lists each with the reason. Nothing was moved."""

    def __init__(self, refused: list[Refusal], *, what: str) -> None:
        self.refused = refused
        shown = "\n".join(f"  - {r}" for r in refused[:50])
        more = f"\n  … and {len(refused) - 50} more" if len(refused) > 50 else ""
        super().__init__(f"{what}: {len(refused)} in-flight dossier(s) cannot be moved, so none was "
                         f"(fix them, or pass partial to move the others):\n{shown}{more}")


class CatalogueError(DefinitionError):
    """A catalogue file is malformed; ``problems`` locates each one as ``row N, column C``. Nothing of the
    catalogue was imported."""

    def __init__(self, problems: Sequence[Problem] | Problem | str, *, file: str | None = None) -> None:
        super().__init__(problems, file=file)
        head = f"{len(self.problems)} problem(s) in catalogue" + (f" {file}" if file else "")
        self.args = (head + ", nothing imported:\n" + "\n".join(f"  - {p.path}: {p.message}"
                                                               for p in self.problems),)

    def one_line(self, limit: int = 5) -> str:
        """Every problem on one line (the CLI's refusal), the first ``limit`` of them spelt out."""
        shown = "; ".join(f"{p.path}: {p.message}" for p in self.problems[:limit])
        more = len(self.problems) - limit
        where = f"{self.file}: " if self.file else ""
        return (f"{where}catalogue refused, nothing imported ({len(self.problems)} problem(s)): {shown}"
                + (f"; and {more} more" if more > 0 else ""))


class HandoffError(ProcflowError, ValueError):
    """The sending node cannot export this hand-off (unknown or untrusted recipient, dossier not theirs)."""


class UsageError(ProcflowError, ValueError):
    """The caller passed something the API cannot use. A ValueError too, so code written against the standard
    convention keeps working; being a ProcflowError lets an embedder catch every procflow refusal in one place."""
