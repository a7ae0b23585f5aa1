"""procflow prefill adapter over a local civil-status / population table in SQLite."""

from procflow_civil_registry_sqlite.registry import CivilRegistry, create_registry, default

__all__ = ["CivilRegistry", "create_registry", "default"]
