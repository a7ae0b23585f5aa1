"""``procflow exchange export`` is a read: an unmasked one, of the whole history. Who exports is checked and
audited through ``procflow.privacy.access``; a refusal is one line, is audited, and writes no file; what is written
is owner-only (0600)."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor
from procflow.engine.core import Engine
from procflow.errors import AccessDenied
from procflow.exchange import ExchangeNode, TrustStore, generate_test_pki
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import enrol_operator, staff_of

runner = CliRunner()
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DATA = {"applicant_name": "Lê Văn Cường", "applicant_national_id": "092111222333", "parcel": "7/21"}


@pytest.fixture
def handed(tmp_path, registry):
    """A land dossier the commune handed to the land registration office (a node elsewhere), not yet sent."""
    commune = registry.communes_of("92")[2].code
    office = registry.resolve("land_registration_office", commune).code
    clock = FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=VN))
    generate_test_pki([commune, office], tmp_path / "pki", now=datetime(2026, 3, 1, tzinfo=VN))
    db = tmp_path / "commune.db"
    engine = Engine(SQLiteStore(str(db)), registry=registry, clock=clock)
    for d in bundled_definitions():
        engine.register(d)
    desk, officer = Actor("desk", commune, {"one_stop_officer"}), Actor("dc", commune, {"land_officer"})
    staff_of(engine).actors(desk, officer)
    d = engine.file("1.012751", version=1, filed_at=commune, actor=desk, data=DATA)
    engine.fire(d, "forward_to_commune", desk)
    engine.fire(d, "post_publicly", officer)
    clock.advance(days=15)
    engine.fire(d, "posting_complete", officer)
    engine.store.close()
    return {"db": db, "pki": tmp_path / "pki", "id": d.id, "commune": commune, "office": office,
            "out": tmp_path / "out.xml", "registry": registry, "clock": clock}


def _export(h, *extra: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["exchange", "export", h["id"], "--db", str(h["db"]), "--keys", str(h["pki"]),
                               "--to", h["office"], "-o", str(h["out"]), *extra], env=env)


def _audit(h) -> list[tuple[str, str, str]]:
    store = SQLiteStore(str(h["db"]))
    try:
        return [(r.actor, r.action, r.outcome) for r in store.audit(dossier_id=h["id"])]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("operator", "outcome", "says"),
    [
        (None, ("(unidentified)", "disclose:exchange", "refused:NoActor"), "no operator credential"),
        (("spy", "01", {"personal_data:unmask"}), ("spy", "read:history", "refused:AccessDenied"), "custody path"),
        (("desk", None, {"one_stop_officer"}), ("desk", "read:history:unmasked", "refused:AccessDenied"),
         "personal_data:unmask"),
    ],
    ids=["no operator", "agency off the custody path", "no unmask role"],
)
def test_an_export_without_an_allowed_actor_is_refused_in_one_line_audited_and_writes_nothing(
        handed, tmp_path, operator, outcome, says):
    """Who exports is the machine's operator (issue 19), never a name typed on the command line."""
    credential = tmp_path / "operator.toml"
    if operator is None:  # a directory exists, but this machine has no credential
        enrol_operator(str(handed["db"]), tmp_path / "someone-else.toml", "dc", handed["commune"], {"land_officer"})
        env = {"PROCFLOW_OPERATOR_FILE": str(credential)}
    else:
        name, province, roles = operator
        agency = handed["registry"].communes_of(province)[0].code if province else handed["commune"]
        env = enrol_operator(str(handed["db"]), credential, name, agency, roles)
    result = _export(handed, env=env)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.output
    assert "092111222333" not in result.output and "Traceback" not in result.output
    assert not handed["out"].exists()
    assert _audit(handed)[-1] == outcome


def test_an_allowed_export_is_audited_as_an_unmasked_read_and_a_disclosure_and_written_0600(handed, tmp_path):
    env = enrol_operator(str(handed["db"]), tmp_path / "operator.toml", "dc", handed["commune"],
                         {"land_officer", "personal_data:unmask"})
    old = os.umask(0o022)
    try:
        result = _export(handed, env=env)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(handed["out"]).st_mode) == 0o600
    assert b"092111222333" in handed["out"].read_bytes()  # real values, for the receiving agency only
    trail = _audit(handed)
    assert ("dc", "read:history:unmasked", "allowed") in trail and ("dc", "disclose:exchange", "sent") in trail


def test_the_api_export_checks_its_actor_too(handed):
    engine = Engine(SQLiteStore(str(handed["db"])), registry=handed["registry"], clock=handed["clock"])
    try:
        for d in bundled_definitions():
            engine.register(d)
        from procflow.exchange import NodeKeys

        c = handed["commune"]
        keys = NodeKeys.load(c, handed["pki"] / f"{c}.key.pem", handed["pki"] / f"{c}.cert.pem")
        node = ExchangeNode(engine, c, keys=keys, trust=TrustStore.load(handed["pki"]),
                            directory={handed["office"]: handed["office"]})
        with pytest.raises(AccessDenied):
            node.export(handed["id"], actor=Actor("desk", c, {"one_stop_officer"}))
        assert node.export(handed["id"])  # the node's own system identity (the outbox path's equivalent)
        actions = [(r.actor, r.action, r.outcome) for r in engine.store.audit(dossier_id=handed["id"])]
        assert ("desk", "read:history:unmasked", "refused:AccessDenied") in actions
        assert (f"exchange@{c}", "disclose:exchange", "sent") in actions
    finally:
        engine.store.close()
