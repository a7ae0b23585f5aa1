"""Fixtures for the safety tests (helpers in ``safety_support``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from safety_support import make_app_store


@pytest.fixture
def app_store(tmp_path, registry) -> tuple[Path, list[str]]:
    path = tmp_path / "agency.db"
    return path, make_app_store(path, registry)
