"""The portal adapter passes procflow's adapter conformance kit against the real simulator."""

from procflow.testing.conformance import AdapterConformance


class TestPortalAdapter(AdapterConformance):
    pass
