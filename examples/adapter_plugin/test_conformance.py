"""Run procflow's adapter conformance kit against the example plugin.

The "receiver" is the JSON-lines file; the fault this fake can simulate is an unavailable gateway (the file's
directory does not exist). The kit skips, saying so, the faults a fake declares it cannot simulate.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "src"))

import procflow_sms_log

from procflow.store.base import OutboxMessage
from procflow.testing.conformance import AdapterConformance, AdapterHarness


@pytest.fixture
def procflow_adapter(tmp_path, monkeypatch):
    gateway = tmp_path / "sms.jsonl"
    monkeypatch.setenv(procflow_sms_log.ENV, str(gateway))

    @contextlib.contextmanager
    def fault(kind):
        assert kind == "unavailable"
        monkeypatch.setenv(procflow_sms_log.ENV, str(tmp_path / "no-such-dir" / "sms.jsonl"))
        try:
            yield
        finally:
            monkeypatch.setenv(procflow_sms_log.ENV, str(gateway))

    def times_applied(key):
        if not gateway.exists():
            return 0
        return sum(json.loads(line)["key"] == key for line in gateway.read_text(encoding="utf-8").splitlines())

    messages = [OutboxMessage("notify.citizen", f"notify.citizen:311.20.99.H92-260420-000{i}:2",
                              f"311.20.99.H92-260420-000{i}",
                              {"text_vi": f"Hồ sơ 311.20.99.H92-260420-000{i} đã được tiếp nhận", "status": 2,
                               "recipient": {"phone": "0912345678", "email": None}})
                for i in (1, 2)]
    return AdapterHarness(plugin=procflow_sms_log, fault=fault, messages=messages, times_applied=times_applied,
                          supports=frozenset({"unavailable"}))


class TestSmsLogAdapter(AdapterConformance):
    pass
