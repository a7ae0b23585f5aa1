"""Built-in guards: pure, in-process checks on a dossier's data (never I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from procflow.dossier import Dossier

__all__ = ["BUILTIN_GUARDS", "documents_complete", "obligation_paid"]


def documents_complete(dossier: Dossier, data: Mapping[str, Any]) -> bool:
    """The officer has confirmed the dossier is complete (hồ sơ đầy đủ, hợp lệ)."""
    return data.get("documents_complete") is True


def obligation_paid(dossier: Dossier, data: Mapping[str, Any]) -> bool:
    """The financial obligation (nghĩa vụ tài chính) has been paid, or there was none."""
    return data.get("obligation_paid") is True


BUILTIN_GUARDS = {"documents_complete": documents_complete, "obligation_paid": obligation_paid}
