"""The outbox worker: delivers committed messages through adapters, retrying until they land or die.

A pass claims due messages (a lease, so a crashed worker's messages return to the pool when it runs
out), calls the topic's delivery hook outside any transaction, and records the outcome: delivered;
failed and due again after an exponential backoff with jitter; or dead, with the last error, for a person
to act on (``procflow outbox --requeue``). The idempotency key travels with every attempt, so a worker
killed after the receiver applied a message but before it recorded that is harmless: the message is
sent again and the receiver recognises the key.

Ordering: messages of one dossier and topic claimed together are delivered in order, one after the
other; a message that fails and is retried later can land after a newer one. Status syncs carry the
whole snapshot and reconciliation (``procflow.workers.reconcile``) corrects what such overtaking leaves behind.

Personal values: an outbox row holds vault references, never a citizen's phone or name in clear
(``procflow.engine.payloadrefs.seal_payload``), because the outbox table is data at rest like any other. Receivers
are authorised machine channels and need the real values, so the worker opens the references
(``Vault.resolve_json``) just before it calls the adapter, and only the adapter's ``Delivery`` carries
them: what the store records, the ``procflow_on_delivered`` / ``procflow_on_dead_letter`` hooks and the
logs see is the message as stored. Every attempt that hands opened values to an adapter is a disclosure
and is audited (``disclose:<topic>``, purpose ``delivery``, outcome ``sent`` or ``failed``): an attempt
that failed may still have reached the receiver, so failed attempts are audited too. The values are never
logged: an adapter's error text is scrubbed of them before it is logged or kept as ``last_error``. A
reference that cannot be opened (a missing key, a missing vault row) makes the message a dead letter
with the vault's reason; fix the keys, then ``procflow outbox --requeue``.
"""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import attrs
import pluggy

from procflow.clock import Clock, SystemClock
from procflow.engine.outbox import Delivery
from procflow.engine.payloadrefs import payload_refs
from procflow.errors import AdapterError, ProcflowError, StoreError, UsageError
from procflow.hookspecs import TOPIC_HOOKS
from procflow.privacy.masking import mask_text
from procflow.privacy.sealed import MARKER
from procflow.privacy.vault import Vault
from procflow.store.base import AuditEntry, Store
from procflow.workers.backoff import Backoff, StoreBackoff

__all__ = ["DeliveryStats", "DeliveryWorker", "delivery_hook"]

log = logging.getLogger("procflow.workers.delivery")

_MAX_ERROR = 1000


@attrs.define
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0  # failed attempts scheduled for another try
    dead: int = 0
    released: int = 0  # claimed but handed back unattempted (graceful stop)
    lost: int = 0  # outcome not recorded: the lease had passed to another worker, which will deliver it

    def add(self, other: DeliveryStats) -> None:
        for f in attrs.fields(DeliveryStats):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


@attrs.frozen
class _Outcome:
    receipt: object = None
    error: str | None = None
    permanent: bool = False
    skipped: bool = False
    called: bool = False  # the adapter was called (with the message's opened personal values, if any)


