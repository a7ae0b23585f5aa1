"""The plugin's fixtures for procflow's own tests, whether or not the pytest11 entry point is installed
(an installed plugin provides the same fixtures; these definitions simply win)."""

from procflow.testing.plugin import (  # noqa: F401
    dossier_story,
    procflow_adapters,
    procflow_bundles,
    procflow_calendar,
    procflow_clock,
    procflow_deliver,
    procflow_engine,
    procflow_memory_store,
    procflow_plugins,
    procflow_registry,
    procflow_store,
)
