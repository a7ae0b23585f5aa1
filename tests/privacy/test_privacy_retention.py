"""Retention: closed dossiers past their procedure's period lose their personal data; statistics, the event
log and its hash chain stay; what was done is recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from privacy_support import BIRTH, CHILD, NATIONAL_ID, civil, desk
from typer.testing import CliRunner

from procflow.cli import app
from procflow.definition import bundled_definitions, parse_definition
from procflow.errors import DefinitionError
from procflow.hashchain import verify
from procflow.retention import apply_retention, expires_at
from procflow.statistics import build_report

RETAINED = "T.RET5"


def retained_definition():
    birth = next(d for d in bundled_definitions() if d.code == BIRTH)
    source = birth.source.replace(f'code = "{BIRTH}"', f'code = "{RETAINED}"', 1).replace(
        "version = 1\n", "version = 1\nretention_years = 5\n", 1)
    return parse_definition(source, file="retained.toml")


@pytest.fixture
def rengine(pengine):
    pengine.register(retained_definition())
    return pengine


def closed(engine, code, a, data=CHILD):
    d = engine.file(code, filed_at=a, actor=desk(a), data=data)
    engine.fire(d, "accept", desk(a))
    engine.fire(d, "approve", civil(a), data={"documents_complete": True})
    engine.fire(d, "return_result", desk(a))
    return d


def test_retention_years_is_a_checked_definition_key():
    assert retained_definition().retention_years == 5
    assert next(d for d in bundled_definitions() if d.code == BIRTH).retention_years is None
    bad = retained_definition().source.replace("retention_years = 5", "retention_years = -1")
    with pytest.raises(DefinitionError, match="retention_years"):
        parse_definition(bad)
    assert expires_at(datetime(2024, 2, 29, 9), 5) == datetime(2029, 2, 28, 9)


def test_closed_dossiers_past_their_period_are_anonymised_and_the_rest_kept(rengine, communes):
    a = communes[0]
    old = closed(rengine, RETAINED, a)
    still_open = rengine.file(RETAINED, filed_at=a, actor=desk(a), data=CHILD)
    no_period = closed(rengine, BIRTH, a)
    defs = {d.key: d for d in rengine.definitions()}
    stats_before = build_report(rengine.store.iter_dossiers(), defs, rengine.calendar, rengine.registry,
                                rengine.clock.now()).to_dict()
    soon = rengine.clock.now() + timedelta(days=365 * 4)
    assert apply_retention(rengine, now=soon).anonymised == []  # within the period
    later = rengine.clock.now() + timedelta(days=365 * 5 + 2)
    dry = apply_retention(rengine, now=later, dry_run=True)
    assert [a.dossier_id for a in dry.anonymised] == [old.id] and rengine.get(old.id).data == {
        **CHILD, "documents_complete": True}
    report = apply_retention(rengine, now=later)
    assert [(x.dossier_id, x.retention_years, x.erased) for x in report.anonymised] == [(old.id, 5, 1)]
    assert (report.kept_open, report.no_period) == (1, 1)
    gone = rengine.get(old.id)
    assert all(gone.data[k] is None for k in CHILD) and gone.data["documents_complete"] is True
    assert gone.state == old.state and gone.status == 10 and rengine.replay(old.id) == gone
    assert rengine.get(still_open.id).data == CHILD and rengine.get(no_period.id).data["parent_national_id"] == \
        NATIONAL_ID
    assert rengine.vault.find_national_id(NATIONAL_ID) == sorted([still_open.id, no_period.id])
    stats_after = build_report(rengine.store.iter_dossiers(), defs, rengine.calendar, rengine.registry,
                               rengine.clock.now()).to_dict()
    assert stats_after == stats_before  # statistics are kept
    record = rengine.store.audit(dossier_id=old.id)[-1]
    assert (record.action, record.outcome, record.purpose) == ("retention:anonymise", "done", "retention")
    assert "erased 1 vault entry" in record.detail and "retention 5 year(s)" in record.detail
    assert apply_retention(rengine, now=later).anonymised == []  # idempotent
    assert verify(rengine.store).ok


def test_retention_cli(rengine, communes, sqlite_store, monkeypatch):
    old = closed(rengine, RETAINED, communes[0])
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(rengine.vault.keys.path))
    runner = CliRunner()
    day = (old.updated_at + timedelta(days=365 * 5 + 2)).date().isoformat()
    dry = runner.invoke(app, ["retention", "apply", "--db", sqlite_store.path, "--now", day, "--dry-run"])
    assert dry.exit_code == 0 and "would anonymise 1" in dry.stdout
    done = runner.invoke(app, ["retention", "apply", "--db", sqlite_store.path, "--now", day])
    assert done.exit_code == 0 and "anonymised 1" in done.stdout and old.id in done.stdout
    audit = runner.invoke(app, ["audit", "access", "--db", sqlite_store.path, "--dossier", old.id, "--all"])
    assert "retention:anonymise" in audit.stdout
