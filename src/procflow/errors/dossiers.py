"""Refusals about a dossier itself: a move its state or guards do not allow, a change that lost a race, a
dossier that is not there, a form or extension its history does not support, a migration that would strand
it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from procflow.errors.base import ProcflowError

if TYPE_CHECKING:
    from procflow.migrate import Refusal

__all__ = [
    "ConcurrencyConflict",
    "DossierNotFound",
    "ExtensionRefused",
    "FormNotAvailable",
    "GuardRejected",
    "MigrationRefused",
    "TransitionNotAllowed",
]


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
    """No dossier with this id in the store (a ``KeyError`` too, as a lookup that found nothing)."""

    def __init__(self, dossier_id: str) -> None:
        self.dossier_id = dossier_id
        super().__init__(f"no dossier {dossier_id!r} in this store")

    def __str__(self) -> str:  # KeyError would repr() the message (masked like every ProcflowError)
        from procflow.privacy.masking import mask_text

        return mask_text(str(self.args[0]))


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


class MigrationRefused(ProcflowError):
    """Some in-flight dossiers cannot be moved; ``refused`` lists each with the reason. Nothing was moved."""

    def __init__(self, refused: list[Refusal], *, what: str) -> None:
        self.refused = refused
        shown = "\n".join(f"  - {r}" for r in refused[:50])
        more = f"\n  … and {len(refused) - 50} more" if len(refused) > 50 else ""
        super().__init__(f"{what}: {len(refused)} in-flight dossier(s) cannot be moved, so none was "
                         f"(fix them, or pass partial to move the others):\n{shown}{more}")
