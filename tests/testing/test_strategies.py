"""The hypothesis strategies generate what they promise, and the naive office-time oracle agrees with the
calendar's own arithmetic."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from procflow.calendar import WorkingCalendar
from procflow.definition.reader import parse_definition
from procflow.dossier import replay
from procflow.engine.core import Engine
from procflow.jurisdiction import Registry
from procflow.store.sqlite import SQLiteStore
from procflow.testing.clock import MONDAY
from procflow.testing.strategies import (
    bundled,
    dossier_data,
    dossiers,
    office_seconds,
    procedure_tomls,
    trigger_sequences,
    walks,
)

REGISTRY = Registry.default()
CALENDAR = WorkingCalendar()


@settings(max_examples=60, deadline=None)
@given(procedure_tomls(), st.data())
def test_generated_definitions_load_register_and_walk_to_an_end(text, data):
    defn = parse_definition(text)
    engine = Engine(SQLiteStore(":memory:"), registry=REGISTRY, calendar=CALENDAR)
    engine.register(defn)
    path = data.draw(walks(defn))
    state = defn.initial
    for trigger in path:
        state = next(t.dest for t in defn.transitions if t.trigger == trigger and state in t.source)
    assert len(path) == 30 or defn.step(state).final  # a walk stops only at a final state (or its length)
    assert set(data.draw(trigger_sequences(defn))) <= {t.trigger for t in defn.transitions} | {"no_such_trigger"}
    values = data.draw(dossier_data(defn))
    assert {f.name for f in defn.fields if f.required} <= set(values)


@settings(max_examples=40, deadline=None)
@given(dossiers(REGISTRY, calendar=CALENDAR))
def test_dossier_snapshots_are_what_a_store_gives_back(d):
    store = SQLiteStore(":memory:")
    defn = next(x for x in bundled() if x.code == d.procedure)
    store.register_definition(defn.code, defn.version, defn.content_hash, defn.source)
    from procflow.dossier import DossierEvent, EventKind, filed_effects

    event = DossierEvent(dossier_id=d.id, seq=1, at=d.received_at, kind=EventKind.FILED, trigger=None,
                         from_state=None, to_state=d.state, status=d.status, actor="t", agency=d.receiving,
                         custodian=d.custodian, definition_version=d.definition_version, effects=filed_effects(d))
    first = d.copy()
    first.revision, first.updated_at = 1, d.received_at
    store.insert_dossier(first, event, ())
    assert store.get(d.id) == first == replay(store.events(d.id))
    assert d.custodian in d.agencies.values()


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 60 * 24 * 60), st.integers(0, 60 * 24 * 20))
def test_the_naive_office_time_oracle_agrees_with_the_calendar(start_minutes, length_minutes):
    a = MONDAY + timedelta(minutes=start_minutes)
    b = a + timedelta(minutes=length_minutes)
    assert abs(office_seconds(CALENDAR, a, b) - CALENDAR.working_seconds_between(a, b)) < 1e-6
