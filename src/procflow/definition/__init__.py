"""Procedures as data: a TOML file declares the steps, who may move a dossier between them, and the SLA.

A definition is validated in full when it is loaded, and every problem is reported with the file and the
key path (``transitions[2].dest``), so an author fixes them all in one pass. Definitions are versioned by
``(code, version)``; a running dossier keeps the version it started with.

``model`` holds the frozen records, ``reader`` turns TOML into them (with ``timers``, ``graph`` and
``checks``), ``statuses`` is the national portal's status table.
"""

from procflow.definition.model import (
    ClockMode,
    FieldSpec,
    ProcedureDefinition,
    Step,
    TimerAction,
    TimerAnchor,
    TimerSpec,
    Transition,
)
from procflow.definition.reader import bundled_definitions, load_definition, parse_definition
from procflow.definition.statuses import PORTAL_STATUS, STATUS_RULES, StatusRule, status_mapping_problems

__all__ = [
    "PORTAL_STATUS",
    "STATUS_RULES",
    "ClockMode",
    "FieldSpec",
    "ProcedureDefinition",
    "StatusRule",
    "Step",
    "TimerAction",
    "TimerAnchor",
    "TimerSpec",
    "Transition",
    "bundled_definitions",
    "load_definition",
    "parse_definition",
    "status_mapping_problems",
]
