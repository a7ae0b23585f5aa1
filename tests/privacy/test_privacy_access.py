"""Who may read a dossier: the custody path, province oversight, unmasking — every read and refusal audited."""

from __future__ import annotations

import pytest
from privacy_support import BIRTH, CHILD, LAND, NATIONAL_ID, PHONE, civil, desk
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.dossier import Actor
from procflow.errors import AccessDenied, DossierNotFound, ProcflowError
from procflow.privacy.access import UNMASK_ROLE
from procflow.testing.directory import staff_of


def land_dossier(engine, communes):
    filed, land_at = communes[0], communes[1]
    d = engine.file(LAND, version=1, filed_at=filed, location=land_at, actor=desk(filed),
                    data={"applicant_name": "Trần Thị B", "applicant_national_id": "092987654321", "parcel": "12/34"})
    engine.fire(d, "forward_to_commune", desk(filed))  # hand-off: the commune where the land lies
    return d, filed, land_at


def test_an_agency_off_the_custody_path_is_refused_and_the_refusal_audited(pengine, communes):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    stranger = Actor("curious", communes[2], {"one_stop_officer"})
    staff_of(pengine).actors(stranger)
    with pytest.raises(AccessDenied, match="not on the dossier's custody path"):
        pengine.read(d.id, stranger, purpose="curiosity")
    with pytest.raises(AccessDenied):
        pengine.read_history(d.id, stranger, purpose="curiosity")
    refused = pengine.store.audit(actor="curious")
    assert [(a.action, a.outcome, a.dossier_id, a.agency, a.purpose) for a in refused] == [
        ("read", "refused:AccessDenied", d.id, communes[2], "curiosity"),
        ("read:history", "refused:AccessDenied", d.id, communes[2], "curiosity")]
    assert all(a.at == pengine.clock.now() for a in refused)


def test_custody_path_holder_earlier_holder_and_point_of_contact_may_read(pengine, communes, registry):
    d, filed, land_at = land_dossier(pengine, communes)
    land_officer = Actor("dc", land_at, {"land_officer"})
    staff_of(pengine).actors(land_officer, Actor("desk", filed), Actor("vpdk", d.agencies["competent"]),
                             Actor("thue", d.agencies["tax"]))
    pengine.fire(d, "post_publicly", land_officer)
    pengine.clock.advance(days=15)
    pengine.fire(d, "posting_complete", land_officer)  # now at the provincial land registration office
    office = d.custodian
    assert office not in (filed, land_at)
    for who, why in ((Actor("vpdk", office), "custodian"), (Actor("desk", filed), "receiving point of contact"),
                     (Actor("dc", land_at), "held the dossier earlier")):
        seen = pengine.read(d.id, who, purpose="processing")
        assert seen.id == d.id
        assert pengine.store.audit(actor=who.id)[-1].detail.startswith(("holds", "receiving", "held"))
        assert why.split()[0] in pengine.store.audit(actor=who.id)[-1].detail
    # the tax office is on the dossier's route (agencies) but has not held it yet: not allowed
    with pytest.raises(AccessDenied):
        pengine.read(d.id, Actor("thue", d.agencies["tax"]), purpose="preparing")


def test_province_oversight_role_and_national_oversight(pengine, communes, registry):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    other_province = next(p.code for p in registry.provinces() if p.code != "92")
    inspector = Actor("thanh-tra", communes[2], {"oversight:92"})
    staff_of(pengine).actors(inspector, Actor("elsewhere", communes[2], {f"oversight:{other_province}"}),
                             Actor("bo", communes[2], {"oversight:*"}))
    assert pengine.read(d.id, inspector, purpose="inspection").id == d.id
    with pytest.raises(AccessDenied):
        pengine.read(d.id, Actor("elsewhere", communes[2], {f"oversight:{other_province}"}), purpose="inspection")
    assert pengine.read(d.id, Actor("bo", communes[2], {"oversight:*"}), purpose="inspection").id == d.id


def test_reads_are_masked_and_unmasking_needs_the_role_and_is_audited(pengine, communes):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    officer = civil(communes[0])
    seen = pengine.read(d.id, officer, purpose="processing")
    assert seen.data["parent_national_id"] == "0921******89" and seen.data["parent_phone"] == "091*****78"
    assert seen.data["child_name"] == "N. V. A."
    history = pengine.read_history(d.id, officer, purpose="processing")
    assert NATIONAL_ID not in repr(history) and PHONE not in repr(history)
    with pytest.raises(AccessDenied, match=UNMASK_ROLE):
        pengine.read(d.id, officer, purpose="processing", unmask=True)
    boss = Actor("truong-phong", communes[0], {UNMASK_ROLE})
    staff_of(pengine).actors(boss)
    assert pengine.read(d.id, boss, purpose="issue certificate", unmask=True).data["parent_national_id"] == NATIONAL_ID
    trail = [(a.actor, a.action, a.outcome) for a in pengine.store.audit(dossier_id=d.id)]
    assert trail == [(officer.id, "read", "allowed"), (officer.id, "read:history", "allowed"),
                     (officer.id, "read:unmasked", "refused:AccessDenied"),
                     ("truong-phong", "read:unmasked", "allowed")]


