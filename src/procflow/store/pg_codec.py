"""How PostgreSQL values become procflow's: the conversions that make ``PostgresStore`` return exactly
what ``SQLiteStore`` returns (fixed-offset instants, key-sorted JSON), and the row shapes of both."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import set_json_loads

from procflow.dossier import Dossier, DossierEvent, sla_from_dict
from procflow.jsontext import dumps as _dumps

__all__ = ["IDENT", "configure", "create_schema", "dossier_row", "dumps", "event_row", "outbox_rows", "redact"]

IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""A schema name procflow accepts: a plain lower-case identifier (it also goes into ``search_path``)."""


def dumps(value: Any) -> str:
    return _dumps(value)  # procflow.jsontext: the same text as the SQLite store writes, fast


def outbox_rows(messages: Sequence[Any]) -> str:
    """Outbox rows as one JSON array parameter (``jsonb_array_elements``): each payload's text goes in as it
    is. Passed as ``text[]`` instead, psycopg escaped every quote of every payload with a Python regex
    callback — ~100 per portal status row, most of a PostgreSQL fire's client CPU (issue 17)."""
    return "[" + ",".join(f'{{"t":{_dumps(m.topic)},"k":{_dumps(m.key)},"d":{_dumps(m.dossier_id)},'
                          f'"p":{_dumps(m.payload)}}}' for m in messages) + "]"


def _sorted_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(sorted(pairs))


def _loads(data: str | bytes) -> Any:
    """jsonb hands keys back in its own order (shortest first); SQLite hands back what was written, which
    is sorted. Sorting here keeps ``get()``/``events()`` identical across backends, down to key order."""
    return json.loads(data, object_pairs_hook=_sorted_object)


_OFFSETS: dict[timedelta, timezone] = {}


class _FixedOffsetLoader(TimestamptzLoader):
    """timestamptz as SQLite returns instants: with a fixed UTC offset (``datetime.fromisoformat`` style),
    here the session TimeZone's offset at that instant, rather than a ZoneInfo."""

    def load(self, data: Any) -> datetime:
        value = super().load(data)
        offset = value.utcoffset()
        if offset is None:
            return value
        tz = _OFFSETS.get(offset)
        if tz is None:
            tz = _OFFSETS[offset] = timezone(offset)
        return value.replace(tzinfo=tz)


def configure(conn: psycopg.Connection[Any]) -> None:
    set_json_loads(_loads, conn)
    conn.adapters.register_loader("timestamptz", _FixedOffsetLoader)


def create_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """CREATE SCHEMA IF NOT EXISTS is not safe against itself: workers starting together can both pass the
    "not exists" check, and the loser gets a unique violation on the catalogue; the schema exists either way."""
    try:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    except psycopg.errors.UniqueViolation:
        pass


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def dossier_row(r: Sequence[Any]) -> Dossier:
    return Dossier(id=r[0], procedure=r[1], definition_version=r[2], state=r[3], status=r[4], custodian=r[5],
                   agencies=r[6], location_independent=r[7], received_at=r[8], updated_at=r[9],
                   sla=sla_from_dict(r[10]), step_due_at=r[11], data=r[12], revision=r[13])


def event_row(r: Sequence[Any]) -> DossierEvent:
    return DossierEvent(dossier_id=r[0], seq=r[1], at=r[2], kind=r[3], trigger=r[4], from_state=r[5],
                        to_state=r[6], status=r[7], actor=r[8], agency=r[9], custodian=r[10],
                        definition_version=r[11], effects=r[12], note=r[13], prev_hash=r[14], hash=r[15])
