"""Stores keep dossiers durable: snapshot + append-only events + outbox, committed together."""

from procflow.store.base import AuditEntry, OutboxMessage, Store, open_store

__all__ = ["AuditEntry", "OutboxMessage", "Store", "open_store"]
