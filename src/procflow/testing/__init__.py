"""Testing helpers for procflow users: fixtures, fake clock, strategies and the adapter conformance kit."""
