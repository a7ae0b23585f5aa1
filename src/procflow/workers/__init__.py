"""Background work: outbox delivery, the timer scheduler, reconciliation with the portal, escalation, overdue.

These run outside the state transaction (DESIGN invariant 5): ``procflow worker`` drives them, and an
embedder may run them in its own process or threads.
"""

from procflow.workers.delivery import DeliveryWorker
from procflow.workers.scheduler import Scheduler
from procflow.workers.timerstate import SchedulerStats, armed_timers

__all__ = ["DeliveryWorker", "Scheduler", "SchedulerStats", "armed_timers"]
