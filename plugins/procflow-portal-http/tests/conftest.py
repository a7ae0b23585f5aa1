"""Fixtures: a real portal simulator on 127.0.0.1 and realistic status messages from a real engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from procflow_portal_http import PortalPlugin, PortalSimulator

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.jurisdiction import Registry
from procflow.store.base import OutboxMessage
from procflow.store.sqlite import SQLiteStore
from procflow.testing.conformance import AdapterHarness
from procflow.testing.directory import staff_of

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-01", "parent_national_id": "092123456789",
         "parent_phone": "0912345678"}


@pytest.fixture(scope="session", autouse=True)
def hermetic_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the tests out of the user's home and keyrings (as procflow's own suite does): the default keyring
    of a PostgreSQL store lives under ``$XDG_CONFIG_HOME``; keys configured in the caller's shell are ignored."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        mp.delenv("PROCFLOW_KEYS_FILE", raising=False)
        mp.delenv("PROCFLOW_VAULT_KEYS", raising=False)
        yield


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.default()


@pytest.fixture
def portal() -> Iterator[PortalSimulator]:
    with PortalSimulator(hang=1.0) as sim:
        yield sim


def birth_messages(tmp_path, registry: Registry) -> list[OutboxMessage]:
    """One birth registration taken through a supplement request and back to approval: five status
    messages (received, processing, supplement requested, processing again with new due date, processed)."""
    store = SQLiteStore(str(tmp_path / "source.db"))
    clock = FakeClock(datetime(2026, 4, 20, 8, 30, tzinfo=VN))
    engine = Engine(store, registry=registry, clock=clock, outbox_rules=[topic_rule([status_sync_topic(store)])])
    for d in bundled_definitions():
        engine.register(d)
    commune = registry.communes_of("92")[3].code
    desk = Actor(f"desk@{commune}", commune, {"one_stop_officer"})
    officer = Actor(f"hotich@{commune}", commune, {"civil_status_officer"})
    staff_of(engine).actors(desk, officer)  # the officials who act, enrolled (the engine is strict)
    d = engine.file("1.001193", filed_at=commune, actor=desk, data=CHILD)
    steps = (("accept", desk, 0, None), ("request_supplement", officer, 0, None), ("resubmit", desk, 3, None),
             ("approve", officer, 0, {"documents_complete": True}))
    for trigger, who, days, data in steps:
        clock.advance(days=days, hours=1)
        engine.fire(d, trigger, who, data=data)
    rows = store.outbox()
    # at rest the payloads hold vault references; the adapter gets them opened, as the delivery worker does
    messages = [OutboxMessage(r["topic"], r["key"], r["dossier_id"], engine.vault.resolve_json(r["payload"]))
                for r in rows]
    store.close()
    return messages


@pytest.fixture
def messages(tmp_path, registry) -> list[OutboxMessage]:
    return birth_messages(tmp_path, registry)


@pytest.fixture
def procflow_adapter(portal: PortalSimulator, messages) -> Iterator[AdapterHarness]:
    plugin = PortalPlugin(portal.url, username=portal.username, password=portal.password,
                          agency_code="000.00.00.H92")
    yield AdapterHarness(plugin=plugin, fault=portal.fault, messages=messages, times_applied=portal.times_applied,
                         timeout=0.3)
    plugin.close()
