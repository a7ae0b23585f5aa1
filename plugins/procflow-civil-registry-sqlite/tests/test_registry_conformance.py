"""The civil-registry adapter passes procflow's adapter conformance kit against a real SQLite table."""

from procflow.testing.conformance import AdapterConformance


class TestCivilRegistry(AdapterConformance):
    pass
