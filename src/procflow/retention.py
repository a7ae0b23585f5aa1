"""Retention: anonymise the personal data of closed dossiers once their procedure's period has passed.

A definition says how long its dossiers' personal data is kept after the dossier closes
(``retention_years = 5`` at the top level of the TOML; absent means "keep", the safe default for records
whose period the province has not decided). ``procflow retention apply`` (or :func:`apply_retention`)
erases the vault entries of every closed dossier (final state) whose closing date plus the period has
passed: the values are gone, the national-ID index rows too, and references now resolve to ``None``.

What stays: the snapshot and the event log (states, dates, agencies, SLA clock — statistics are
unchanged), and the hash chain, which never covered personal values. Each anonymisation is recorded in the
audit table (action ``retention:anonymise``) with what was erased and why.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING

import attrs

from procflow.dossier import Actor
from procflow.errors import DefinitionError
from procflow.store.base import AuditEntry

if TYPE_CHECKING:
    from procflow.engine import Engine

__all__ = ["RetentionAction", "RetentionReport", "apply_retention", "expires_at"]

log = logging.getLogger("procflow.retention")


@attrs.frozen
class RetentionAction:
    dossier_id: str
    procedure: str
    closed_at: datetime
    retention_years: int
    expired_at: datetime
    erased: int  # vault entries erased (0 in a dry run)


@attrs.define
class RetentionReport:
    now: datetime
    dry_run: bool
    checked: int = 0
    kept_open: int = 0
    kept_in_period: int = 0
    no_period: int = 0
    anonymised: list[RetentionAction] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "checked": self.checked,
                "kept_open": self.kept_open, "kept_in_period": self.kept_in_period, "no_period": self.no_period,
                "anonymised": [{**attrs.asdict(a), "closed_at": a.closed_at.isoformat(),
                                "expired_at": a.expired_at.isoformat()} for a in self.anonymised]}


def expires_at(closed_at: datetime, years: int) -> datetime:
    """``closed_at`` plus ``years`` calendar years (29 February → 28 February)."""
    try:
        return closed_at.replace(year=closed_at.year + years)
    except ValueError:
        return closed_at.replace(year=closed_at.year + years, day=28)


def apply_retention(engine: Engine, *, now: datetime | None = None, dry_run: bool = False,
                    actor: Actor | None = None) -> RetentionReport:
    """Anonymise every closed dossier past its procedure's retention period. Idempotent: a dossier already
    anonymised has nothing left to erase and is not reported again."""
    now = now or engine.clock.now()
    actor = actor or Actor.system("procflow", "retention")
    report = RetentionReport(now=now, dry_run=dry_run)
    for d in list(engine.store.iter_dossiers()):
        report.checked += 1
        try:
            defn = engine.definition(d.procedure, d.definition_version)
        except DefinitionError:
            report.no_period += 1
            continue
        years = getattr(defn, "retention_years", None)
        if years is None:
            report.no_period += 1
            continue
        if not defn.step(d.state).final:
            report.kept_open += 1
            continue
        closed = d.sla.stopped_at or d.updated_at
        expired = expires_at(closed, years)
        if expired > now:
            report.kept_in_period += 1
            continue
        if dry_run:
            if engine.vault.live_entries(d.id):
                report.anonymised.append(RetentionAction(d.id, d.procedure, closed, years, expired, 0))
            continue
        with engine.store.transaction():
            erased = engine.vault.erase(d.id, at=now)
            if erased:
                fields = sorted({f.name for f in defn.fields if f.personal is not None})
                engine.store.record_audit(AuditEntry(
                    at=now, actor=actor.id, agency=actor.agency, dossier_id=d.id, action="retention:anonymise",
                    outcome="done", purpose="retention",
                    detail=f"erased {erased} vault entr{'y' if erased == 1 else 'ies'} (personal fields: "
                           f"{', '.join(fields) or '-'}); closed {_day(closed)}, retention {years} year(s), "
                           f"expired {_day(expired)}"))
        if erased:
            report.anonymised.append(RetentionAction(d.id, d.procedure, closed, years, expired, erased))
            log.info("retention: anonymised %s (%s, closed %s, %d year(s))", d.id, d.procedure, _day(closed), years)
    return report


def _day(value: datetime) -> date:
    return value.date()
