"""procflow's pytest plugin, loaded automatically through the ``pytest11`` entry point.

A test file needs no conftest to use these fixtures. Names carry a ``procflow_`` prefix (except
``dossier_story``) so they never shadow a project's own ``engine`` or ``clock`` fixtures. procflow itself
is imported only when a test asks for a fixture, so merely having procflow installed costs other test
suites nothing.

=============================  =============================================================================
``procflow_store``             a SQLite store in a temporary file (WAL, as in production); closed afterwards
``procflow_memory_store``      a SQLite store in memory: the fastest, for property tests
``procflow_clock``             a ``WorkingClock`` at Monday 2026-04-20 08:00 (Asia/Ho_Chi_Minh); moves in working
                               days across weekends and holidays (``next_working_day``, ``add_working_days``)
``procflow_calendar``          the clock's ``WorkingCalendar``
``procflow_registry``          ``Registry.default()``: 34 provinces, 3,321 communes, sector agencies
``procflow_adapters``          a ``RecordingAdapter`` subscribed to the standard outbox topics
``procflow_plugins``           a plugin manager with only the built-in defaults and ``procflow_adapters``
``procflow_engine``            an engine on ``procflow_store`` with those plugins and every bundled procedure
``procflow_bundles``           a ``BundleCoordinator`` for the shipped liên thông bundles on that engine
``procflow_deliver``           call it to deliver every due outbox message to the adapters (returns the stats)
``procflow_directory``         the officials directory of ``procflow_engine``'s store: ``enrol(id, agency, roles)``,
                               ``staff("92")`` (a province's conventional staff), ``admin(agency)``; once anyone
                               is enrolled only enrolled officials may act (``procflow.testing.directory``)
``dossier_story``              file a dossier and tell its story (``procflow.testing.story``)
``procflow_engine_factory``    session-scoped: call it for a new engine (or ``.story(...)``) — works under
                               ``@given``, where a function-scoped fixture would be shared by every example
=============================  =============================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from procflow.bundle import BundleCoordinator
    from procflow.calendar import WorkingCalendar
    from procflow.engine.core import Engine
    from procflow.jurisdiction import Registry
    from procflow.plugins import PluginManager
    from procflow.store.sqlite import SQLiteStore
    from procflow.testing.adapters import RecordingAdapter
    from procflow.testing.clock import WorkingClock
    from procflow.testing.directory import StaffDirectory
    from procflow.testing.factory import EngineFactory
    from procflow.testing.story import StoryFactory


@pytest.fixture
def procflow_store(tmp_path: Any) -> Iterator[SQLiteStore]:
    """A SQLite store in a file under ``tmp_path`` (WAL, as in production), closed after the test."""
    from procflow.store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "procflow.db"))
    yield store
    store.close()


@pytest.fixture
def procflow_memory_store() -> Iterator[SQLiteStore]:
    """A SQLite store in memory: the fastest, when the test does not need a file."""
    from procflow.store.sqlite import SQLiteStore

    store = SQLiteStore(":memory:")
    yield store
    store.close()


@pytest.fixture
def procflow_calendar() -> WorkingCalendar:
    """The default ``WorkingCalendar``: Vietnam's days off and worked Saturdays, office hours, 15:00 cut-off."""
    from procflow.calendar import WorkingCalendar

    return WorkingCalendar()


@pytest.fixture
def procflow_clock(procflow_calendar: WorkingCalendar) -> WorkingClock:
    """A ``WorkingClock`` at Monday 2026-04-20 08:00 (Asia/Ho_Chi_Minh) that moves in working days."""
    from procflow.testing.clock import MONDAY, WorkingClock

    return WorkingClock(MONDAY, procflow_calendar)


@pytest.fixture(scope="session")
def procflow_registry() -> Registry:
    """``Registry.default()``, built once per session (read-only): provinces, communes, sector agencies."""
    from procflow.jurisdiction import Registry

    return Registry.default()


@pytest.fixture
def procflow_adapters() -> RecordingAdapter:
    """A ``RecordingAdapter``: records what the delivery worker hands it, per topic (``messages(topic)``)."""
    from procflow.testing.adapters import RecordingAdapter

    return RecordingAdapter()


@pytest.fixture
def procflow_plugins(procflow_adapters: RecordingAdapter) -> PluginManager:
    """A plugin manager with only procflow's built-in defaults and ``procflow_adapters`` (no entry points)."""
    from procflow.plugins import make_plugin_manager

    return make_plugin_manager(load_entrypoints=False, plugins=[procflow_adapters])


@pytest.fixture
def procflow_engine(procflow_store: SQLiteStore, procflow_plugins: PluginManager, procflow_registry: Registry,
                    procflow_clock: WorkingClock) -> Engine:
    """An engine on ``procflow_store`` with ``procflow_plugins``, the clock and every bundled procedure."""
    from procflow.definition.reader import bundled_definitions
    from procflow.plugins import build_engine

    engine = build_engine(procflow_store, pm=procflow_plugins, registry=procflow_registry,
                          calendar=procflow_clock.calendar, clock=procflow_clock)
    for definition in bundled_definitions():
        engine.register(definition)
    return engine


@pytest.fixture
def procflow_directory(procflow_engine: Engine) -> StaffDirectory:
    """The officials directory of ``procflow_engine``'s store: enrol officials with ``enrol(id, agency,
    roles)`` or a province's conventional staff with ``staff("92")``; from then on only enrolled officials
    may act, with the roles enrolled (what a deployment checks)."""
    from procflow.testing.directory import StaffDirectory

    return StaffDirectory(procflow_engine)


@pytest.fixture
def procflow_bundles(procflow_engine: Engine) -> BundleCoordinator:
    """A ``BundleCoordinator`` for the shipped liên thông bundles, on ``procflow_engine``."""
    from procflow.bundle import BundleCoordinator

    return BundleCoordinator(procflow_engine)


@pytest.fixture
def procflow_deliver(procflow_engine: Engine, procflow_plugins: PluginManager) -> Callable[[], Any]:
    """Call it to deliver every due outbox message to ``procflow_adapters``; returns the worker's stats."""
    from procflow.workers.delivery import DeliveryWorker

    worker = DeliveryWorker(procflow_engine.store, procflow_plugins, worker_id="pytest", clock=procflow_engine.clock,
                            jitter=0.0, timeout=5.0, vault=procflow_engine.vault)
    return worker.drain


@pytest.fixture
def dossier_story(procflow_engine: Engine, procflow_deliver: Callable[[], Any],
                  procflow_bundles: BundleCoordinator) -> StoryFactory:
    """Call it to file a dossier and get its ``Story``: ``dossier_story("1.001193", filed_at="31135", data=...)``."""
    from procflow.testing.story import StoryFactory

    return StoryFactory(procflow_engine, deliver=procflow_deliver, bundles=procflow_bundles)


@pytest.fixture(scope="session")
def procflow_engine_factory(procflow_registry: Registry) -> Iterator[EngineFactory]:
    """Session-scoped, so usable under ``@given``: call it for a new engine per example (in-memory store, its
    own clock at MONDAY, bundled procedures), or ``.story(code, filed_at=..., data=...)`` for a new story."""
    from procflow.testing.factory import EngineFactory

    factory = EngineFactory(procflow_registry)
    yield factory
    factory.close()
