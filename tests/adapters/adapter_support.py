"""Helpers for the adapter SDK tests: an in-process adapter that records what it receives, and an engine
whose status changes go through the standard ``portal.status`` topic into a real SQLite store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from procflow.dossier import Actor, Dossier
from procflow.engine.core import Engine
from procflow.engine.outbox import Delivery, OutboxTopic, status_sync_topic
from procflow.errors import PermanentAdapterError, RetryableAdapterError
from procflow.hookspecs import hookimpl
from procflow.plugins import PluginManager, make_plugin_manager
from procflow.store.base import Store
from procflow.testing.directory import staff_of

CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789",
         "parent_phone": "0912345678"}


class Recorder:
    """A receiver and its adapter in one: each call takes the next scripted outcome ("ok", "retry",
    "permanent", "bug", "none"); ``applied`` counts effects per idempotency key, as a receiver would."""

    def __init__(self, script: Iterable[str] = (), *, subscribe: bool = True) -> None:
        self.script = list(script)
        self.subscribe = subscribe
        self.applied: Counter[str] = Counter()
        self.calls: list[Delivery] = []
        self.store: Store | None = None
        self.in_transaction_seen: list[bool] = []

    @hookimpl
    def procflow_register_outbox_topics(self, store: Store) -> list[OutboxTopic]:
        self.store = store
        return [status_sync_topic(store)] if self.subscribe else []

    @hookimpl
    def procflow_deliver_status_sync(self, message: Delivery, timeout: float) -> Any:
        self.calls.append(message)
        if self.store is not None:
            self.in_transaction_seen.append(bool(getattr(self.store, "in_transaction", False)))
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "retry":
            raise RetryableAdapterError("portal busy (error_code 99)")
        if outcome == "permanent":
            raise PermanentAdapterError("portal rejected the record: MaHoSo 092123456789 unknown")
        if outcome == "bug":
            raise KeyError("TrangThaiHoSo")
        if outcome == "none":
            return None
        self.applied[message.key] += 1
        return f"ref-{message.key}"


def desk(code: str) -> Actor:
    return Actor(f"desk@{code}", code, {"one_stop_officer"})


def officer(code: str) -> Actor:
    return Actor(f"hotich@{code}", code, {"civil_status_officer"})


def make_engine(store: Store, registry, clock, *plugins: object) -> tuple[Engine, PluginManager]:
    from procflow.plugins import build_engine

    pm = make_plugin_manager(load_entrypoints=False, plugins=plugins)
    engine = build_engine(store, pm=pm, registry=registry, clock=clock)
    enrol_cast(engine, registry.communes_of("92")[0].code)
    return engine, pm


def enrol_cast(engine: Engine, commune: str) -> None:
    """The commune's desk and civil-status officer, enrolled (the engine refuses officials it does not know)."""
    staff_of(engine).actors(desk(commune), officer(commune))


def birth(engine: Engine, commune: str, clock, *, through: Iterable[str] = ("accept",)) -> Dossier:
    enrol_cast(engine, commune)
    d = engine.file("1.001193", filed_at=commune, actor=desk(commune), data=CHILD)
    for trigger in through:
        clock.advance(timedelta(minutes=30))
        who = officer(commune) if trigger in ("request_supplement", "approve", "stop_processing") else desk(commune)
        data = {"documents_complete": True} if trigger == "approve" else None
        engine.fire(d, trigger, who, data=data)
    return d
