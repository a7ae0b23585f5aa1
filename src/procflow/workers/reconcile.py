"""Reconciliation: compare each dossier's status with what the outside system shows, and correct drift.

Delivery is at least once and retries can overtake newer messages, a message can end dead, and someone
can edit the portal by hand: the two sides drift. Reconciliation asks the adapter what the receiver
holds (``procflow_resolve_remote_statuses``), and for every dossier that differs enqueues a full snapshot
through the ordinary outbox, so corrections get the same retries, idempotency and dead letters as
everything else. Dossiers with a sync still pending are skipped: that message is about to change the
remote side anyway. Like every outbox row, a correction holds personal values as vault references; the
delivery worker opens them for the adapter (``procflow.workers.delivery``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import pluggy

from procflow.clock import Clock, SystemClock
from procflow.definition.model import ProcedureDefinition
from procflow.definition.reader import parse_definition
from procflow.dossier import Dossier
from procflow.engine.outbox import STATUS_SYNC, status_payload
from procflow.engine.payloadrefs import seal_payload
from procflow.errors import AdapterError, PluginError, StoreError
from procflow.privacy.masking import mask_text
from procflow.privacy.sealed import is_ref
from procflow.store.base import OutboxMessage, Store

__all__ = ["Correction", "ReconcileReport", "reconcile"]


@attrs.frozen
class Correction:
    dossier_id: str
    local_status: int
    remote_status: int | None  # None: the receiver does not know the dossier at all
    key: str


@attrs.define
class ReconcileReport:
    checked: int = 0
    in_sync: int = 0
    in_flight: int = 0  # skipped: a sync for the dossier is still pending
    unchecked: int = 0  # the receiver could not be asked (see errors)
    corrections: list[Correction] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)

    @property
    def corrected(self) -> int:
        return len(self.corrections)

    @property
    def missing_remote(self) -> int:
        return sum(1 for c in self.corrections if c.remote_status is None)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "in_sync": self.in_sync, "in_flight": self.in_flight,
                "unchecked": self.unchecked, "corrected": self.corrected, "missing_remote": self.missing_remote,
                "corrections": [attrs.asdict(c) for c in self.corrections], "errors": list(self.errors)}


def _batches(items: Iterable[Dossier], size: int) -> Iterator[list[Dossier]]:
    batch: list[Dossier] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def reconcile(store: Store, pm: pluggy.PluginManager, *, clock: Clock | None = None, batch_size: int = 200,
              timeout: float = 10.0, attempts: int = 3, retry_wait: float = 1.0,
              dossier_ids: Iterable[str] | None = None) -> ReconcileReport:
    """Check every dossier (or ``dossier_ids``) against the receiver and enqueue a ``portal.status``
    correction for each one that differs. Returns what was checked and corrected; adapter failures are
    reported (after ``attempts`` tries per batch), never raised, so one bad batch does not stop the rest."""
    hook = pm.hook.procflow_resolve_remote_statuses
    if not hook.get_hookimpls():
        raise PluginError("no plugin reports remote statuses (procflow_resolve_remote_statuses); install an "
                          "adapter such as procflow-portal-http")
    enqueue = getattr(store, "enqueue_outbox", None)
    if enqueue is None:
        raise StoreError(f"{type(store).__name__} cannot enqueue corrections (no enqueue_outbox)")
    clock = clock if clock is not None else SystemClock()
    now = clock.now()
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    definitions: dict[tuple[str, int], ProcedureDefinition] = {}
    sources = {(c, v): s for c, v, s in store.definition_sources()}
    in_flight = {r["dossier_id"] for r in store.outbox(status="pending") if r["topic"] == STATUS_SYNC}
    report = ReconcileReport()
    dossiers: Iterable[Dossier] = (store.iter_dossiers() if dossier_ids is None
                                   else (store.get(i) for i in dossier_ids))
    for batch in _batches(dossiers, batch_size):
        todo = [d for d in batch if d.id not in in_flight]
        report.in_flight += len(batch) - len(todo)
        if not todo:
            continue
        remote = _ask(hook, [d.id for d in todo], timeout=timeout, attempts=attempts, retry_wait=retry_wait,
                      report=report)
        if remote is None:
            report.unchecked += len(todo)
            continue
        report.checked += len(todo)
        messages = []
        for d in todo:
            theirs = remote.get(d.id)
            if theirs is not None and int(theirs) == d.status:
                report.in_sync += 1
                continue
            key = f"{STATUS_SYNC}:{d.id}:reconcile:{stamp}"
            defn = definitions.get((d.procedure, d.definition_version))
            if defn is None:
                defn = parse_definition(sources[(d.procedure, d.definition_version)])
                definitions[(d.procedure, d.definition_version)] = defn
            # records come from the store, so personal fields are vault references already; a record that
            # carries opened values gets its references back from the event log before it is queued. Not
            # EventWriter.seal_outbox: it needs an engine, and its fallback reads references from the store's
            # record, which a store handing out opened records does not have (the value would be kept in clear)
            payload = seal_payload(status_payload(d, defn, reason="reconcile"), _logged_refs(store, d, defn))
            payload["remote_status"] = None if theirs is None else int(theirs)
            messages.append(OutboxMessage(STATUS_SYNC, key, d.id, payload))
            report.corrections.append(Correction(d.id, d.status, payload["remote_status"], key))
        if messages:
            enqueue(messages, now=now)
    return report


def _ask(hook: Any, ids: list[str], *, timeout: float, attempts: int, retry_wait: float,
         report: ReconcileReport) -> dict[str, Any] | None:
    for attempt in range(1, attempts + 1):
        try:
            answer = hook(dossier_ids=ids, timeout=timeout)
        except AdapterError as exc:
            if exc.retryable and attempt < attempts:
                time.sleep(retry_wait * attempt)
                continue
            report.errors.append(mask_text(f"{len(ids)} dossier(s) from {ids[0]}: {type(exc).__name__}: {exc}"))
            return None
        if answer is None:
            report.errors.append("every procflow_resolve_remote_statuses plugin returned None")
            return None
        return dict(answer)
    return None


def _logged_refs(store: Store, d: Dossier, defn: ProcedureDefinition) -> dict[str, tuple[Any, Any]] | None:
    """``{field: (opened value, vault reference)}`` for the personal values ``d`` holds opened (a store that
    hands out opened records): the reference is the one the latest event writing that field stored."""
    opened = {f.name for f in defn.fields if f.personal is not None
              and d.data.get(f.name) not in (None, "") and not is_ref(d.data.get(f.name))}
    if not opened:
        return None
    found: dict[str, tuple[Any, Any]] = {}
    for e in reversed(store.events(d.id)):
        data = (e.effects or {}).get("data")
        if isinstance(data, dict):
            for k in opened - found.keys():
                if is_ref(data.get(k)):
                    found[k] = (d.data[k], data[k])
        if len(found) == len(opened):
            break
    return found
