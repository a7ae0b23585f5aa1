"""``procflow plugins``, ``worker``, ``outbox`` and ``reconcile``: the adapter SDK on the command line.

Mounted by ``procflow.cli.app`` through ``register(app)`` so the main CLI module does not grow with every
subsystem. Everything printed about a message passes through masking: dead-letter reasons are shown to
people, and an adapter may have quoted personal data back in an error.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from procflow.cli._common import DbOption, as_operator, err, fail, open_store_or_fail, out
from procflow.errors import ProcflowError
from procflow.officehours import local_time

__all__ = ["checkpoints", "register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
_fail = fail


def _open(db: str | None) -> Any:
    # the keyring is checked on open: a worker must not fail every message of a store whose keyring is missing
    return open_store_or_fail(db)


@contextmanager
def checkpoints(db: str | None, store: Any, every: float, *, once: bool = False) -> Iterator[Any]:
    """A long-running writer's checkpoints (``procflow.privacy.checkpoint.checkpointing``), on a connection of
    their own; ``every`` 0 takes none. Without a checkpoint key the writer runs and says once that the log is
    unanchored (no key is ever made here). ``store``: the writer's own, whose keyring names the checkpoint key.
    ``once``: one checkpoint at the end, no interval."""
    if every <= 0:
        yield None
        return
    from procflow.privacy.checkpoint import checkpointing
    from procflow.privacy.vault import Vault

    def opened() -> Any:
        return _open(db)

    provider = Vault(store, location=db).key_provider()  # the provider the store's engine uses
    with checkpointing(opened, provider, interval=None if once else every,
                       on_unanchored=lambda text: err.print(f"[yellow]warning:[/] {text}", highlight=False,
                                                            soft_wrap=True)) as anchors:
        yield anchors


def _plugin_manager() -> Any:
    from procflow.plugins import make_plugin_manager

    try:
        return make_plugin_manager()
    except ProcflowError as exc:
        _fail(str(exc))


def _emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def plugins_cmd(as_json: JsonOption = False) -> None:
    """List installed plugins (entry-point group 'procflow') and the hooks each implements."""
    from procflow.plugins import describe_plugins

    infos = describe_plugins(_plugin_manager())
    if as_json:
        _emit_json([{"name": p.name, "source": p.source, "hooks": list(p.hooks)} for p in infos])
        return
    table = Table(title="procflow plugins", title_justify="left")
    for col in ("plugin", "from", "hooks"):
        table.add_column(col)
    for p in infos:
        table.add_row(p.name, p.source, ", ".join(h.removeprefix("procflow_") for h in p.hooks))
    out.print(table)


def _operator(store: Any, action: str) -> None:
    """Act as the machine's operator (``_common.as_operator``), closing the store when there is none."""
    try:
        as_operator(store, action)
    except typer.Exit:
        store.close()
        raise


def worker_cmd(
    db: DbOption = None,
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then exit.")] = False,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts before a message is dead-lettered.")] = 8,
    base_delay: Annotated[float, typer.Option(min=0, help="Seconds before the first retry (then doubling).")] = 30.0,
    max_delay: Annotated[float, typer.Option(min=0, help="Longest wait between retries, in seconds.")] = 3600.0,
    jitter: Annotated[float, typer.Option(min=0, max=1, help="Spread of each retry delay (±fraction).")] = 0.2,
    timeout: Annotated[float, typer.Option(min=0.001, help="Time budget of one delivery, in seconds.")] = 10.0,
    lease: Annotated[float, typer.Option(min=0.1, help="Seconds a claimed batch stays ours.")] = 300.0,
    batch: Annotated[int, typer.Option(min=1, help="Messages claimed at a time.")] = 20,
    concurrency: Annotated[int, typer.Option(min=1, help="Deliveries in flight at once.")] = 4,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds to wait when nothing is due.")] = 1.0,
    topic: Annotated[list[str] | None, typer.Option(help="Only these topics (repeatable).")] = None,
    worker_id: Annotated[str | None, typer.Option(help="Name in claimed_by (default host:pid:random).")] = None,
    no_timers: Annotated[bool, typer.Option("--no-timers", help="Do not fire due timers in this worker.")] = False,
    checkpoint_every: Annotated[float, typer.Option(min=0, help="Seconds between checkpoints of the log (0: none; "
                                                                "needs a checkpoint key, `procflow keys init "
                                                                "--checkpoint`).")] = 60.0,
    as_json: JsonOption = False,
) -> None:
    """Deliver outbox messages through the installed adapters, retrying with backoff; SIGTERM stops it
    gracefully (deliveries in flight finish, the rest of the batch is handed back)."""
    from procflow.workers.delivery import DeliveryWorker

    store = _open(db)
    _operator(store, "worker")  # it hands personal data to the adapters and writes the outbox, timers, checkpoints
    try:
        w = DeliveryWorker(store, _plugin_manager(), worker_id=worker_id, max_attempts=max_attempts,
                           base_delay=base_delay, max_delay=max_delay, jitter=jitter, lease_seconds=lease,
                           batch_size=batch, timeout=timeout, concurrency=concurrency, topics=topic,
                           poll_interval=poll)
    except ValueError as exc:
        _fail(str(exc))
    import threading

    from procflow.plugins import build_engine
    from procflow.workers.scheduler import Scheduler

    # Due timers fire in the same worker, on their own connection (timers are the scheduler's, delivery is ours).
    timers = None if no_timers else Scheduler(build_engine(_open(db), pm=_plugin_manager(),
                                                           register_procedures=False))
    timer_thread: threading.Thread | None = None

    def stop(*_: object) -> None:  # the checkpointer stops after them: its last checkpoint covers their last writes
        w.stop()
        if timers is not None:
            timers.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    err.print(f"procflow worker {w.worker_id} on {db}" + (" (once)" if once else " — SIGTERM or Ctrl-C stops"),
              highlight=False)
    try:
        # The log's checkpoints (procflow.privacy.anchor): every --checkpoint-every seconds and when the worker ends.
        with checkpoints(db, store, checkpoint_every, once=once):
            if once:
                try:
                    if timers is not None:
                        timers.run_due()
                    stats = w.drain()
                finally:
                    w.close()
            else:
                if timers is not None:
                    timer_thread = threading.Thread(target=timers.run, kwargs={"idle_sleep": poll},
                                                    name="procflow-timers", daemon=True)
                    timer_thread.start()
                try:
                    stats = w.run()
                finally:
                    if timers is not None:  # its last batch commits before the shutdown checkpoint
                        timers.stop()
                        if timer_thread is not None:
                            timer_thread.join(timeout=30)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if timers is not None:
            timers.stop()
            timers.engine.store.close()
        store.close()
    if as_json:
        _emit_json(stats.to_dict())
    else:
        out.print(f"delivered {stats.delivered} · retried {stats.retried} · dead-lettered {stats.dead}"
                  f" · handed back {stats.released} · lost lease {stats.lost}", highlight=False)


