"""Files that carry personal data or private keys are owner-only (0600) from the moment they exist."""

from __future__ import annotations

import os
import stat

from procflow.exchange.keys import generate_test_pki
from procflow.privacy.files import write_private


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_private_creates_0600_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_private(tmp_path / "export.xml", b"<dossier/>")
    finally:
        os.umask(old)
    assert _mode(path) == 0o600 and path.read_bytes() == b"<dossier/>"


def test_write_private_tightens_an_existing_world_readable_file(tmp_path):
    target = tmp_path / "old.html"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_private(target, "new")
    assert _mode(target) == 0o600 and target.read_text() == "new"


def test_test_pki_private_keys_are_0600(tmp_path):
    generate_test_pki(["000.00.01.H92"], tmp_path)
    assert _mode(tmp_path / "000.00.01.H92.key.pem") == 0o600
    assert _mode(tmp_path / "000.00.01.H92.cert.pem") & 0o004  # certificates are public


def test_forms_written_by_the_cli_are_0600(tmp_path, engine, registry):
    from typer.testing import CliRunner

    from procflow.cli.app import app
    from procflow.dossier import Actor

    commune = registry.communes_of("92")[0].code
    from procflow.testing.directory import enrol_operator

    # the desk officer is enrolled (the engine is strict) and holds the command line's credential
    env = enrol_operator(engine.store, tmp_path / "operator.toml", f"desk@{commune}", commune, {"one_stop_officer"})
    desk = Actor(f"desk@{commune}", commune, {"one_stop_officer"})
    d = engine.file("1.001193", filed_at=commune, actor=desk, data={
        "child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789"})
    path = engine.store.path
    out_html, out_json = tmp_path / "f01.html", tmp_path / "f01.json"
    result = CliRunner().invoke(app, ["forms", d.id, "--form", "01", "--html", str(out_html), "--json", str(out_json),
                                      "--db", path], env=env)
    assert result.exit_code == 0, result.output
    assert _mode(out_html) == 0o600 and _mode(out_json) == 0o600
