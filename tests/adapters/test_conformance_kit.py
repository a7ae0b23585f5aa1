"""The conformance kit catches broken adapters: run as a vendor would (a separate pytest), it passes a
correct in-memory adapter and fails, check by check, a deliberately broken one."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

REMOTE = '''
import logging
import time
from collections import Counter
from contextlib import contextmanager

import pytest

from procflow.errors import PermanentAdapterError, RetryableAdapterError
from procflow.hookspecs import hookimpl
from procflow.store.base import OutboxMessage
from procflow.testing.conformance import AdapterHarness

log = logging.getLogger("vendor")


class Remote:
    def __init__(self):
        self.applied = Counter()
        self.faults = []

    @contextmanager
    def fault(self, kind):
        self.faults.append(kind)
        try:
            yield
        finally:
            self.faults.clear()

    def next_fault(self):
        return self.faults.pop(0) if self.faults else None


MESSAGES = [OutboxMessage("portal.status", f"portal.status:H{i}:1", f"H{i}",
                          {"dossier_id": f"H{i}", "status": 2, "applicant_id": "092123456789"}) for i in range(2)]
'''

GOOD = '''
class Adapter:
    def __init__(self, remote):
        self.remote = remote

    @hookimpl
    def procflow_deliver_status_sync(self, message, timeout):
        fault = self.remote.next_fault()
        if fault in ("unavailable", "busy"):
            raise RetryableAdapterError(f"receiver {fault}")
        if fault == "invalid":
            raise PermanentAdapterError("receiver rejected the record")
        if fault == "hang":
            time.sleep(timeout)
            raise RetryableAdapterError("no answer in time")
        if message.key not in self.remote.applied:
            self.remote.applied[message.key] += 1
        if fault == "lost_response":
            time.sleep(timeout)
            raise RetryableAdapterError("no answer in time")
        log.info("delivered %s", message.key)
        return "ok"
'''

BROKEN = '''
class Adapter:
    """Everything an adapter must not do."""

    def __init__(self, remote):
        self.remote = remote

    @hookimpl
    def procflow_deliver_status_sync(self, message, timeout):
        fault = self.remote.next_fault()
        if fault in ("unavailable", "busy"):
            raise ConnectionError("connection refused")  # not converted at the boundary
        if fault == "invalid":
            raise RetryableAdapterError("receiver rejected the record")  # misclassified: retrying cannot help
        if fault == "hang":
            time.sleep(timeout * 4)  # ignores its time budget
            raise RetryableAdapterError("no answer in time")
        self.remote.applied[message.key] += 1  # ignores the idempotency key
        if fault == "lost_response":
            raise RetryableAdapterError("no answer in time")
        log.info("delivered %s for citizen %s", message.key, message.payload["applicant_id"])  # unmasked
        return "ok"
'''

WRONG_SIGNATURE = '''
class Adapter:
    def __init__(self, remote):
        self.remote = remote

    @hookimpl
    def procflow_deliver_status_sync(self, message, timeout, session):
        return "ok"
'''

FIXTURE = '''
@pytest.fixture
def procflow_adapter():
    remote = Remote()
    return AdapterHarness(plugin=Adapter(remote), fault=remote.fault, messages=MESSAGES,
                          times_applied=lambda key: remote.applied[key], timeout=0.2)
'''


def _vendor(root: Path, name: str, adapter: str) -> None:
    d = root / name
    d.mkdir()
    (d / "conftest.py").write_text(textwrap.dedent(REMOTE + adapter + FIXTURE), encoding="utf-8")
    (d / f"test_{name}_adapter.py").write_text(
        "from procflow.testing.conformance import AdapterConformance\n\n\n"
        "class TestAdapter(AdapterConformance):\n    pass\n", encoding="utf-8")


def test_the_kit_passes_a_good_adapter_and_fails_broken_ones(tmp_path):
    for name, adapter in (("good", GOOD), ("broken", BROKEN), ("wrongsig", WRONG_SIGNATURE)):
        _vendor(tmp_path, name, adapter)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "good", "broken",
                          "wrongsig"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    failed = set(re.findall(r"^FAILED (\S+)::TestAdapter::(\S+)", run.stdout, re.M))
    assert run.returncode == 1, run.stdout[-3000:]
    assert not {t for d, t in failed if d.startswith("good")}, run.stdout[-3000:]
    assert {t for d, t in failed if d.startswith("broken")} == {
        "test_redelivery_with_the_same_key_applies_once",
        "test_lost_response_is_retryable_and_the_retry_applies_once",
        "test_transient_failure_is_retryable[unavailable]",
        "test_transient_failure_is_retryable[busy]",
        "test_rejected_payload_is_permanent",
        "test_hanging_receiver_times_out_within_budget",
        "test_worker_delivers_through_faults_exactly_once",
        "test_logs_mask_personal_data",
    }, run.stdout[-3000:]
    wrong = {t for d, t in failed if d.startswith("wrongsig")}
    assert "test_plugin_registers_against_the_contract" in wrong, run.stdout[-3000:]
    assert "takes 'session', which the hook does not offer" in run.stdout
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= 9  # the good adapter's delivery checks ran, not skipped
