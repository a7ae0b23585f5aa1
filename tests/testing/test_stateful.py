"""The engine's invariants under random legal and illegal triggers: 200 examples of up to 50 steps."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from procflow.testing.stateful import EngineMachine

TestEngineInvariants = EngineMachine.TestCase
TestEngineInvariants.settings = settings(max_examples=200, stateful_step_count=50, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
