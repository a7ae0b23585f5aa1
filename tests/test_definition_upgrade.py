"""A store made by the previous release keeps working: its registered definitions stay as they were, and
every bundled definition of this release registers beside them (a changed definition is a new version,
never new content under an old (code, version))."""

from __future__ import annotations

from pathlib import Path

import pytest

from procflow.definition.reader import bundled_definitions, parse_definition
from procflow.engine.core import Engine
from procflow.errors import StoreError
from procflow.store.sqlite import SQLiteStore

PREVIOUS = Path(__file__).parent / "data" / "release-2026-11"


def _previous():
    return [parse_definition(p.read_text(encoding="utf-8"), file=str(p)) for p in sorted(PREVIOUS.glob("*.toml"))]


def test_this_release_registers_beside_the_previous_one(tmp_path, registry):
    store = SQLiteStore(str(tmp_path / "old.db"))
    old = Engine(store, registry=registry)
    for d in _previous():
        old.register(d)
    engine = Engine(store, registry=registry)  # reopened by the new release
    for d in bundled_definitions():
        engine.register(d)  # StoreError here = new content under an old (code, version)
    keys = {d.key for d in engine.definitions()}
    assert {d.key for d in _previous()} <= keys
    store.close()


def test_changing_content_without_a_new_version_is_refused(tmp_path, registry):
    store = SQLiteStore(str(tmp_path / "old.db"))
    engine = Engine(store, registry=registry)
    first = _previous()[0]
    engine.register(first)
    with pytest.raises(StoreError, match="different content"):
        engine.register(parse_definition(first.source.replace("name_vi =", "# changed\nname_vi =", 1)))
    store.close()
