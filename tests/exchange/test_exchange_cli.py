"""``procflow exchange validate``: the same checks as a node, from the command line."""

from __future__ import annotations

from datetime import datetime

import attrs
from exchange_support import COMMUNE, PROVINCE, SAMPLES, sample_envelope
from typer.testing import CliRunner

from procflow.cli.exchange import app
from procflow.exchange import VN_TZ, TraceHop, build_envelope, sign_envelope

runner = CliRunner()


def test_validate_accepts_a_built_envelope(tmp_path):
    path = tmp_path / "envelope.xml"
    path.write_bytes(build_envelope(sample_envelope()))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "procflow edXML profile, schema-valid" in result.output
    assert "H22.31.07-250715-0001" in result.output
    assert "signature none" in result.output


def test_validate_reads_foreign_edxml():
    result = runner.invoke(app, ["validate", str(SAMPLES / "foreign_cong_van.edxml")])
    assert result.exit_code == 0, result.output
    assert "foreign edXML" in result.output
    assert "1234_BTP-HTQTCT.pdf" in result.output


def test_validate_fails_with_the_reason_code(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_bytes(build_envelope(sample_envelope()).replace(b'procedureVersion="2"', b'procedureVersion="two"'))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "rejected [" in result.output
    assert "[schema-invalid]" in result.output
    hostile = SAMPLES.parent / "hostile" / "billion_laughs.xml"
    result = runner.invoke(app, ["validate", str(hostile)])
    assert result.exit_code == 1 and "[forbidden-construct]" in result.output


def test_validate_with_trust_runs_every_receiving_check(tmp_path, pki, pki_dir):
    now = datetime.now(VN_TZ).replace(microsecond=0)
    envelope = attrs.evolve(sample_envelope(created_at=now), trace=(TraceHop(COMMUNE, now),))
    path = tmp_path / "signed.xml"
    path.write_bytes(sign_envelope(build_envelope(envelope), pki[COMMUNE]))
    ok = runner.invoke(app, ["validate", str(path), "--trust", str(pki_dir), "--me", PROVINCE])
    assert ok.exit_code == 0, ok.output
    assert f"valid, by {COMMUNE}" in ok.output
    wrong = runner.invoke(app, ["validate", str(path), "--trust", str(pki_dir), "--me", COMMUNE])
    assert wrong.exit_code == 1 and "[wrong-recipient]" in wrong.output
    missing_me = runner.invoke(app, ["validate", str(path), "--trust", str(pki_dir)])
    assert missing_me.exit_code != 0
