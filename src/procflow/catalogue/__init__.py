"""A province's whole procedure catalogue as procflow definitions (``procflow catalogue import``).

A catalogue file (CSV or JSON, shaped like the national procedure database's export; see
``procflow.catalogue.records``) becomes one validated, versioned definition per procedure: the generic
one-stop shape (``procflow.catalogue.template``) filled from the record, or a hand-written definition of
the same code when there is one. The definitions go to a directory as TOML, into a store, into a plugin's
``procflow_register_procedures`` hook (``CataloguePlugin``) or straight into a simulation
(``simulation_inputs``). ``sample_catalogue()`` is a catalogue of real commune- and province-level
procedures with their published time limits and sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from procflow.catalogue.importer import (
    ImportPlan,
    Planned,
    existing_in_dir,
    existing_in_store,
    load_overrides,
    plan_import,
    write_plan,
)
from procflow.catalogue.profiles import generic_profile, profile_for, profile_from_transitions
from procflow.catalogue.records import CatalogueRecord, read_catalogue
from procflow.definition.model import ProcedureDefinition
from procflow.errors import CatalogueError, UsageError
from procflow.hookspecs import hookimpl

__all__ = [
    "DEFAULT_ANNUAL_VOLUME",
    "CatalogueError",
    "CataloguePlugin",
    "CatalogueRecord",
    "ImportPlan",
    "Planned",
    "catalogue_procedures",
    "generic_profile",
    "import_catalogue",
    "plan_catalogue",
    "profile_for",
    "profile_from_transitions",
    "read_catalogue",
    "sample_catalogue",
    "simulation_inputs",
]

# Yearly dossiers for a procedure whose record gives no annual_volume: most of a province's ~2,000
# procedures are rarely used, so the default is modest (an estimate, documented in docs/concepts/catalogue.md).
DEFAULT_ANNUAL_VOLUME: Mapping[str, int] = {"commune": 500, "province": 200, "ministry": 50}


def sample_catalogue() -> Path:
    """The shipped sample: real commune- and province-level procedures, sources cited per row."""
    return Path(str(resources.files("procflow.catalogue").joinpath("sample_catalogue.csv")))


def plan_catalogue(path: str | Path, *, out: str | Path | None = None, store: Any = None,
                   overrides: str | Path | None = None, bundled: bool = True) -> ImportPlan:
    """Read, generate and validate everything; versions compared with ``out`` (a directory) or ``store``.
    Nothing is written. Raises ``CatalogueError`` (row and column of each problem) or ``DefinitionError``
    (an invalid override)."""
    records = read_catalogue(path)
    existing = existing_in_store(store.definition_sources()) if store is not None else (
        existing_in_dir(out) if out is not None else {})
    return plan_import(records, existing=existing, overrides=load_overrides(overrides, bundled=bundled),
                       file=str(path))


def import_catalogue(path: str | Path, *, out: str | Path | None = None, store: Any = None,
                     overrides: str | Path | None = None, bundled: bool = True) -> ImportPlan:
    """``procflow catalogue import``: plan (all-or-nothing), then write new and changed versions to ``out``
    as ``<code>.v<version>.toml``, or register them in ``store``."""
    if (out is None) == (store is None):
        raise UsageError("give exactly one of out (a directory) or store")
    plan = plan_catalogue(path, out=out, store=store, overrides=overrides, bundled=bundled)
    if out is not None:
        write_plan(plan, out)
    else:
        from procflow.engine.core import Engine

        engine = Engine(store)
        for p in plan.planned:
            engine.register(p.definition)
    return plan


def catalogue_procedures(path: str | Path, *, overrides: str | Path | None = None, bundled: bool = True,
                         versions_from: str | Path | None = None) -> list[ProcedureDefinition]:
    """The definitions of a catalogue, for a plugin's ``procflow_register_procedures``.

    Versions start at 1; a province that changes a record after its dossiers started ships the directory of
    its earlier import as ``versions_from``, so the changed record becomes the next version instead of
    clashing with version 1 in the store.
    """
    return plan_catalogue(path, out=versions_from, overrides=overrides, bundled=bundled).definitions


class CataloguePlugin:
    """A ready plugin: ``make_plugin_manager(plugins=[CataloguePlugin("catalogue.csv")])``, or an entry
    point (group ``procflow``) naming an instance. The catalogue is read when the hook is called (when an
    engine is built), not when the plugin is imported."""

    def __init__(self, path: str | Path, *, overrides: str | Path | None = None, bundled: bool = True,
                 versions_from: str | Path | None = None, name: str = "procflow.catalogue") -> None:
        self.path, self.overrides, self.bundled, self.versions_from = path, overrides, bundled, versions_from
        self.__name__ = name

    @hookimpl
    def procflow_register_procedures(self) -> list[ProcedureDefinition]:
        return catalogue_procedures(self.path, overrides=self.overrides, bundled=self.bundled,
                                    versions_from=self.versions_from)


def simulation_inputs(path: str | Path, *, overrides: str | Path | None = None,
                      ) -> tuple[list[ProcedureDefinition], dict[str, float], dict[str, Any]]:
    """What ``procflow simulate --catalogue`` needs: the definitions (imported in memory), yearly volumes
    (the annual_volume column, else ``DEFAULT_ANNUAL_VOLUME`` by level) and behaviour profiles (the
    shipped ones for hand-written procedures, ``profile_for`` for the rest)."""
    from procflow.simulate.scenario import Scenario

    plan = plan_catalogue(path, overrides=overrides)
    volumes: dict[str, float] = {}
    profiles: dict[str, Any] = dict(Scenario().profiles)  # the shipped behaviour of hand-written procedures
    for p in plan.planned:
        rec = p.record
        assert rec is not None
        volumes[p.code] = float(rec.annual_volume if rec.annual_volume is not None
                                else DEFAULT_ANNUAL_VOLUME.get(rec.level, 200))
        if p.code not in profiles:
            profiles[p.code] = profile_for(p.definition)
    return plan.definitions, volumes, profiles
