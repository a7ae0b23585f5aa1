"""Fresh engines on demand, for tests that need a new world per example (``@given``) or per loop turn.

Hypothesis runs a test body many times inside one call of the test function, so a function-scoped fixture
would be shared by every example (hypothesis refuses it: the ``function_scoped_fixture`` health check).
The ``procflow_engine_factory`` fixture is session-scoped and hands out a new engine each time it is called:
its own in-memory store, its own ``WorkingClock`` at ``MONDAY``, the bundled procedures registered, the
shipped registry shared (it is read-only and the slowest part to build). Everything it made is closed
when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procflow.dossier import Actor
    from procflow.engine.core import Engine
    from procflow.jurisdiction import Registry
    from procflow.store.base import Store
    from procflow.testing.story import Story, StoryFactory

__all__ = ["EngineFactory"]


class EngineFactory:
    """Call it for a new ``Engine``; ``story(...)`` files a dossier on a new engine and starts its story."""

    def __init__(self, registry: Registry | None = None) -> None:
        from procflow.jurisdiction import Registry

        self.registry = registry if registry is not None else Registry.default()
        self._stores: list[Store] = []

    def __call__(self, *, procedures: Iterable[str] | None = None, start: datetime | None = None,
                 db: str = ":memory:") -> Engine:
        """A new engine: ``procedures`` limits the bundled ones registered (codes; default all), ``start``
        sets its ``WorkingClock`` (default ``MONDAY``), ``db`` its store (default a new in-memory one)."""
        return self.stories(procedures=procedures, start=start, db=db).engine

    def stories(self, *, procedures: Iterable[str] | None = None, start: datetime | None = None,
                db: str = ":memory:") -> StoryFactory:
        """What the ``dossier_story`` fixture is, on a new engine: delivery to a recording adapter included."""
        from procflow.bundle import BundleCoordinator
        from procflow.plugins import build_engine, make_plugin_manager
        from procflow.store.base import open_store
        from procflow.testing.adapters import RecordingAdapter
        from procflow.testing.clock import MONDAY, WorkingClock
        from procflow.testing.story import StoryFactory
        from procflow.testing.strategies import bundled
        from procflow.workers.delivery import DeliveryWorker

        store = open_store(db)
        self._stores.append(store)
        clock = WorkingClock(start or MONDAY)
        pm = make_plugin_manager(load_entrypoints=False, plugins=[RecordingAdapter()])
        engine = build_engine(store, pm=pm, registry=self.registry, calendar=clock.calendar, clock=clock,
                              register_procedures=False)  # parsed once per process (strategies.bundled)
        wanted = None if procedures is None else set(procedures)
        for definition in bundled():
            if wanted is None or definition.code in wanted:
                engine.register(definition)
        worker = DeliveryWorker(store, pm, worker_id="pytest", clock=clock, jitter=0.0, timeout=5.0,
                                vault=engine.vault)
        bundles = BundleCoordinator(engine) if wanted is None else None
        return StoryFactory(engine, deliver=worker.drain, bundles=bundles)

    def story(self, procedure: str, *, filed_at: str, data: Mapping[str, Any] | None = None,
              location: str | None = None, by: str | Actor | None = None,
              at: str | datetime | None = None) -> Story:
        """File ``procedure`` at ``filed_at`` on a new engine (only that procedure registered)."""
        return self.stories(procedures=[procedure])(procedure, filed_at=filed_at, data=data, location=location,
                                                    by=by, at=at)

    def close(self) -> None:
        """Close every store this factory opened (the fixture does it at the end of the session)."""
        while self._stores:
            self._stores.pop().close()
