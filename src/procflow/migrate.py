"""Re-homing in-flight dossiers: after administrative units merge, and when a procedure gets a new version.

On 1 July 2025 communes merged and districts disappeared; dossiers filed before were held by agencies that
no longer exist. ``migrate_units`` moves every in-flight dossier (not in a final state) from old agency codes
to new ones; ``migrate_definition`` moves in-flight dossiers of a procedure to another definition version.
Each move is one ``migrated`` event in the dossier's log — with the hash chain kept and the outbox rules
run, so the portal hears of a new custodian — so replaying the log still gives the snapshot, and the
history before the move is never rewritten. Finished dossiers stay as they were.

Nothing is moved when any dossier cannot be (its state has no counterpart in the new version, or its new
agency is unknown or of another level): ``MigrationRefused`` lists them all, so one run shows everything
to fix. ``partial=True`` moves the others and reports the refused. ``dry_run=True`` only reports.

A new definition version may make a field personal (or make a personal field a ``national_id``): the move
seals such values in the vault, through the engine's one sealing path, in the transaction that writes the
``migrated`` event, so the snapshot row holds references and the national-ID index finds the dossier. The
events written before the move keep the value as it was then (in clear when it was not personal): the log
is append-only and hash-chained, and retention erases vault entries, not those events. A field no longer
personal keeps its reference: references are opened on read whatever the definition says.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from procflow.agency import Level
from procflow.definition.model import ClockMode, ProcedureDefinition, Step
from procflow.dossier import Actor, Dossier, DossierEvent, EventKind
from procflow.engine.core import Engine
from procflow.errors import JurisdictionError, MigrationRefused, ProcflowError

__all__ = ["MigrationRefused", "MigrationReport", "Refusal", "migrate_definition", "migrate_units", "read_unit_map"]


@attrs.frozen
class Refusal:
    dossier_id: str
    state: str
    reason: str

    def __str__(self) -> str:
        return f"{self.dossier_id} ({self.state}): {self.reason}"


@attrs.define
class MigrationReport:
    moved: list[str] = attrs.field(factory=list)
    refused: list[Refusal] = attrs.field(factory=list)
    bundles: list[str] = attrs.field(factory=list)
    dry_run: bool = False
    sealed: int = 0  # values of fields newly personal (or of a new kind) sealed in the vault by the move

    def to_dict(self) -> dict[str, Any]:
        return {"moved": len(self.moved), "refused": [attrs.asdict(r) for r in self.refused],
                "bundles": len(self.bundles), "dry_run": self.dry_run, "sealed": self.sealed}


def read_unit_map(path: str | os.PathLike[str], engine: Engine | None = None) -> dict[str, str]:
    """``old,new`` rows (header ``old,new`` or ``from,to``; ``#`` comments) → {old agency code: new one}.

    A new code may be a 5-digit ward code (resolved to that commune's agency through ``engine``'s registry);
    old codes are taken as written, since merged units no longer exist in the registry.
    """
    mapping: dict[str, str] = {}
    problems: list[str] = []
    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].lstrip().startswith("#")]
    if rows and [c.strip().lower() for c in rows[0][:2]] in (["old", "new"], ["from", "to"]):
        rows = rows[1:]
    for line, row in enumerate(rows, start=1):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            problems.append(f"row {line}: expected 'old,new', got {','.join(row)!r}")
            continue
        old, new = row[0].strip().upper(), row[1].strip()
        if new.isdigit() and engine is not None:
            try:
                new = engine.registry.commune(new).code
            except JurisdictionError as exc:
                problems.append(f"row {line}: {exc}")
                continue
        if old in mapping and mapping[old] != new.upper():
            problems.append(f"row {line}: {old} is mapped twice ({mapping[old]} and {new})")
        mapping[old] = new.upper()
    if problems:
        raise ProcflowError(f"{os.fspath(path)}: {len(problems)} bad row(s):\n  " + "\n  ".join(problems))
    return mapping


def _in_flight(engine: Engine) -> Iterator[tuple[Dossier, ProcedureDefinition]]:
    for d in engine.store.iter_dossiers():
        defn = engine.definition(d.procedure, d.definition_version)
        if not defn.step(d.state).final:
            yield d, defn


def _event(engine: Engine, d: Dossier, new: Dossier, actor: Actor, effects: dict[str, Any], note: str) -> DossierEvent:
    event = DossierEvent(dossier_id=d.id, seq=new.revision, at=new.updated_at, kind=EventKind.MIGRATED, trigger=None,
                         from_state=d.state, to_state=new.state, status=new.status, actor=actor.id,
                         agency=actor.agency, custodian=new.custodian, definition_version=new.definition_version,
                         effects=effects, note=note)
    engine.writer.link(event, d)
    return event


def _apply(engine: Engine, d: Dossier, new: Dossier, event: DossierEvent, defn: ProcedureDefinition,
           changed: frozenset[str], row: Dossier | None = None) -> None:
    """Through the engine's one event writer (``procflow.engine.eventwriter``): outbox rows sealed like a fire's.
    A move arms no timer: the deadlines set at receipt stay (the queued armings settle against the log).
    ``row`` is what the store gets when the move sealed values (``new`` keeps them real for the outbox)."""
    w = engine.writer
    personal = {f.name: f.personal for f in defn.fields if f.personal is not None}
    w.write(new if row is None else row, event, expected=d.revision, outbox=w.outbox(new, event, defn, personal),
            changed=changed)


def migrate_units(engine: Engine, mapping: Mapping[str, str], *, dry_run: bool = False, partial: bool = False,
                  note: str = "administrative units merged", bundles: Any = None) -> MigrationReport:
    """Move in-flight dossiers from old agency codes to new ones (every role: receiving, location,
    competent, custodian). A new code must be an agency the registry knows, of the old one's level when
    the old one is still known (a commune's role goes to a commune)."""
    reg = engine.registry
    report = MigrationReport(dry_run=dry_run)
    plans: list[tuple[Dossier, ProcedureDefinition, dict[str, str]]] = []
    for d, defn in _in_flight(engine):
        if not any(code in mapping for code in d.agencies.values()):
            continue
        new_agencies = {role: mapping.get(code, code) for role, code in d.agencies.items()}
        problems = []
        for role, code in d.agencies.items():
            if code not in mapping:
                continue
            try:
                target = reg.agency(new_agencies[role])
            except JurisdictionError:
                problems.append(f"{role} {code} → {new_agencies[role]}: no such agency")
                continue
            old_level: Level | None
            try:
                old_level = reg.agency(code).level
            except JurisdictionError:
                old_level = Level.COMMUNE if role in ("receiving", "location") else None
            if old_level is not None and target.level != old_level:
                problems.append(f"{role} {code} → {target.code}: a {target.level}-level agency cannot take over "
                                f"from a {old_level}-level one")
        if problems:
            report.refused.append(Refusal(d.id, d.state, "; ".join(problems)))
        else:
            plans.append((d, defn, new_agencies))
    if report.refused and not partial and not dry_run:
        raise MigrationRefused(report.refused, what="migrate units")
    if dry_run:
        report.moved = [d.id for d, _, _ in plans]
        return report
    now = engine.clock.now()
    with engine.store.transaction():
        for d, defn, agencies in plans:
            custodian = agencies[defn.step(d.state).holder]
            new = attrs.evolve(d, agencies=agencies, custodian=custodian, updated_at=now, revision=d.revision + 1)
            fx: dict[str, Any] = {"agencies": agencies,
                                  "migration": {"units": {c: agencies[r] for r, c in d.agencies.items()
                                                          if c in mapping}}}
            if custodian != d.custodian:
                fx["custodian_from"] = d.custodian
            event = _event(engine, d, new, Actor.system(custodian, "migrate"), fx, note)
            _apply(engine, d, new, event, defn, frozenset({"agencies"}))
            report.moved.append(d.id)
        if bundles is not None:
            report.bundles = bundles.rehome(mapping)
    return report


def _newly_personal(old: ProcedureDefinition, new: ProcedureDefinition, data: Mapping[str, Any]) -> dict[str, str]:
    """{field: kind} of the values ``data`` holds that must be sealed for ``new``: personal there but not in
    ``old`` (in clear in the row), or a national ID there but of another kind in ``old`` (sealed, but without
    the HMAC index row ``Vault.find_national_id`` needs). Other kind changes keep their reference: the kind
    only steers masking and notices, which read the definition."""
    before = {f.name: f.personal for f in old.fields}
    return {f.name: f.personal for f in new.fields
            if f.personal is not None and data.get(f.name) is not None
            and (before.get(f.name) is None or (f.personal == "national_id" and before[f.name] != "national_id"))}


def _clock_kind(step: Step) -> str:
    return {ClockMode.RUNNING: "running", ClockMode.STOPPED: "stopped"}.get(step.clock, "paused")


def migrate_definition(engine: Engine, code: str, to_version: int, *, state_map: Mapping[str, str] | None = None,
                       dry_run: bool = False, partial: bool = False, note: str | None = None) -> MigrationReport:
    """Move in-flight dossiers of procedure ``code`` (any other version) to version ``to_version``.

    A dossier's state moves to the state of the same name, or to ``state_map[state]``; it is refused when
    that state does not exist, is final, counts time differently (running / paused / stopped), when the new
    version's holder role cannot be resolved for the dossier, or when the dossier carries data the new
    version does not declare. The deadline stays the one set at receipt: a new version does not change
    what the citizen was promised.
    """
    target = engine.definition(code, to_version)
    mapping = dict(state_map or {})
    names = {s.name for s in target.states}
    unknown = sorted(set(mapping.values()) - names)
    if unknown:
        raise ProcflowError(f"state map names state(s) {', '.join(unknown)} that {code} v{to_version} does not have")
    declared = {f.name for f in target.fields}
    report = MigrationReport(dry_run=dry_run)
    plans: list[tuple[Dossier, ProcedureDefinition, str, dict[str, str]]] = []
    for d, defn in _in_flight(engine):
        if d.procedure != code or d.definition_version == to_version:
            continue
        dest = mapping.get(d.state, d.state)
        problem = None
        if dest not in names:
            problem = (f"state {d.state!r} has no counterpart in v{to_version} "
                       f"(map it to one of: {', '.join(sorted(names))})")
        elif target.step(dest).final:
            problem = f"its counterpart {dest!r} is final in v{to_version}: an in-flight dossier would be closed"
        elif _clock_kind(defn.step(d.state)) != _clock_kind(target.step(dest)):
            problem = (f"the SLA clock is {_clock_kind(defn.step(d.state))} in {d.state!r} but "
                       f"{_clock_kind(target.step(dest))} in v{to_version}'s {dest!r}")
        elif extra := sorted(set(d.data) - declared):
            problem = f"v{to_version} does not declare field(s) {', '.join(extra)} the dossier carries"
        agencies = dict(d.agencies)
        holder = target.step(dest).holder if problem is None else None
        if holder is not None and holder not in agencies:
            try:
                agencies[holder] = engine.registry.resolve(target.roles[holder], d.location).code
            except (KeyError, JurisdictionError) as exc:
                problem = f"v{to_version}'s holder role {holder!r} cannot be resolved for {d.location}: {exc}"
        if problem is not None:
            report.refused.append(Refusal(d.id, d.state, problem))
        else:
            plans.append((d, defn, dest, agencies))
    if report.refused and not partial and not dry_run:
        raise MigrationRefused(report.refused, what=f"migrate {code} to v{to_version}")
    if dry_run:
        report.moved = [d.id for d, _, _, _ in plans]
        return report
    now = engine.clock.now()
    try:
        with engine.store.transaction():
            for d, _old, dest, agencies in plans:
                step = target.step(dest)
                custodian = agencies[step.holder]
                new = attrs.evolve(d, definition_version=to_version, state=dest, status=step.portal_status,
                                   custodian=custodian, agencies=agencies, updated_at=now, revision=d.revision + 1)
                fx: dict[str, Any] = {"migration": {"definition": {"from": d.definition_version, "to": to_version}}}
                changed: frozenset[str] = frozenset()
                if agencies != d.agencies:
                    fx["agencies"] = agencies
                    changed = frozenset({"agencies"})
                if custodian != d.custodian:
                    fx["custodian_from"] = d.custodian
                row = new
                if sealing := _newly_personal(_old, target, d.data):  # the event carries the references (fx["data"])
                    row = engine._sealed_row(d, new, {k: d.data[k] for k in sealing}, sealing, fx)
                    changed |= {"data"}
                    report.sealed += len(sealing)
                event = _event(engine, d, new, Actor.system(custodian, "migrate"), fx,
                               note or f"{code} v{d.definition_version} → v{to_version}")
                # outbox rules look the event's from_state up in the definition they get: it is the old version's
                view = attrs.evolve(target, states=target.states + tuple(s for s in _old.states if s.name not in names))
                _apply(engine, d, new, event, view, changed, row)
                report.moved.append(d.id)
    except BaseException:  # rolled back: forget the heads linked and references sealed for the earlier dossiers
        for d, *_ in plans:
            engine.writer.memo.forget(d.id)
        raise
    return report
