"""procflow adapter for a national-public-service-portal-style sync API (DVCQG shape), with a simulator."""

from procflow_portal_http.client import PortalClient
from procflow_portal_http.plugin import PortalPlugin
from procflow_portal_http.simulator import FAULTS, PortalSimulator

__all__ = ["FAULTS", "PortalClient", "PortalPlugin", "PortalSimulator"]
