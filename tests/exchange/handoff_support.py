"""The two-node federation the hand-off tests run on: a commune node and a provincial node, each with its
own SQLite file, engine, keys and ``ExchangeNode``, joined by an in-process transport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor, Dossier, replay
from procflow.engine.core import Engine
from procflow.errors import RetryableAdapterError
from procflow.exchange import ExchangeNode, HandoffAdapter, LocalTransport, NodeKeys, TrustStore, generate_test_pki
from procflow.jurisdiction import Registry
from procflow.plugins import make_plugin_manager
from procflow.privacy.keys import StaticKeyProvider
from procflow.privacy.vault import Vault
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import staff_of
from procflow.workers.delivery import DeliveryWorker

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LAND = "1.012751"
APPLICANT = {"applicant_name": "Trần Thị Bích Ngọc", "applicant_national_id": "092987654321", "parcel": "12/34",
             "land_address": "Số 5, hẻm 12, đường Trần Hưng Đạo", "area_m2": 125.5}


@attrs.define
class Node:
    code: str
    store: Any  # SQLiteStore or PostgresStore
    engine: Engine
    exchange: ExchangeNode
    worker: DeliveryWorker

    def events(self, dossier_id: str):
        return self.engine.history(dossier_id)

    def rows(self, dossier_id: str):
        """Events exactly as stored (personal values as vault references, with their hash chain)."""
        return self.store.events(dossier_id)

    def counts(self) -> tuple[int, int, int]:
        one = lambda sql: self.store._execute(sql)[0][0]  # noqa: E731
        return (one("SELECT count(*) FROM events"), one("SELECT count(*) FROM exchange_received"),
                one("SELECT count(*) FROM vault"))


class FlakyTransport(LocalTransport):
    """The first attempt of each message fails like an unreachable node; what was sent is kept."""

    def __init__(self, nodes) -> None:
        super().__init__(nodes)
        self.bytes_seen: dict[str, list[bytes]] = {}

    def send(self, to_agency, envelope, *, message_id, timeout):
        seen = self.bytes_seen.setdefault(message_id, [])
        seen.append(bytes(envelope))
        if len(seen) == 1:
            raise RetryableAdapterError(f"node {to_agency} unreachable")
        return super().send(to_agency, envelope, message_id=message_id, timeout=timeout)


@attrs.define
class Federation:
    a: Node  # the commune's node
    b: Node  # the provincial node: the land registration office, hosting the tax department too
    clock: FakeClock
    transport: FlakyTransport
    commune: str
    office: str
    tax: str

    def close(self) -> None:
        self.a.store.close()
        self.b.store.close()

    def hand_to_office(self) -> tuple[Dossier, bytes]:
        """File a land dossier at the commune and take it to the land registration office (not delivered)."""
        desk = Actor(f"motcua@{self.commune}", self.commune, {"one_stop_officer"})
        land_officer = Actor(f"diachinh@{self.commune}", self.commune, {"land_officer"})
        d = self.a.engine.file(LAND, version=1, filed_at=self.commune, actor=desk, data=APPLICANT)
        self.a.engine.fire(d, "forward_to_commune", desk)
        self.a.engine.fire(d, "post_publicly", land_officer)
        self.clock.advance(days=15)
        self.a.engine.fire(d, "posting_complete", land_officer)
        rows = [r for r in self.a.store.outbox(status="pending") if r["dossier_id"] == d.id]
        stored = rows[-1]["payload"]["envelope"]
        assert isinstance(stored, dict) and "$vault" in stored  # at rest the signed envelope is in the vault
        return d, self.a.engine.vault.resolve_json(rows[-1]["payload"])["envelope"].encode()


def make_federation(tmp_path, registry: Registry, *, province_store: Callable[[], Any] | None = None) -> Federation:
    """``province_store``: the provincial node's store (default: a SQLite file beside the commune's)."""
    commune = registry.communes_of("92")[0].code
    office = registry.resolve("land_registration_office", commune).code
    tax = registry.resolve("tax", commune).code
    clock = FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=VN))
    pki = generate_test_pki([commune, office], tmp_path / "pki", now=clock.now() - timedelta(days=30))
    trust = TrustStore.load(tmp_path / "pki")
    definitions = bundled_definitions()
    transport = FlakyTransport([])

    def node(code: str, keys: NodeKeys, store: Any = None, **where: object) -> Node:
        vault = None if store is None else Vault(store, StaticKeyProvider.generate())  # keep keys out of $HOME
        store = store if store is not None else SQLiteStore(str(tmp_path / f"{code}.db"))
        engine = Engine(store, registry=registry, clock=clock, vault=vault)
        for d in definitions:
            engine.register(d)
        exchange = ExchangeNode(engine, code, keys=keys, trust=trust, **where)  # type: ignore[arg-type]
        exchange.attach()
        transport.add(exchange)
        pm = make_plugin_manager(load_entrypoints=False, plugins=[HandoffAdapter(transport)])
        worker = DeliveryWorker(store, pm, clock=clock, base_delay=1.0, jitter=0.0, vault=engine.vault)
        return Node(code, store, engine, exchange, worker)

    a = node(commune, pki[commune], directory={tax: office})  # the commune knows who hosts the tax department
    b = node(office, pki[office], province_store() if province_store is not None else None, hosts=[tax])
    # each node's officials, in its own directory (the engines refuse officials they do not know)
    staff_of(a.engine).actors(Actor(f"motcua@{commune}", commune, {"one_stop_officer"}),
                              Actor(f"diachinh@{commune}", commune, {"land_officer"}))
    staff_of(b.engine).actors(Actor(f"vpdk@{office}", office, {"registration_officer"}),
                              Actor("vpdk", office, {"registration_officer"}),
                              Actor(f"thue@{tax}", tax, {"tax_officer"}))
    return Federation(a, b, clock, transport, commune, office, tax)


def deliver(node: Node, clock: FakeClock) -> None:
    """Run the sending node's outbox worker until the hand-off lands (first attempt fails, by design)."""
    first = node.worker.run_once()
    assert first.retried == 1, first
    clock.advance(seconds=2)
    second = node.worker.run_once()
    assert second.delivered == 1, second


def assert_same_history(a: Node, b: Node, dossier_id: str) -> None:
    ours, theirs = a.events(dossier_id), b.events(dossier_id)
    assert len(ours) == len(theirs)
    for x, y in zip(ours, theirs, strict=True):
        for field in attrs.fields(type(x)):
            if field.name == "effects_text":
                continue
            assert getattr(x, field.name) == getattr(y, field.name), (x.seq, field.name)
    assert a.rows(dossier_id) == b.rows(dossier_id)  # stored rows too: vault references and hash chain
    for node in (a, b):
        assert replay(node.events(dossier_id)) == node.engine.get(dossier_id)
        assert replay(node.rows(dossier_id)) == node.store.get(dossier_id)


