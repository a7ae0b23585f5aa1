"""Turning catalogue records into validated, versioned procedure definitions — in a directory or a store.

A record becomes the generic one-stop definition (``procflow.catalogue.template``) unless a hand-written
definition of the same code overrides it (``--overrides DIR`` first, then procflow's bundled procedures).
Versions follow the content: a record whose definition is unchanged keeps its version; a changed one
becomes the next version beside the earlier ones (a running dossier keeps the version it started with).

Everything is generated and validated first; only then is anything written or registered, so a bad row, an
invalid override or a version conflict leaves the directory and the store exactly as they were.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from procflow.catalogue.records import CatalogueRecord
from procflow.catalogue.template import render_definition
from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import bundled_definitions, load_definition, parse_definition
from procflow.errors import CatalogueError, DefinitionError, Problem

__all__ = ["ImportPlan", "Planned", "existing_in_dir", "existing_in_store", "load_overrides", "plan_import",
           "plan_summary", "write_plan"]

_FILE = re.compile(r"^(?P<code>.+)\.v(?P<version>\d+)\.toml$")


@attrs.frozen
class Planned:
    """One definition the import produces. ``status``: ``new`` (first version), ``changed`` (a new
    version of a code that had one), ``unchanged`` (the same content as the latest version: nothing to do),
    ``override`` marks that a hand-written definition replaced the generated one."""

    definition: ProcedureDefinition
    status: str
    override: str | None = None  # where the hand-written definition came from
    record: CatalogueRecord | None = None

    @property
    def code(self) -> str:
        return self.definition.code


@attrs.frozen
class ImportPlan:
    planned: tuple[Planned, ...]

    @property
    def definitions(self) -> list[ProcedureDefinition]:
        return [p.definition for p in self.planned]

    def count(self, status: str) -> int:
        return sum(p.status == status for p in self.planned)

    def summary(self) -> str:
        overrides = sum(p.override is not None for p in self.planned)
        return (f"{len(self.planned)} procedure(s): {self.count('new')} new, {self.count('changed')} new "
                f"version(s), {self.count('unchanged')} unchanged; {overrides} from hand-written definitions")


def load_overrides(directory: str | Path | None, *, bundled: bool = True) -> dict[str, tuple[ProcedureDefinition, str]]:
    """Hand-written definitions by code: every ``*.toml`` in ``directory`` (validated; the highest version
    of a code wins), then procflow's bundled procedures for codes the directory does not have."""
    out: dict[str, tuple[ProcedureDefinition, str]] = {}
    problems: list[Problem] = []
    if directory is not None:
        root = Path(directory)
        if not root.is_dir():
            raise CatalogueError(f"--overrides {root}: not a directory", file=str(root))
        for path in sorted(root.glob("*.toml")):
            try:
                d = load_definition(path)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                continue
            if d.code not in out or d.version > out[d.code][0].version:
                out[d.code] = (d, str(path))
    if problems:
        raise DefinitionError(problems)
    if bundled:
        for d in bundled_definitions():
            out.setdefault(d.code, (d, d.file or "procflow bundled procedures"))
    return out


def _existing_in_dir(directory: Path) -> dict[str, dict[int, str]]:
    """``{code: {version: TOML text}}`` of the definitions an earlier import wrote to ``directory``."""
    found: dict[str, dict[int, str]] = {}
    if directory.is_dir():
        for path in directory.glob("*.v*.toml"):
            m = _FILE.match(path.name)
            if m:
                found.setdefault(m["code"], {})[int(m["version"])] = path.read_text(encoding="utf-8")
    return found


def plan_import(records: Sequence[CatalogueRecord], *, existing: Mapping[str, Mapping[int, str]] | None = None,
                overrides: Mapping[str, tuple[ProcedureDefinition, str]] | None = None,
                file: str | None = None) -> ImportPlan:
    """Generate (or take from ``overrides``) and validate each record's definition and choose its version
    against ``existing`` (``{code: {version: source}}``, from a directory or a store). Raises
    ``CatalogueError`` with every problem, row by row, before anything is written."""
    from procflow.engine.guards import BUILTIN_GUARDS

    existing = existing or {}
    overrides = overrides or {}
    problems: list[Problem] = []
    planned: list[Planned] = []
    for rec in records:
        versions = existing.get(rec.code, {})
        latest = max(versions, default=0)
        if rec.code in overrides:
            defn, where = overrides[rec.code]
            if defn.level != rec.level:
                problems.append(Problem(f"row {rec.row}, column level", f"the catalogue says {rec.level!r} but "
                                        f"the hand-written definition {where} says {defn.level!r}", file))
                continue
            same = versions.get(defn.version)
            if same is not None and same != defn.source:
                problems.append(Problem(f"row {rec.row}, column code", f"{rec.code} v{defn.version} already "
                                        f"exists with other content; give {where} version {latest + 1}", file))
                continue
            status = "unchanged" if same is not None else ("changed" if versions else "new")
            planned.append(Planned(defn, status, override=where, record=rec))
            continue
        version = latest or 1
        text = render_definition(rec, version)
        status = "new" if not versions else "unchanged"
        if versions and versions.get(version) != text:
            version, status = latest + 1, "changed"
            text = render_definition(rec, version)
        try:
            defn = parse_definition(text, file=f"{rec.code}.v{version}.toml", known_guards=BUILTIN_GUARDS)
        except DefinitionError as exc:  # a record the template cannot express (should not happen: report it)
            problems += [Problem(f"row {rec.row}, column code", f"generated definition invalid: {p}", file)
                         for p in exc.problems]
            continue
        planned.append(Planned(defn, status, record=rec))
    if problems:
        raise CatalogueError(problems, file=file)
    return ImportPlan(tuple(planned))


def write_plan(plan: ImportPlan, directory: str | Path) -> list[Path]:
    """Write each new or changed definition as ``DIR/<code>.v<version>.toml`` (never over another file);
    returns the files written. Each file is written to a temporary name and renamed, so a crash leaves
    no half-written definition."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    targets = [(p, root / f"{p.code}.v{p.definition.version}.toml") for p in plan.planned if p.status != "unchanged"]
    clash = [t for _, t in targets if t.exists()]
    if clash:  # plan_import compared against this directory; a file appearing since is someone else's
        raise CatalogueError(f"{clash[0]} appeared while importing; nothing written", file=str(root))
    written = []
    for p, target in targets:
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(p.definition.source, encoding="utf-8")
        os.replace(tmp, target)
        written.append(target)
    return written


def existing_in_store(sources: Iterable[tuple[str, int, str]]) -> dict[str, dict[int, str]]:
    """``{code: {version: source}}`` from a store's ``definition_sources()``."""
    found: dict[str, dict[int, str]] = {}
    for code, version, source in sources:
        found.setdefault(code, {})[version] = source
    return found


def existing_in_dir(directory: str | Path) -> dict[str, dict[int, str]]:
    return _existing_in_dir(Path(directory))


def plan_summary(plan: ImportPlan) -> dict[str, Any]:
    return {"procedures": len(plan.planned), "new": plan.count("new"), "changed": plan.count("changed"),
            "unchanged": plan.count("unchanged"),
            "overrides": sorted(p.code for p in plan.planned if p.override is not None)}
