"""The same two-node hand-off with the provincial node on PostgreSQL (the commune stays on SQLite).

A federation mixes backends: what travels is the envelope, and the replay guard, vault and hash chain
live in whichever store the receiving node runs. Skipped when no PostgreSQL answers.
"""

from __future__ import annotations

import os
import secrets

import psycopg
import pytest
from handoff_support import APPLICANT, LAND, assert_same_history, deliver, make_federation

from procflow.dossier import Actor
from procflow.exchange import ReplayedMessage

PG_URL = os.environ.get("PROCFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_schema():
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip()}")
    name = f"procflow_xchg_{secrets.token_hex(4)}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def test_hand_off_between_a_sqlite_node_and_a_postgres_node(tmp_path, registry, pg_schema):
    from procflow.store.postgres import PostgresStore

    fed = make_federation(tmp_path, registry, province_store=lambda: PostgresStore(PG_URL, schema=pg_schema,
                                                                                     pool_size=2))
    try:
        d, signed = fed.hand_to_office()
        deliver(fed.a, fed.clock)
        assert_same_history(fed.a, fed.b, d.id)
        assert fed.b.engine.get(d.id).data["applicant_national_id"] == APPLICANT["applicant_national_id"]
        before = fed.b.counts()
        with pytest.raises(ReplayedMessage):
            fed.b.exchange.receive(signed)
        assert fed.b.counts() == before

        registrar = Actor("vpdk", fed.office, {"registration_officer"})
        fed.b.engine.fire(d.id, "request_supplement", registrar)
        deliver(fed.b, fed.clock)
        assert_same_history(fed.a, fed.b, d.id)
        assert fed.a.engine.get(d.id).state == "supplement_requested" and LAND == d.procedure
    finally:
        fed.close()
