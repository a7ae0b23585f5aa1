"""Testing helpers for procflow users: fixtures, fake clock, strategies and the adapter conformance kit.

The pytest plugin (``procflow.testing.plugin``) is loaded by every pytest run in an environment where
procflow is installed, so this package imports nothing on its own: the names below load on first use, and a
project without hypothesis can still run its tests. The strategies live in ``procflow.testing.strategies``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procflow.testing.adapters import HookCall, RecordingAdapter
    from procflow.testing.clock import MONDAY, WorkingClock
    from procflow.testing.conformance import FAULTS, AdapterConformance, AdapterHarness, sample_messages
    from procflow.testing.stateful import EngineMachine, every_event_rule
    from procflow.testing.story import Story, StoryFactory

_HOMES = {
    "HookCall": "adapters", "RecordingAdapter": "adapters",
    "MONDAY": "clock", "WorkingClock": "clock",
    "FAULTS": "conformance", "AdapterConformance": "conformance", "AdapterHarness": "conformance",
    "sample_messages": "conformance",
    "EngineMachine": "stateful", "every_event_rule": "stateful",
    "Story": "story", "StoryFactory": "story",
}

__all__ = [
    "FAULTS",
    "MONDAY",
    "AdapterConformance",
    "AdapterHarness",
    "EngineMachine",
    "HookCall",
    "RecordingAdapter",
    "Story",
    "StoryFactory",
    "WorkingClock",
    "every_event_rule",
    "sample_messages",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'procflow.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"procflow.testing.{home}"), name)
    globals()[name] = value
    return value
