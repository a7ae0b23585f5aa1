"""The built-in plugin: what procflow offers with no plugin installed, registered like any other.

Shipping the defaults as an ordinary plugin keeps one path for everything (``procflow plugins`` lists it,
``block=("procflow.defaults",)`` removes it) instead of special cases in the engine builder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import bundled_definitions
from procflow.engine.core import Guard
from procflow.engine.guards import BUILTIN_GUARDS
from procflow.hookspecs import hookimpl

__all__ = ["NAME", "procflow_register_guards", "procflow_register_procedures"]

NAME = "procflow.defaults"


@hookimpl
def procflow_register_guards() -> Mapping[str, Guard]:
    return dict(BUILTIN_GUARDS)


@hookimpl
def procflow_register_procedures() -> Iterable[ProcedureDefinition]:
    return bundled_definitions()