def delivery_hook(pm: pluggy.PluginManager, topic: str) -> Any:
    """The hook caller that delivers ``topic`` (``TOPIC_HOOKS``, else ``procflow_deliver_message``)."""
    return getattr(pm.hook, TOPIC_HOOKS.get(topic, "procflow_deliver_message"))


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each opened personal value replaced by ``***`` (longest first, so a value that
    contains another is removed whole), then the pattern pass of ``mask_text``."""
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "***")
    return mask_text(text)


def _describe(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    text = _scrub(f"{type(exc).__name__}: {exc}", secrets)
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def _opened_values(stored: Any, opened: Any) -> Iterator[Any]:
    """The values ``opened`` holds where ``stored`` holds a vault reference (same shape otherwise)."""
    if type(stored) is dict:
        if MARKER in stored:
            yield opened
        elif type(opened) is dict:
            for k, v in stored.items():
                yield from _opened_values(v, opened.get(k))
    elif type(stored) is list or type(stored) is tuple:
        if type(opened) is list:
            for a, b in zip(stored, opened, strict=False):
                yield from _opened_values(a, b)


def _secret_texts(values: Iterable[Any]) -> frozenset[str]:
    """Opened values as they could appear in an error text (strings of 3+ characters, integers of 4+ digits:
    shorter ones would blank out unrelated text, and the pattern pass of ``mask_text`` still runs)."""
    out = set()
    for v in values:
        if type(v) is str and len(v.strip()) >= 3:
            out.add(v)
        elif type(v) is int and len(str(abs(v))) >= 4:
            out.add(str(v))
    return frozenset(out)


@attrs.frozen
class _Opened:
    """A claimed message with its vault references opened: what the adapter gets, and what to audit."""

    delivery: Delivery
    fields: tuple[str, ...]  # the personal fields disclosed (names only)
    secrets: frozenset[str]  # the opened values as text, to scrub from error messages


class DeliveryWorker:
    """Delivers outbox messages from ``store`` through ``pm``'s adapters.

    Embed it (``run_once`` between batches of a simulation, ``run`` in a thread) or start it with
    ``procflow worker``. ``clock`` decides what is due, so a simulation delivers on simulated time.
    ``timeout`` is each delivery's budget, passed to the adapter; ``lease_seconds`` must outlast a whole
    batch, or another worker could take messages this one is still delivering. ``vault`` opens the
    personal values payloads hold as references (default: ``Vault(store)``, created on the first message
    that needs it; pass the engine's vault when its keys are not the store's default keyring, e.g. for an
    in-memory store).
    """

    def __init__(self, store: Store, pm: pluggy.PluginManager, *, worker_id: str | None = None,
                 clock: Clock | None = None, max_attempts: int = 8, base_delay: float = 30.0,
                 max_delay: float = 3600.0, jitter: float = 0.2, rng: random.Random | None = None,
                 lease_seconds: float = 300.0, batch_size: int = 20, timeout: float = 10.0, concurrency: int = 1,
                 topics: Iterable[str] | None = None, poll_interval: float = 1.0,
                 vault: Vault | None = None) -> None:
        if max_attempts < 1 or batch_size < 1 or concurrency < 1 or timeout <= 0:
            raise UsageError("max_attempts, batch_size and concurrency must be >= 1 and timeout > 0")
        rounds = math.ceil(batch_size / concurrency)
        if lease_seconds <= timeout * rounds:
            raise UsageError(f"lease_seconds={lease_seconds:g} would run out while a batch of {batch_size} is "
                             f"delivered ({rounds} round(s) of up to {timeout:g} s); raise it or lower batch_size")
        self.store = store
        self.pm = pm
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.clock = clock if clock is not None else SystemClock()
        self.max_attempts = max_attempts
        self.backoff = Backoff(base=base_delay, maximum=max_delay, jitter=jitter)
        self.rng = rng if rng is not None else random.Random()
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.timeout = timeout
        self.concurrency = concurrency
        self.topics = sorted(topics) if topics is not None else None
        self.poll_interval = poll_interval
        self.stats = DeliveryStats()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._leases: dict[int, datetime | None] = {}
        self._vault = vault  # opened lazily (``Vault(store)``: the store's default keyring) on the first reference
        self._opened: dict[int, _Opened | _Outcome] = {}

    # -- one pass -----------------------------------------------------------------------------------------
    def run_once(self) -> DeliveryStats:
        """Claim one batch of due messages, deliver them and record each outcome. Returns this pass's stats."""
        if getattr(self.store, "in_transaction", False):
            raise StoreError("delivery must not run inside a state transaction (invariant 5): call the worker "
                             "after the batch commits")
        stats = DeliveryStats()
        rows = self.store.claim_outbox(self.worker_id, now=self.clock.now(), limit=self.batch_size,
                                       lease_seconds=self.lease_seconds, topics=self.topics)
        stats.claimed = len(rows)
        groups: dict[tuple[str, str], list[Delivery]] = {}
        self._leases = {}
        self._opened = {}
        for row in sorted(rows, key=lambda r: r["id"]):
            m = Delivery.from_row(row)
            lease = row.get("lease_until")
            self._leases[m.id] = datetime.fromisoformat(lease) if isinstance(lease, str) else lease
            groups.setdefault((m.dossier_id, m.topic), []).append(m)
            opened = self._open(m)  # here, in this thread: the vault reads through the store's connection
            if opened is not None:
                self._opened[m.id] = opened
        if self.concurrency == 1 or len(groups) == 1:
            for group in groups.values():
                for m in group:
                    self._record(m, self._attempt(m), stats)
        else:
            pool = self._executor()
            futures: list[Future[list[tuple[Delivery, _Outcome]]]] = [
                pool.submit(self._attempt_group, g) for g in groups.values()]
            for f in futures:
                for m, outcome in f.result():
                    self._record(m, outcome, stats)
        self.stats.add(stats)
        return stats

    def drain(self) -> DeliveryStats:
        """Passes until nothing is due now (retries scheduled for later stay pending)."""
        total = DeliveryStats()
        while not self._stop.is_set():
            stats = self.run_once()
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run(self, *, until: datetime | Callable[[], bool] | None = None) -> DeliveryStats:
        """Deliver until ``stop()`` (or a signal handler calling it), or until ``until`` (a time on the
        worker's clock, or a predicate). Sleeps ``poll_interval`` when nothing is due."""
        total = DeliveryStats()
        backoff = StoreBackoff("delivery worker " + self.worker_id)
        try:
            while not self._stop.is_set() and not self._done(until):
                try:
                    stats = self.run_once()
                except StoreError as exc:  # the store is unreachable or locked: wait, reconnect, go on
                    self._stop.wait(backoff.failed(exc))
                    continue
                backoff.succeeded()
                total.add(stats)
                if stats.claimed == 0:
                    self._stop.wait(self.poll_interval)
        finally:
            self.close()
        return total

    def _done(self, until: datetime | Callable[[], bool] | None) -> bool:
        if until is None:
            return False
        if isinstance(until, datetime):
            return self.clock.now() >= until
        return bool(until())

    def stop(self) -> None:
        """Finish the deliveries in flight, hand back the rest of the batch, then return from ``run``."""
        self._stop.set()

    def close(self) -> None:
        """Give back anything still claimed and stop the delivery threads."""
        release = getattr(self.store, "release_outbox", None)
        if release is not None:
            try:
                release(self.worker_id)
            except StoreError as exc:  # unreachable at shutdown: the leases expire and others take the rows over
                log.warning("could not hand back the claimed messages (%s); their leases will expire", exc)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- personal values -------------------------------------------------------------------------------------
    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = Vault(self.store)
        return self._vault

    def _open(self, m: Delivery) -> _Opened | _Outcome | None:
        """The message with its references opened (None: it holds none), or the permanent failure to open
        them. The error names the vault's reason (entry, key id), never a value."""
        fields = payload_refs(m.payload)
        if not fields:
            return None
        try:
            payload = self.vault.resolve_json(dict(m.payload))
        except (ProcflowError, ValueError, KeyError) as exc:  # VaultError, KeysUnavailable, a malformed reference
            return _Outcome(error="personal data could not be opened from the vault, so nothing was sent: "
                                  + _describe(exc) + " (restore the key or the vault entry, then requeue)",
                            permanent=True)
        secrets = _secret_texts(_opened_values(m.payload, payload))
        return _Opened(attrs.evolve(m, payload=payload), tuple(dict.fromkeys(fields)), secrets)

    def _audit(self, m: Delivery, opened: _Opened, outcome: str) -> None:
        """One disclosure per attempt that handed opened personal values to an adapter (names, not values)."""
        hook = delivery_hook(self.pm, m.topic)
        receivers = ", ".join(sorted({impl.plugin_name for impl in hook.get_hookimpls()})) or "?"
        try:
            self.store.record_audit(AuditEntry(
                at=self.clock.now(), actor=f"delivery:{self.worker_id}", agency="", dossier_id=m.dossier_id,
                action=f"disclose:{m.topic}", outcome=outcome, purpose="delivery",
                detail=f"to {receivers} via {m.topic} ({m.key}, attempt {m.attempt}): "
                       f"{', '.join(sorted(set(opened.fields)))}"))
        except StoreError as exc:  # the store went away: the redelivery after the lease is audited again
            log.error("could not audit the disclosure of %s (%s): %s", m.key, m.topic, exc)
        except Exception:  # the delivery outcome is recorded regardless; the audit failure is loud
            log.exception("could not audit the disclosure of %s (%s)", m.key, m.topic)

    # -- delivering -----------------------------------------------------------------------------------------
    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="procflow-delivery")
        return self._pool

    def _attempt_group(self, group: list[Delivery]) -> list[tuple[Delivery, _Outcome]]:
        return [(m, self._attempt(m)) for m in group]

    def _attempt(self, m: Delivery) -> _Outcome:
        if self._stop.is_set():
            return _Outcome(skipped=True)
        lease = self._leases.get(m.id)
        if lease is not None and self.clock.now() + timedelta(seconds=self.timeout) >= lease:
            return _Outcome(skipped=True)  # the lease would end mid-delivery: another worker may take it
        opened = self._opened.get(m.id)
        if isinstance(opened, _Outcome):
            return opened  # the vault could not open its references: nothing goes out
        hook = delivery_hook(self.pm, m.topic)
        if not hook.get_hookimpls():
            return _Outcome(error=f"no adapter delivers topic {m.topic!r} (no plugin implements {hook.name}); "
                                  "install one, then requeue", permanent=True)
        secrets = opened.secrets if opened is not None else frozenset()
        try:
            receipt = hook(message=m if opened is None else opened.delivery, timeout=self.timeout)
        except AdapterError as exc:
            return _Outcome(error=_describe(exc, secrets), permanent=not exc.retryable, called=True)
        except Exception as exc:  # an adapter that did not classify its error: retry, keep the evidence
            if secrets:  # the traceback may quote the values it was given: log it scrubbed
                log.warning("adapter raised an unclassified %s for %s\n%s", type(exc).__name__, m.key,
                            _scrub("".join(traceback.format_exception(exc)), secrets))
            else:
                log.warning("adapter raised an unclassified %s for %s", type(exc).__name__, m.key, exc_info=True)
            return _Outcome(error="unclassified " + _describe(exc, secrets), called=True)
        if receipt is None:
            return _Outcome(error=f"no adapter accepted topic {m.topic!r} (every {hook.name} returned None)",
                            permanent=True, called=True)
        return _Outcome(receipt=receipt, called=True)

    def _record(self, m: Delivery, outcome: _Outcome, stats: DeliveryStats) -> None:
        now = self.clock.now()
        if outcome.skipped:
            release = getattr(self.store, "release_outbox", None)
            if release is not None:
                release(self.worker_id, [m.id])
            stats.released += 1
            return
        opened = self._opened.pop(m.id, None)
        if isinstance(opened, _Opened) and outcome.called:  # the adapter got personal values, whatever it did
            self._audit(m, opened, "sent" if outcome.error is None else "failed")
        if outcome.error is None:
            if self.store.complete_outbox(m.id, self.worker_id, now=now):
                stats.delivered += 1
                self._notify("procflow_on_delivered", message=m, receipt=outcome.receipt)
            else:
                stats.lost += 1
            return
        dead = outcome.permanent or m.attempt >= self.max_attempts
        retry_at = None if dead else now + timedelta(seconds=self.backoff.delay(m.attempt, self.rng))
        error = outcome.error if not dead or outcome.permanent else f"after {m.attempt} attempt(s): {outcome.error}"
        if not self.store.fail_outbox(m.id, self.worker_id, now=now, error=error, retry_at=retry_at):
            stats.lost += 1
        elif dead:
            stats.dead += 1
            log.warning("dead letter %s (%s): %s", m.key, m.topic, error)
            self._notify("procflow_on_dead_letter", message=m, error=error)
        else:
            stats.retried += 1
            log.debug("retry %s at %s after: %s", m.key, retry_at, error)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        try:
            getattr(self.pm.hook, hook)(**kwargs)
        except Exception:
            log.exception("a %s plugin failed; the delivery outcome is recorded regardless", hook)

