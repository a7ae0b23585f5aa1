"""``procflow exchange keys generate / export / import``: a hand-off carried by hand, as files, both ways."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.clock import FakeClock
from procflow.definition.reader import bundled_definitions
from procflow.dossier import Actor, replay
from procflow.engine.core import Engine
from procflow.store.sqlite import SQLiteStore
from procflow.testing.directory import enrol_operator, staff_of

runner = CliRunner()
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DATA = {"applicant_name": "Lê Văn Cường", "applicant_national_id": "092111222333", "parcel": "7/21"}


def _engine(path, registry, clock) -> Engine:
    engine = Engine(SQLiteStore(str(path)), registry=registry, clock=clock)
    for d in bundled_definitions():
        engine.register(d)
    return engine


def test_export_and_import_files_carry_a_hand_off_both_ways(tmp_path, registry):
    commune = registry.communes_of("92")[1].code
    office = registry.resolve("land_registration_office", commune).code
    tax = registry.resolve("tax", commune).code
    pki = tmp_path / "pki"
    result = runner.invoke(app, ["exchange", "keys", "generate", commune, office, "--dir", str(pki)])
    assert result.exit_code == 0, result.output
    assert (pki / f"{commune}.key.pem").exists() and (pki / f"{office}.cert.pem").exists()

    clock = FakeClock(datetime(2026, 4, 20, 8, 0, tzinfo=VN))
    a_db, b_db = tmp_path / "commune.db", tmp_path / "province.db"
    a = _engine(a_db, registry, clock)
    desk = Actor("desk", commune, {"one_stop_officer"})
    officer = Actor("dc", commune, {"land_officer"})
    staff_of(a).actors(desk, officer)
    d = a.file("1.012751", version=1, filed_at=commune, actor=desk, data=DATA)
    a.fire(d, "forward_to_commune", desk)
    a.fire(d, "post_publicly", officer)
    clock.advance(days=15)
    a.fire(d, "posting_complete", officer)
    a.store.close()

    out = tmp_path / "to-province.xml"
    # the command line acts as the machine's operator (issue 19): here the land officer, allowed to disclose
    env = enrol_operator(str(a_db), tmp_path / "operator-a.toml", "dc", commune,
                         {"land_officer", "personal_data:unmask"})
    result = runner.invoke(app, ["exchange", "export", d.id, "--db", str(a_db), "--keys", str(pki), "--to", office,
                                 "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert f"from {commune} to {office}" in result.output
    assert b"092111222333" in out.read_bytes()  # real values, for the receiving agency

    # the province's node: its directory set up, its operator (the registrar) runs the imports
    env_b = enrol_operator(str(b_db), tmp_path / "operator-b.toml", "vpdk", office,
                           {"registration_officer", "personal_data:unmask"})
    result = runner.invoke(app, ["exchange", "import", str(out), "--db", str(b_db), "--trust", str(pki),
                                 "--me", office, "--host", tax], catch_exceptions=False, env=env_b)
    assert result.exit_code == 0, result.output
    assert f"dossier {d.id} (new to this node), events 1-4" in result.output
    trust = ["--trust", str(pki)]
    again = runner.invoke(app, ["exchange", "import", str(out), "--db", str(b_db), *trust, "--me", office],
                          env=env_b)
    assert again.exit_code == 1 and "rejected [replayed]" in again.output
    wrong = runner.invoke(app, ["exchange", "import", str(out), "--db", str(a_db), *trust, "--me", commune],
                          env=env)
    assert wrong.exit_code == 1 and "rejected [wrong-recipient]" in wrong.output

    b = _engine(b_db, registry, clock)
    registrar = Actor("vpdk", office, {"registration_officer"})
    staff_of(b).actors(Actor("thue", tax, {"tax_officer"}))
    clock.advance(days=1)
    b.fire(d.id, "send_to_tax", registrar, data={"documents_complete": True})
    b.fire(d.id, "notify_obligation", Actor("thue", tax, {"tax_officer"}))
    b.fire(d.id, "confirm_payment", registrar, data={"obligation_paid": True})
    b.fire(d.id, "issue_certificate", registrar)
    b.store.close()

    back = tmp_path / "to-commune.xml"
    result = runner.invoke(app, ["exchange", "export", d.id, "--db", str(b_db), "--keys", str(pki), "--to", commune,
                                 "--me", office, "-o", str(back)], env=env_b)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["exchange", "import", str(back), "--db", str(a_db), "--trust", str(pki),
                                 "--me", commune], catch_exceptions=False, env=env)
    assert result.exit_code == 0, result.output
    assert "known here), events 5-8, state processed" in result.output

    a, b = _engine(a_db, registry, clock), _engine(b_db, registry, clock)
    try:
        assert a.history(d.id) == b.history(d.id) and a.store.events(d.id) == b.store.events(d.id)
        for node in (a, b):
            assert replay(node.history(d.id)) == node.get(d.id)
        disclosed = [e.action for e in a.store.audit(dossier_id=d.id)]
        assert "disclose:exchange" in disclosed  # personal values left the node: audited, without the values
    finally:
        a.store.close()
        b.store.close()


def test_generating_keys_never_replaces_a_nodes_key_without_overwrite(tmp_path, registry):
    commune = registry.communes_of("92")[1].code
    office = registry.resolve("land_registration_office", commune).code
    pki = tmp_path / "pki"
    assert runner.invoke(app, ["exchange", "keys", "generate", commune, "--dir", str(pki)]).exit_code == 0
    key = (pki / f"{commune}.key.pem").read_bytes()
    # asking again for the same node and a new one: refused in one line, nothing written, not even the new one
    result = runner.invoke(app, ["exchange", "keys", "generate", office, commune, "--dir", str(pki)])
    assert result.exit_code != 0
    assert "--overwrite" in result.output and f"{commune}.key.pem" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert (pki / f"{commune}.key.pem").read_bytes() == key and not (pki / f"{office}.key.pem").exists()
    # the explicit flag re-keys
    result = runner.invoke(app, ["exchange", "keys", "generate", commune, "--dir", str(pki), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert (pki / f"{commune}.key.pem").read_bytes() != key