def test_a_purpose_is_required_and_missing_dossiers_are_audited_too(pengine, communes):
    officer = civil(communes[0])
    with pytest.raises(ProcflowError, match="purpose"):
        pengine.read("x", officer, purpose=" ")
    with pytest.raises(DossierNotFound):
        pengine.read("no-such-dossier", officer, purpose="probing")
    assert pengine.store.audit(dossier_id="no-such-dossier")[0].outcome == "refused:DossierNotFound"


def test_find_by_national_id_through_the_hmac_index_only_what_the_actor_may_read(pengine, communes):
    mine = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    theirs = pengine.file(BIRTH, filed_at=communes[1], actor=desk(communes[1]), data=CHILD)
    pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]),
                 data={**CHILD, "parent_national_id": "092000000001"})
    assert pengine.find_dossiers(NATIONAL_ID, civil(communes[0]), purpose="lookup") == [mine.id]
    staff_of(pengine).actors(Actor("x", communes[2], {"oversight:92"}))
    assert pengine.find_dossiers(" 0921 2345 6789 ", Actor("x", communes[2], {"oversight:92"}),
                                 purpose="lookup") == sorted([mine.id, theirs.id])
    index = pengine.store._execute("SELECT digest FROM vault_index")
    assert index and all(NATIONAL_ID not in r[0] for r in index)  # the index holds keyed hashes only
    search = pengine.store.audit(actor=civil(communes[0]).id)[-1]
    assert search.action == "find:national_id" and NATIONAL_ID not in search.detail


def test_system_actors_read_everything(pengine, communes):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    assert pengine.read(d.id, Actor.system(communes[2], "reconcile"), purpose="reconciliation").id == d.id


def test_cli_inspect_checks_the_actor_and_audit_access_shows_it(pengine, communes, sqlite_store, monkeypatch,
                                                                tmp_path):
    d = pengine.file(BIRTH, filed_at=communes[0], actor=desk(communes[0]), data=CHILD)
    db = sqlite_store.path
    monkeypatch.setenv("PROCFLOW_KEYS_FILE", str(pengine.vault.keys.path))
    runner = CliRunner()
    spy_env = {"PROCFLOW_OPERATOR_FILE": str(tmp_path / "spy.toml")}
    clerk_env = {"PROCFLOW_OPERATOR_FILE": str(tmp_path / "clerk.toml")}
    no_operator = runner.invoke(app, ["inspect", d.id, "--db", db], env=spy_env)
    assert no_operator.exit_code == 1 and "no operator credential" in no_operator.output
    assert runner.invoke(app, ["officials", "init", "--id", "spy", "--name", "Spy", "--agency", communes[2],
                               "--db", db], env=spy_env).exit_code == 0
    assert runner.invoke(app, ["officials", "add", "clerk", "--name", "Clerk", "--agency", communes[0], "--db", db,
                               "--credential", clerk_env["PROCFLOW_OPERATOR_FILE"]], env=spy_env).exit_code == 0
    refused = runner.invoke(app, ["inspect", d.id, "--db", db, "--purpose", "fishing"], env=spy_env)
    assert refused.exit_code == 1 and "may not read" in refused.output
    ok = runner.invoke(app, ["inspect", d.id, "--db", db], env=clerk_env)
    assert ok.exit_code == 0, ok.output
    assert NATIONAL_ID not in ok.stdout and "0921******89" in ok.stdout and PHONE not in ok.stdout
    by_dossier = runner.invoke(app, ["audit", "access", "--db", db, "--dossier", d.id])
    assert by_dossier.exit_code == 0, by_dossier.output
    assert "spy" in by_dossier.stdout and "refused:AccessDenied" in by_dossier.stdout and "fishing" in by_dossier.stdout
    assert "clerk" in by_dossier.stdout and "allowed" in by_dossier.stdout
    by_actor = runner.invoke(app, ["audit", "access", "--db", db, "--actor", "spy", "--json"])
    rows = __import__("json").loads(by_actor.stdout)
    assert [(r["actor"], r["outcome"], r["purpose"]) for r in rows] == [("spy", "refused:AccessDenied", "fishing")]
