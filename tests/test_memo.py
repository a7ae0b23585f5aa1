"""What the engine remembers about dossiers (``procflow.engine.memo``) is bounded and never trusted stale.

Issue 18: the dossier record carries no engine caches. The chain head and the vault references moved into the
engine's ``RecordMemo``; these tests check that a forgotten, stale or rolled-back memo still gives an intact
hash chain and sealed outbox rows, and that the memo stays within its bound however many dossiers pass.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import attrs
import pytest

from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor, Dossier
from procflow.engine.core import Engine
from procflow.engine.memo import RecordMemo
from procflow.engine.outbox import status_sync_topic, topic_rule
from procflow.errors import ConcurrencyConflict
from procflow.jurisdiction import Registry
from procflow.privacy.hashchain import verify as verify_store
from procflow.privacy.keys import StaticKeyProvider
from procflow.privacy.vault import Vault
from procflow.store.sqlite import SQLiteStore

VN = ZoneInfo("Asia/Ho_Chi_Minh")
REGISTRY = Registry.default()
COMMUNE = REGISTRY.communes_of("92")[0].code
DEFN = next(d for d in bundled_definitions() if d.code == "2.000720")
FILING = {"business_name": "Tạp hóa Minh An", "owner_name": "Lê Văn Minh", "owner_national_id": "092123456789",
          "business_address": "Số 3, đường 3/2"}


def test_the_memo_forgets_the_first_remembered_tenth_at_its_bound():
    memo = RecordMemo(limit=100)
    for i in range(1_000):
        memo.set_head(f"d{i}", 1, b"h")
        assert len(memo) <= 100
    assert memo.head("d999", 1) == b"h" and memo.head("d0", 1) is None
    assert memo.head("d999", 2) is None  # a head is only trusted for the revision it was remembered at


def test_the_dossier_record_carries_no_engine_bookkeeping():
    names = {f.name for f in attrs.fields(Dossier)}
    assert not names & {"sealed", "chain"}


@pytest.fixture
def engine(tmp_path):
    store = SQLiteStore(str(tmp_path / "m.db"))
    eng = Engine(store, registry=REGISTRY, clock=FakeClock(datetime(2026, 4, 20, 9, tzinfo=VN)),
                 vault=Vault(store, StaticKeyProvider.generate()),
                 outbox_rules=[topic_rule([status_sync_topic(store)])])
    eng.register(DEFN)
    yield eng
    store.close()


def _desk(engine: Engine) -> Actor:
    from procflow.testing.directory import StaffDirectory

    StaffDirectory(engine).staff("92")
    return Actor(id=f"one_stop_officer@{COMMUNE}", agency=COMMUNE)


def _clear_in_outbox(engine: Engine) -> bool:
    return any("Lê Văn Minh" in str(r["payload"]) for r in engine.store.outbox())


def test_a_forgotten_memo_reads_the_store_and_the_chain_stays_intact(engine):
    desk = _desk(engine)
    ids = []
    for _ in range(3):
        d = engine.file(DEFN.code, filed_at=COMMUNE, actor=desk, data=FILING)
        ids.append(d.id)
        engine.writer.memo.clear()  # as if the engine had forgotten it (bound reached) or never seen it
        engine.fire(d, "accept", desk)
    fresh = engine.get(ids[0])
    engine.writer.memo.clear()
    engine.fire(fresh, "request_supplement", Actor(id=f"economic_officer@{fresh.custodian}", agency=fresh.custodian))
    report = verify_store(engine.store)
    assert report.ok, report.breaks
    assert not _clear_in_outbox(engine)  # references found in the store when the memo had none


def test_a_rolled_back_batch_leaves_no_stale_head(engine):
    desk = _desk(engine)
    d = engine.file(DEFN.code, filed_at=COMMUNE, actor=desk, data=FILING)
    held = engine.get(d.id)
    with pytest.raises(RuntimeError), engine.batch():
        engine.fire(d, "accept", desk)
        raise RuntimeError("the caller gives up: nothing of the batch is stored")
    assert len(engine.writer.memo) == 0
    with pytest.raises(ConcurrencyConflict):  # the caller's record moved on in memory; the store did not
        engine.fire(d, "request_supplement", Actor(id=f"economic_officer@{d.custodian}", agency=d.custodian))
    engine.fire(held, "accept", desk)  # the stored revision fires and links right
    assert verify_store(engine.store).ok
