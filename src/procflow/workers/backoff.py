"""How long a worker waits before trying again: the per-message retry backoff of the outbox, and the
pause while the store itself is unreachable.

Kept apart from ``procflow.workers.delivery`` because both the delivery worker and the timer scheduler
(``procflow.workers.scheduler``) wait on an unreachable store the same way; ``procflow.workers.delivery``
re-exports ``Backoff`` and ``StoreBackoff``.
"""

from __future__ import annotations

import logging
import random

import attrs

from procflow.errors import UsageError

__all__ = ["Backoff", "StoreBackoff"]

log = logging.getLogger("procflow.workers.delivery")  # where operators have always read these lines


@attrs.frozen(kw_only=True)
class Backoff:
    """Delay before the n-th retry: ``base * 2**(n-1)`` capped at ``maximum``, spread by ±``jitter`` so
    messages that failed together (a portal outage) do not all come back in the same second."""

    base: float = 30.0
    maximum: float = 3600.0
    jitter: float = 0.2

    def __attrs_post_init__(self) -> None:
        if self.base < 0 or self.maximum < self.base or not 0 <= self.jitter <= 1:
            raise UsageError(f"backoff needs 0 <= base <= maximum and 0 <= jitter <= 1, got {self}")

    def delay(self, failures: int, rng: random.Random) -> float:
        raw: float = min(self.maximum, self.base * 2 ** max(failures - 1, 0))
        return min(self.maximum, raw * (1 - self.jitter + 2 * self.jitter * rng.random()))


class StoreBackoff:
    """Waits between attempts while the store is unreachable (a PostgreSQL restart, ``pg_terminate_backend``, a
    locked SQLite file): 0.5 s, doubling to 30 s, back to the start after a success. Each failure is logged
    once, on one line; a claimed message whose outcome could not be recorded is redelivered when its lease
    expires (the receiver de-duplicates by idempotency key)."""

    def __init__(self, what: str, *, first: float = 0.5, longest: float = 30.0) -> None:
        self.what, self.first, self.longest = what, first, longest
        self.delay = 0.0
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        self.failures += 1
        self.delay = self.first if not self.delay else min(self.longest, self.delay * 2)
        log.warning("%s: %s; retrying in %.1f s", self.what, exc, self.delay)
        return self.delay

    def succeeded(self) -> None:
        if self.delay:
            log.warning("%s: the store answers again; going on", self.what)
        self.delay = 0.0
