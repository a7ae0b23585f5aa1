"""Fixtures for the adapter SDK tests (helpers live in ``adapter_support``)."""

from __future__ import annotations

import pytest

from procflow.definition.reader import bundled_definitions


@pytest.fixture
def commune(registry) -> str:
    return registry.communes_of("92")[0].code


@pytest.fixture
def bundled():
    return {d.code: d for d in bundled_definitions()}
