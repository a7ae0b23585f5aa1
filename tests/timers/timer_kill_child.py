"""Child process for the SIGKILL test: fire the backlog of a store slowly, until killed.

usage: python timer_kill_child.py DB NOW_ISO BATCH SLEEP_PER_TIMER
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import timerdefs

from procflow.clock import FakeClock
from procflow.store.sqlite import SQLiteStore
from procflow.workers.scheduler import Scheduler


def main() -> None:
    db, now_iso, batch, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    now = datetime.fromisoformat(now_iso)
    store = SQLiteStore(db)
    engine = timerdefs.make_engine(store, FakeClock(now))
    real = store.finish_timer

    def slow_finish(*args, **kwargs):  # slow enough that the parent catches it mid-batch
        time.sleep(pause)
        return real(*args, **kwargs)

    store.finish_timer = slow_finish  # type: ignore[method-assign]
    print("ready", flush=True)
    stats = Scheduler(engine, worker="child", batch=batch).run_due(now)
    print(f"done {stats.total}", flush=True)


if __name__ == "__main__":
    main()
