"""Simulate a province's one-stop offices on simulated time (the ``procflow simulate`` main job)."""

from procflow.simulate.faults import Fault, parse_fault
from procflow.simulate.job import run_simulation
from procflow.simulate.result import SimulationResult
from procflow.simulate.runner import Simulator, add_office_time
from procflow.simulate.scenario import DEFAULT_PROFILES, Choice, Scenario

__all__ = [
    "DEFAULT_PROFILES",
    "Choice",
    "Fault",
    "Scenario",
    "SimulationResult",
    "Simulator",
    "add_office_time",
    "parse_fault",
    "run_simulation",
]
