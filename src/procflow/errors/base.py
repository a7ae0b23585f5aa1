"""The root of procflow's error tree, and the refusal of an argument the API cannot use.

Every other module of ``procflow.errors`` derives from :class:`ProcflowError`; it lives here, apart from
the package's ``__init__`` (which re-exports the whole tree), so those modules import it without a cycle.
"""

from __future__ import annotations

__all__ = ["ProcflowError", "UsageError"]


class ProcflowError(Exception):
    """Root of every error procflow raises on purpose."""

    def __str__(self) -> str:
        # Last line of defence (rule 5): a message that quotes input may carry a citizen's ID or phone
        # number; printed, logged or shown in a traceback, it is masked by pattern (procflow.privacy.masking).
        from procflow.privacy.masking import mask_text

        return mask_text(super().__str__())


class UsageError(ProcflowError, ValueError):
    """The caller passed something the API cannot use. A ValueError too, so code written against the standard
    convention keeps working; being a ProcflowError lets an embedder catch every procflow refusal in one place."""
