"""The adapter conformance kit: the checks every procflow adapter must pass, as a pytest suite.

A vendor configures it with one fixture and runs it with one line::

    # conftest.py
    @pytest.fixture
    def procflow_adapter(tmp_path):
        with MyReceiverFake() as remote:
            yield AdapterHarness(plugin=MyPlugin(remote.url), fault=remote.fault,
                                 messages=[...], times_applied=remote.times_applied)

    # test_conformance.py
    from procflow.testing.conformance import AdapterConformance
    class TestMyAdapter(AdapterConformance): pass

The kit checks what the delivery worker relies on: hook signatures that match the contract, a receipt
for every delivered message, one effect per idempotency key however often it is sent (including after a
lost response), failures classified as retryable or permanent, timeouts honoured, and logs free of
unmasked personal data. Checks for hooks the plugin does not implement are skipped, saying so.

``fault(kind)`` is a context manager that makes the receiver misbehave while it is open (at least for
the next call): ``unavailable`` (refused / HTTP 503), ``busy`` (a "try later" answer), ``invalid`` (the
receiver rejects the data), ``hang`` (no answer for longer than the timeout) and ``lost_response`` (the
effect is applied but the answer never arrives). Declare the ones your fake cannot do in ``supports``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from procflow.clock import FakeClock
from procflow.engine.outbox import Delivery
from procflow.engine.payloadrefs import payload_refs
from procflow.errors import PermanentAdapterError, PluginError, RetryableAdapterError
from procflow.plugins import PluginManager, make_plugin_manager
from procflow.privacy.masking import mask_text
from procflow.store.base import OutboxMessage
from procflow.workers.delivery import DeliveryWorker, delivery_hook

__all__ = ["FAULTS", "AdapterConformance", "AdapterHarness", "sample_messages"]

FAULTS = ("unavailable", "busy", "invalid", "hang", "lost_response")
_T0 = datetime(2026, 4, 20, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
_PREFILL_KEYS = frozenset({"full_name", "date_of_birth", "gender", "address", "phone", "email"})


@attrs.define(kw_only=True)
class AdapterHarness:
    """What the kit needs to know about an adapter and its receiver (or a faithful fake of it)."""

    plugin: object
    fault: Callable[[str], AbstractContextManager[Any]]
    messages: Sequence[OutboxMessage] = ()  # sample messages, at least one per topic the plugin delivers
    times_applied: Callable[[str], int] | None = None  # how often the receiver applied a key's effect
    citizens: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)  # national ID -> expected values
    unknown_citizen: str = "001099000000"
    timeout: float = 0.5
    supports: frozenset[str] = frozenset(FAULTS)

    def budget(self) -> float:
        """How long a call may take when the receiver hangs: the timeout plus scheduling slack."""
        return self.timeout * 1.5 + 0.5


def _manager(h: AdapterHarness) -> PluginManager:
    return make_plugin_manager(load_entrypoints=False, plugins=[h.plugin], block=("procflow.defaults",))


def _implements(pm: PluginManager, hook: str) -> bool:
    return bool(getattr(pm.hook, hook).get_hookimpls())


def _deliveries(h: AdapterHarness, pm: PluginManager) -> list[Delivery]:
    impls = [c.name for c in pm.get_hookcallers(h.plugin) or () if c.name.startswith("procflow_deliver_")]
    if not impls:
        pytest.skip("the plugin implements no procflow_deliver_* hook")
    if not h.messages:
        pytest.fail(f"the plugin implements {', '.join(sorted(impls))}: give AdapterHarness sample messages")
    sealed = [m.key for m in h.messages if payload_refs(m.payload)]
    if sealed:
        pytest.fail(f"sample message(s) {', '.join(sealed[:3])} hold vault references ({{'$vault': ...}}), as "
                    "outbox rows do at rest; an adapter gets them opened: build the samples with "
                    "sample_messages(rows, vault=engine.vault) or engine.vault.resolve_json(payload)")
    return [Delivery(id=i + 1, topic=m.topic, key=m.key, dossier_id=m.dossier_id, payload=m.payload, created_at=_T0)
            for i, m in enumerate(h.messages)]


def _deliver(pm: PluginManager, m: Delivery, timeout: float, attempt: int = 1) -> object:
    return delivery_hook(pm, m.topic)(message=attrs.evolve(m, attempt=attempt), timeout=timeout)


def _applied(h: AdapterHarness, key: str) -> int:
    if h.times_applied is None:
        pytest.fail("give AdapterHarness times_applied(key) so the kit can check idempotency at the receiver")
    return h.times_applied(key)


def _needs(h: AdapterHarness, fault: str) -> None:
    if fault not in h.supports:
        pytest.skip(f"the receiver fake cannot simulate {fault!r}")


def _resolver(h: AdapterHarness, pm: PluginManager) -> Any:
    if not _implements(pm, "procflow_resolve_citizen"):
        pytest.skip("the plugin implements no procflow_resolve_citizen hook")
    return pm.hook.procflow_resolve_citizen


class AdapterConformance:
    """Subclass in a test module (``class TestMyAdapter(AdapterConformance): pass``) next to a
    ``procflow_adapter`` fixture that returns an ``AdapterHarness``."""

    # -- the contract -------------------------------------------------------------------------------------
    def test_plugin_registers_against_the_contract(self, procflow_adapter: AdapterHarness) -> None:
        try:
            pm = _manager(procflow_adapter)
        except PluginError as exc:
            pytest.fail(f"the plugin does not match procflow's hook contract: {exc}")
        hooks = [c.name for c in pm.get_hookcallers(procflow_adapter.plugin) or ()]
        assert hooks, "the plugin implements no procflow hook at all (is @hookimpl from procflow.hookspecs?)"

    # -- delivery -----------------------------------------------------------------------------------------
    def test_delivers_each_sample_exactly_once(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        pm = _manager(h)
        for m in _deliveries(h, pm):
            receipt = _deliver(pm, m, h.timeout)
            assert receipt is not None, f"{m.topic} {m.key}: delivered but no receipt (None means 'not mine')"
            assert _applied(h, m.key) == 1, f"{m.key}: the receiver applied it {_applied(h, m.key)} times"

    def test_redelivery_with_the_same_key_applies_once(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        pm = _manager(h)
        for m in _deliveries(h, pm):
            for attempt in (1, 2, 3):
                assert _deliver(pm, m, h.timeout, attempt) is not None, f"{m.key}: attempt {attempt} was refused"
            assert _applied(h, m.key) == 1, (f"{m.key} sent 3 times with the same idempotency key was applied "
                                             f"{_applied(h, m.key)} times: pass message.key to the receiver")

    def test_lost_response_is_retryable_and_the_retry_applies_once(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        _needs(h, "lost_response")
        pm = _manager(h)
        m = _deliveries(h, pm)[0]
        with h.fault("lost_response"), pytest.raises(RetryableAdapterError):
            _deliver(pm, m, h.timeout)
        assert _deliver(pm, m, h.timeout, attempt=2) is not None
        assert _applied(h, m.key) == 1, f"{m.key}: applied {_applied(h, m.key)} times after a lost response"

    @pytest.mark.parametrize("fault", ["unavailable", "busy"])
    def test_transient_failure_is_retryable(self, procflow_adapter: AdapterHarness, fault: str) -> None:
        h = procflow_adapter
        _needs(h, fault)
        pm = _manager(h)
        m = _deliveries(h, pm)[0]
        with h.fault(fault):
            try:
                _deliver(pm, m, h.timeout)
            except RetryableAdapterError:
                pass
            except Exception as exc:
                pytest.fail(f"receiver {fault}: raised {type(exc).__name__} ({exc}); a passing failure must raise "
                            "RetryableAdapterError (convert third-party errors with `raise ... from exc`)")
            else:
                pytest.fail(f"receiver {fault}: the adapter reported success")
        assert _applied(h, m.key) == 0

    def test_rejected_payload_is_permanent(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        _needs(h, "invalid")
        pm = _manager(h)
        m = _deliveries(h, pm)[0]
        with h.fault("invalid"):
            try:
                _deliver(pm, m, h.timeout)
            except PermanentAdapterError:
                return
            except Exception as exc:
                pytest.fail(f"receiver rejected the data: raised {type(exc).__name__} ({exc}); retrying cannot "
                            "help, so raise PermanentAdapterError (it goes straight to the dead letters)")
        pytest.fail("receiver rejected the data: the adapter reported success")

    def test_hanging_receiver_times_out_within_budget(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        _needs(h, "hang")
        pm = _manager(h)
        m = _deliveries(h, pm)[0]
        t0 = time.monotonic()
        with h.fault("hang"), pytest.raises(RetryableAdapterError):
            _deliver(pm, m, h.timeout)
        elapsed = time.monotonic() - t0
        assert elapsed <= h.budget(), f"timeout={h.timeout:g} s but the call took {elapsed:.2f} s"

    def test_worker_delivers_through_faults_exactly_once(self, procflow_adapter: AdapterHarness,
                                                          tmp_path: Path) -> None:
        from procflow.store.sqlite import SQLiteStore

        h = procflow_adapter
        pm = _manager(h)
        samples = _deliveries(h, pm)
        store = SQLiteStore(str(tmp_path / "conformance.db"))
        try:
            store.enqueue_outbox(h.messages, now=_T0)
            clock = FakeClock(_T0)
            worker = DeliveryWorker(store, pm, clock=clock, max_attempts=6, base_delay=1, max_delay=1, jitter=0,
                                    timeout=h.timeout, batch_size=len(samples), lease_seconds=3600)
            first = next((f for f in ("lost_response", "unavailable", "busy") if f in h.supports), None)
            if first is not None:
                with h.fault(first):
                    worker.run_once()
            for _ in range(6):
                clock.advance(seconds=2)
                worker.drain()
            worker.close()
            rows = store.outbox()
        finally:
            store.close()
        assert {r["status"] for r in rows} == {"delivered"}, [(r["key"], r["status"], r["last_error"]) for r in rows]
        assert {m.key: _applied(h, m.key) for m in samples} == {m.key: 1 for m in samples}

    def test_remote_statuses_match_what_was_delivered(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        pm = _manager(h)
        if not _implements(pm, "procflow_resolve_remote_statuses"):
            pytest.skip("the plugin implements no procflow_resolve_remote_statuses hook")
        expected: dict[str, int] = {}
        for m in _deliveries(h, pm):
            _deliver(pm, m, h.timeout)
            if "status" in m.payload:
                expected[m.dossier_id] = int(m.payload["status"])
        seen = pm.hook.procflow_resolve_remote_statuses(dossier_ids=[*expected, "no-such-dossier"],
                                                        timeout=h.timeout)
        assert seen is not None and dict(seen) == expected

    # -- prefill ------------------------------------------------------------------------------------------
    def test_known_citizen_is_prefilled(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        resolve = _resolver(h, _manager(h))
        if not h.citizens:
            pytest.fail("give AdapterHarness citizens: national IDs the registry knows, with expected values")
        for national_id, expected in h.citizens.items():
            record = resolve(national_id=national_id, purpose="conformance", timeout=h.timeout)
            assert record is not None, f"{mask_text(national_id)}: known to the registry but None came back"
            assert set(record) <= _PREFILL_KEYS, f"unexpected keys {sorted(set(record) - _PREFILL_KEYS)}"
            assert {k: record.get(k) for k in expected} == dict(expected)

    def test_unknown_citizen_is_none(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        resolve = _resolver(h, _manager(h))
        assert resolve(national_id=h.unknown_citizen, purpose="conformance", timeout=h.timeout) is None

    @pytest.mark.parametrize("bad", ["12345", "0792123456789", "abcdefghijkl"])
    def test_malformed_national_id_is_permanent(self, procflow_adapter: AdapterHarness, bad: str) -> None:
        h = procflow_adapter
        resolve = _resolver(h, _manager(h))
        with pytest.raises(PermanentAdapterError):
            resolve(national_id=bad, purpose="conformance", timeout=h.timeout)

    def test_unavailable_registry_is_retryable(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        resolve = _resolver(h, _manager(h))
        _needs(h, "unavailable")
        known = next(iter(h.citizens), h.unknown_citizen)
        with h.fault("unavailable"), pytest.raises(RetryableAdapterError):
            resolve(national_id=known, purpose="conformance", timeout=h.timeout)

    def test_hanging_registry_times_out_within_budget(self, procflow_adapter: AdapterHarness) -> None:
        h = procflow_adapter
        resolve = _resolver(h, _manager(h))
        _needs(h, "hang")
        known = next(iter(h.citizens), h.unknown_citizen)
        t0 = time.monotonic()
        with h.fault("hang"), pytest.raises(RetryableAdapterError):
            resolve(national_id=known, purpose="conformance", timeout=h.timeout)
        elapsed = time.monotonic() - t0
        assert elapsed <= h.budget(), f"timeout={h.timeout:g} s but the lookup took {elapsed:.2f} s"

    # -- personal data ------------------------------------------------------------------------------------
    def test_logs_mask_personal_data(self, procflow_adapter: AdapterHarness, caplog: pytest.LogCaptureFixture) -> None:
        h = procflow_adapter
        pm = _manager(h)
        caplog.set_level(logging.DEBUG)
        for m in h.messages:
            d = Delivery(id=0, topic=m.topic, key=m.key, dossier_id=m.dossier_id, payload=m.payload)
            delivery_hook(pm, m.topic)(message=d, timeout=h.timeout)
        if _implements(pm, "procflow_resolve_citizen"):
            for national_id in [*h.citizens, h.unknown_citizen]:
                pm.hook.procflow_resolve_citizen(national_id=national_id, purpose="conformance", timeout=h.timeout)
        leaks = [r.getMessage() for r in caplog.records if mask_text(r.getMessage()) != r.getMessage()]
        assert not leaks, f"log lines with unmasked IDs or phone numbers (use procflow.privacy.masking): {leaks[:3]}"


def sample_messages(messages: Sequence[OutboxMessage], *, per_topic: int = 2,
                    vault: Any = None) -> list[OutboxMessage]:
    """Up to ``per_topic`` messages of each topic from a real outbox (e.g. ``store.outbox()`` rows turned
    into ``OutboxMessage``), keeping their order: a convenient source of realistic samples. Outbox rows hold
    personal values as vault references; pass the engine's ``vault`` to open them, as the delivery worker
    does before it calls an adapter."""
    seen: dict[str, int] = {}
    out = []
    for m in messages:
        if seen.get(m.topic, 0) < per_topic:
            seen[m.topic] = seen.get(m.topic, 0) + 1
            if vault is not None and payload_refs(m.payload):
                m = OutboxMessage(m.topic, m.key, m.dossier_id, vault.resolve_json(m.payload))
            out.append(m)
    return out

