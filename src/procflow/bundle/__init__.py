"""Liên thông bundles: several procedures for one application, run in parallel across agencies and joined.

A bundle definition (TOML under ``procedures/bundles``) names member procedures and which members must be
done before another may start. Each member is an ordinary dossier under the engine, with its own custodian,
status and SLA; the bundle adds what no single dossier knows: when a member starts (its predecessors have a
result), the bundle's own status and SLA clock (3 working days for the child-under-6 bundle), and the joined
result return at the receiving commune. Members must be fired through :class:`BundleCoordinator` so the
member's transition and the bundle's reaction commit in one transaction; ``sync`` repairs a bundle whose
member was fired directly.

The bundle's record is a cache of its events (``replay_bundle``), like a dossier's. It lives in tables this
module creates on the SQLite store until the store protocol grows a generic record API (see ``_Tables``).
"""

from procflow.bundle.coordinator import BundleCoordinator, Fired
from procflow.bundle.definition import BundleDefinition, BundleMember, bundled_bundle_definitions, parse_bundle
from procflow.bundle.records import Bundle, BundleEvent, replay_bundle

__all__ = [
    "Bundle",
    "BundleCoordinator",
    "BundleDefinition",
    "BundleEvent",
    "BundleMember",
    "Fired",
    "bundled_bundle_definitions",
    "parse_bundle",
    "replay_bundle",
]
