"""Fixtures for the safety tests (helpers in ``safety_support``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from safety_support import make_app_store


@pytest.fixture
def app_store(tmp_path, registry, monkeypatch) -> tuple[Path, list[str]]:
    """An agency's store with dossiers, and this machine's operator enrolled in it (``backup``, ``restore``,
    ``db upgrade`` and the other commands that write or carry personal data act as them)."""
    from operator_support import use_operator

    from procflow.privacy.directory import STORE_ADMIN_ROLE

    path = tmp_path / "agency.db"
    ids = make_app_store(path, registry)
    use_operator(monkeypatch, str(path), roles={STORE_ADMIN_ROLE})  # restore, db upgrade: the store's admin
    return path, ids
