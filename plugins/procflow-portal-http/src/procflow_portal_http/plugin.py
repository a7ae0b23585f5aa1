"""The portal adapter as a procflow plugin: subscribes to ``portal.status``, delivers it, reports statuses.

Configured explicitly (``PortalPlugin(url, username=..., password=..., agency_code=...)``) or, for the
installed entry point, from the environment when first used: ``PROCFLOW_PORTAL_URL``,
``PROCFLOW_PORTAL_USERNAME``, ``PROCFLOW_PORTAL_PASSWORD``, ``PROCFLOW_PORTAL_AGENCY``. Unconfigured, it
subscribes to nothing and answers nothing, so installing it changes no behaviour until it is set up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence

import httpx

from procflow.engine.outbox import Delivery, OutboxTopic, status_sync_topic
from procflow.hookspecs import hookimpl
from procflow.store.base import Store
from procflow_portal_http.client import PortalClient
from procflow_portal_http.simulator import PortalSimulator

__all__ = ["PortalPlugin", "default"]


class PortalPlugin:
    simulator_class = PortalSimulator
    """The portal simulator this adapter talks to in a local run (``procflow simulate --local-portal`` finds the
    adapter through its entry point and starts this, so procflow itself never imports the adapter by name)."""

    def __init__(self, url: str | None = None, *, username: str | None = None, password: str | None = None,
                 agency_code: str | None = None, transport: httpx.BaseTransport | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self._explicit = url is not None
        self._config = {"url": url, "username": username, "password": password, "agency_code": agency_code}
        self._environ = environ
        self._transport = transport
        self._client: PortalClient | None = None
        self._client_settings: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def _settings(self) -> dict[str, str | None]:
        if self._explicit:
            return dict(self._config)
        env = self._environ if self._environ is not None else os.environ
        return {"url": env.get("PROCFLOW_PORTAL_URL"), "username": env.get("PROCFLOW_PORTAL_USERNAME"),
                "password": env.get("PROCFLOW_PORTAL_PASSWORD"), "agency_code": env.get("PROCFLOW_PORTAL_AGENCY")}

    @property
    def configured(self) -> bool:
        return bool(self._settings()["url"])

    @property
    def client(self) -> PortalClient:
        """One client per configuration: a changed environment (another portal, new credentials) gets a
        new client rather than the old session."""
        with self._lock:
            s = self._settings()
            if self._client is not None and s != self._client_settings:
                self._client.close()
                self._client = None
            if self._client is None:
                if not s["url"]:
                    raise RuntimeError("the portal adapter is not configured (set PROCFLOW_PORTAL_URL)")
                self._client = PortalClient(s["url"], username=s["username"] or "procflow",
                                            password=s["password"] or "procflow",
                                            agency_code=s["agency_code"] or "000.00.00.H00", transport=self._transport)
                self._client_settings = s
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @hookimpl
    def procflow_register_outbox_topics(self, store: Store) -> Iterable[OutboxTopic]:
        return [status_sync_topic(store)] if self.configured else []

    @hookimpl
    def procflow_deliver_status_sync(self, message: Delivery, timeout: float) -> str | None:
        if not self.configured:
            return None
        return self.client.sync(message.payload, key=message.key, timeout=timeout)

    @hookimpl
    def procflow_resolve_remote_statuses(self, dossier_ids: Sequence[str], timeout: float) -> dict[str, int] | None:
        if not self.configured:
            return None
        return self.client.statuses(dossier_ids, timeout=timeout)


default = PortalPlugin()
"""The instance the ``procflow`` entry point registers; it reads its settings from the environment."""
