"""Retention: anonymise the personal data of closed dossiers once their procedure's period has passed.

A definition says how long its dossiers' personal data is kept after the dossier closes
(``retention_years = 5`` at the top level of the TOML; absent means "keep", the safe default for records
whose period the province has not decided). ``procflow retention apply`` (or :func:`apply_retention`)
erases the vault entries of every closed dossier (final state) whose closing date plus the period has
passed: the values are gone, the national-ID index rows too, and references now resolve to ``None``.

Liên thông bundles hold personal values too: the application's data for members not filed yet is sealed
in the vault under the bundle's id (``LT-<first member's dossier id>``), not under a dossier. After the
dossiers, the bundles still holding values are checked: a bundle's values are erased once the bundle is
closed and EVERY member dossier is closed and past its own procedure's period (anonymised now or earlier).
Membership comes from the SQLite store's bundle tables; on a store without them (PostgreSQL, where bundle
records live in memory) only the first member can be derived from the id, so such values are kept and
listed in the report (``bundles_unresolved``) once that member has expired — never erased early.

On SQLite the erase runs with ``PRAGMA secure_delete`` on, so the old bytes are overwritten rather than
left in free space; they leave the WAL file at the next checkpoint. (On PostgreSQL the old row versions stay
until ``VACUUM``; backups and WAL archives keep their copies until they expire.)

What stays: the snapshot and the event log (states, dates, agencies, SLA clock — statistics are
unchanged), and the hash chain, which never covered personal values. Each anonymisation, of a dossier or
a bundle, is recorded in the audit table (action ``retention:anonymise``, purpose ``retention``) with what
was erased and why.
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from procflow.dossier import Actor, Dossier
from procflow.errors import DefinitionError, DossierNotFound
from procflow.store.base import AuditEntry

if TYPE_CHECKING:
    from procflow.engine.core import Engine

__all__ = ["BundleRetentionAction", "RetentionAction", "RetentionReport", "apply_retention", "expires_at"]

log = logging.getLogger("procflow.privacy.retention")


@attrs.frozen
class RetentionAction:
    dossier_id: str
    procedure: str
    closed_at: datetime
    retention_years: int
    expired_at: datetime
    erased: int  # vault entries erased (0 in a dry run)


@attrs.frozen
class BundleRetentionAction:
    bundle_id: str
    members: tuple[str, ...]  # member dossier ids, all closed and past their period
    expired_at: datetime  # when the last of them expired
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
    # liên thông bundles holding values: erased (or would be), kept (a member not past its period, or the
    # bundle still open), and kept because this store has no record of their members
    bundles_anonymised: list[BundleRetentionAction] = attrs.field(factory=list)
    bundles_kept: int = 0
    bundles_unresolved: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "checked": self.checked,
                "kept_open": self.kept_open, "kept_in_period": self.kept_in_period, "no_period": self.no_period,
                "anonymised": [{**attrs.asdict(a), "closed_at": a.closed_at.isoformat(),
                                "expired_at": a.expired_at.isoformat()} for a in self.anonymised],
                "bundles_anonymised": [{"bundle_id": b.bundle_id, "members": list(b.members),
                                        "expired_at": b.expired_at.isoformat(), "erased": b.erased}
                                       for b in self.bundles_anonymised],
                "bundles_kept": self.bundles_kept, "bundles_unresolved": list(self.bundles_unresolved)}


def expires_at(closed_at: datetime, years: int) -> datetime:
    """``closed_at`` plus ``years`` calendar years (29 February → 28 February)."""
    try:
        return closed_at.replace(year=closed_at.year + years)
    except ValueError:
        return closed_at.replace(year=closed_at.year + years, day=28)


def apply_retention(engine: Engine, *, now: datetime | None = None, dry_run: bool = False,
                    actor: Actor | None = None) -> RetentionReport:
    """Anonymise every closed dossier past its procedure's retention period, then every liên thông bundle
    whose members all are (see the module's documentation). Idempotent: a dossier or bundle already
    anonymised has nothing left to erase and is not reported again."""
    now = now or engine.clock.now()
    actor = actor or Actor.system("procflow", "retention")
    report = RetentionReport(now=now, dry_run=dry_run)
    with contextlib.nullcontext() if dry_run else _secure_delete(engine.store):
        for d in list(engine.store.iter_dossiers()):
            report.checked += 1
            due = _due(engine, d)
            if not isinstance(due, _Due):
                if due == "open":
                    report.kept_open += 1
                else:
                    report.no_period += 1
                continue
            if due.expired > now:
                report.kept_in_period += 1
                continue
            if dry_run:
                if engine.vault.live_entries(d.id):
                    report.anonymised.append(RetentionAction(d.id, d.procedure, due.closed, due.years, due.expired, 0))
                continue
            with engine.store.transaction():
                erased = engine.vault.erase(d.id, at=now)
                if erased:
                    fields = sorted({f.name for f in due.defn.fields if f.personal is not None})
                    engine.store.record_audit(AuditEntry(
                        at=now, actor=actor.id, agency=actor.agency, dossier_id=d.id, action="retention:anonymise",
                        outcome="done", purpose="retention",
                        detail=f"erased {_entries(erased)} (personal fields: {', '.join(fields) or '-'}); closed "
                               f"{_day(due.closed)}, retention {due.years} year(s), expired {_day(due.expired)}"))
            if erased:
                report.anonymised.append(RetentionAction(d.id, d.procedure, due.closed, due.years, due.expired, erased))
                log.info("retention: anonymised %s (%s, closed %s, %d year(s))", d.id, d.procedure, _day(due.closed),
                         due.years)
        _bundles(engine, report, actor)
    return report


def _bundles(engine: Engine, report: RetentionReport, actor: Actor) -> None:
    """The bundle pass: vault owners ``LT-…`` still holding values, erased once all their members expired."""
    from procflow.bundle.records import BUNDLE_PREFIX, FINAL_STATUSES, stored_membership

    now = report.now
    owners = engine.vault.live_owners(BUNDLE_PREFIX)
    if not owners:
        return
    stored = stored_membership(engine.store, owners)
    for bundle_id in owners:
        record = None if stored is None else stored.get(bundle_id)
        # Without a stored record, the id names the first member only: enough to keep, never to erase.
        members = record[1] if record is not None else (bundle_id.removeprefix(BUNDLE_PREFIX),)
        expiries = [_expired_at(engine, did, now) for did in members]
        if not members or None in expiries:
            report.bundles_kept += 1
            continue
        if record is None:
            report.bundles_unresolved.append(bundle_id)
            log.warning("retention: kept the values of bundle %s: its members are unknown (no bundle record in "
                        "this store), though its first member %s has expired", bundle_id, members[0])
            continue
        if record[0] not in FINAL_STATUSES:  # members closed but the bundle not synced yet: one may still start
            report.bundles_kept += 1
            continue
        expired = max(e for e in expiries if e is not None)
        if report.dry_run:
            report.bundles_anonymised.append(BundleRetentionAction(bundle_id, members, expired, 0))
            continue
        with engine.store.transaction():
            erased = engine.vault.erase(bundle_id, at=now)
            if erased:
                engine.store.record_audit(AuditEntry(
                    at=now, actor=actor.id, agency=actor.agency, dossier_id=bundle_id, action="retention:anonymise",
                    outcome="done", purpose="retention",
                    detail=f"erased {_entries(erased)} of liên thông bundle {bundle_id} (data for members not yet "
                           f"filed); every member closed and past its retention period ({', '.join(members)}), "
                           f"the last expired {_day(expired)}"))
        if erased:
            report.bundles_anonymised.append(BundleRetentionAction(bundle_id, members, expired, erased))
            log.info("retention: anonymised bundle %s (%d member(s), last expired %s)", bundle_id, len(members),
                     _day(expired))


@attrs.frozen
class _Due:
    defn: Any
    years: int
    closed: datetime
    expired: datetime


def _due(engine: Engine, d: Dossier) -> _Due | str:
    """When a closed dossier's personal data expires, or why it does not: ``no_period`` or ``open``."""
    try:
        defn = engine.definition(d.procedure, d.definition_version)
    except DefinitionError:
        return "no_period"
    years = getattr(defn, "retention_years", None)
    if years is None:
        return "no_period"
    if not defn.step(d.state).final:
        return "open"
    closed = d.sla.stopped_at or d.updated_at
    return _Due(defn, years, closed, expires_at(closed, years))


def _expired_at(engine: Engine, dossier_id: str, now: datetime) -> datetime | None:
    """When a member dossier's personal data expired, or None when it has not (open, in its period, kept)."""
    try:
        due = _due(engine, engine.store.get(dossier_id))
    except DossierNotFound:
        return None
    return due.expired if isinstance(due, _Due) and due.expired <= now else None


def _secure_delete(store: Any) -> AbstractContextManager[None]:
    """Erased values must not linger in the database file: the store's secure-erase scope (SQLite turns
    ``secure_delete`` on for the run and restores it after; see ``procflow.store.contracts.SecureErase``)."""
    scope = getattr(store, "secure_erase", None)
    return scope() if scope is not None else contextlib.nullcontext()


def _entries(n: int) -> str:
    return f"{n} vault entr{'y' if n == 1 else 'ies'}"


def _day(value: datetime) -> date:
    return value.date()