def outbox_cmd(
    db: DbOption = None,
    dead: Annotated[bool, typer.Option("--dead", help="List dead letters.")] = False,
    pending: Annotated[bool, typer.Option("--pending", help="List pending messages.")] = False,
    requeue: Annotated[list[int] | None, typer.Option(help="Requeue this dead message id (repeatable).")] = None,
    requeue_all: Annotated[bool, typer.Option("--requeue-all", help="Requeue every dead message.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows to list.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show the outbox: counts per status, pending or dead messages; requeue dead ones after a fix."""
    from procflow.clock import SystemClock
    from procflow.privacy.masking import mask_text

    store = _open(db)
    if requeue or requeue_all:
        _operator(store, "outbox:requeue")
        n = store.requeue_dead(None if requeue_all else list(requeue or ()), now=SystemClock().now())
        out.print(f"requeued {n} dead message(s)", highlight=False)
        if requeue and n < len(requeue):
            err.print(f"[yellow]{len(requeue) - n} id(s) were not dead letters[/]", highlight=False)
    counts = store.outbox_counts() if hasattr(store, "outbox_counts") else _count(store)
    rows: list[dict[str, Any]] = []
    for status, wanted in (("pending", pending), ("dead", dead)):
        if wanted:
            rows += store.outbox(status=status)[:limit]
    store.close()
    shown = [{"id": r["id"], "topic": r["topic"], "key": r["key"], "dossier_id": r["dossier_id"],
              "status": r["status"], "attempts": r["attempts"], "available_at": str(r["available_at"]),
              "last_error": mask_text(r["last_error"] or "")} for r in rows]
    if as_json:
        _emit_json({"counts": counts, "messages": shown})
        return
    out.print("outbox: " + " · ".join(f"{k} {v:,}" for k, v in counts.items()), highlight=False)
    if shown:
        table = Table(title_justify="left")
        for col in ("id", "topic", "idempotency key", "status", "attempts", "next try", "last error"):
            table.add_column(col, overflow="fold")
        for r in shown:
            table.add_row(str(r["id"]), r["topic"], r["key"], r["status"], str(r["attempts"]),
                          local_time(r["available_at"], "%Y-%m-%d %H:%M:%S") if r["status"] == "pending" else "—",
                          r["last_error"])
        out.print(table)


def _count(store: Any) -> dict[str, int]:
    return {s: len(store.outbox(status=s)) for s in ("pending", "delivered", "dead")}


def reconcile_cmd(
    db: DbOption = None,
    timeout: Annotated[float, typer.Option(min=0.001, help="Time budget of one lookup, in seconds.")] = 10.0,
    batch: Annotated[int, typer.Option(min=1, help="Dossiers asked about per lookup.")] = 200,
    as_json: JsonOption = False,
) -> None:
    """Compare every dossier's status with what the adapters report and enqueue corrections for drift.
    Exits 1 when some dossiers could not be checked."""
    from procflow.workers.reconcile import reconcile

    store = _open(db)
    _operator(store, "reconcile")  # it enqueues corrections
    try:
        report = reconcile(store, _plugin_manager(), timeout=timeout, batch_size=batch)
    except ProcflowError as exc:
        _fail(str(exc))
    finally:
        store.close()
    if as_json:
        _emit_json(report.to_dict())
    else:
        out.print(f"checked {report.checked:,} · in sync {report.in_sync:,} · corrections enqueued "
                  f"{report.corrected:,} (unknown to the receiver: {report.missing_remote:,}) · skipped, sync "
                  f"pending {report.in_flight:,} · could not check {report.unchecked:,}", highlight=False)
        if report.corrections:
            table = Table(title="Corrections (run `procflow worker` to deliver them)", title_justify="left")
            for col in ("dossier", "procflow", "receiver"):
                table.add_column(col)
            for c in report.corrections[:50]:
                theirs = "—" if c.remote_status is None else str(c.remote_status)
                table.add_row(c.dossier_id, str(c.local_status), theirs)
            out.print(table)
        for e in report.errors:
            err.print(f"[red]{e}[/]", highlight=False)
    if report.unchecked:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount the adapter commands on the main ``procflow`` command."""
    app.command("plugins")(plugins_cmd)
    app.command("worker")(worker_cmd)
    app.command("outbox")(outbox_cmd)
    app.command("reconcile")(reconcile_cmd)
