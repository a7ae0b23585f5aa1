"""The simulator itself: duplicate detection, validation, failure injection at the configured rate."""

from __future__ import annotations

import httpx
import pytest
from procflow_portal_http import PortalSimulator


def _session(client: httpx.Client, portal: PortalSimulator) -> str:
    return client.post("/api/auth/login", json={"username": portal.username, "password": portal.password}).json()[
        "session"]


def _record(**kw):
    return {"MaHoSo": "H1", "MaTTHC": "1.001193", "NgayTiepNhan": "20260420083000", "TrangThaiHoSo": "2", **kw}


def test_a_repeated_key_is_acknowledged_not_applied(portal):
    with httpx.Client(base_url=portal.url) as c:
        s = _session(c, portal)
        body = {"session": s, "madonvi": "X", "service": "DongBoHoSoMC", "data": [_record()]}
        first = c.post("/api/service", json=body, headers={"Idempotency-Key": "k1"}).json()
        again = c.post("/api/service", json={**body, "data": [_record(TrangThaiHoSo="4")]},
                       headers={"Idempotency-Key": "k1"}).json()
    assert first["error_code"] == again["error_code"] == "0" and again["duplicate"] is True
    assert portal.status_of("H1") == 2 and portal.times_applied("k1") == 1 and portal.duplicates == 1


@pytest.mark.parametrize("bad", [_record(TrangThaiHoSo="11"), _record(NgayTiepNhan="2026-04-20"),
                                 {"MaHoSo": "H1"}])
def test_invalid_records_are_rejected_with_error_code_minus_2(portal, bad):
    with httpx.Client(base_url=portal.url) as c:
        s = _session(c, portal)
        reply = c.post("/api/service", json={"session": s, "madonvi": "X", "service": "DongBoHoSoMC",
                                             "data": [bad]}).json()
    assert reply["error_code"] == "-2" and portal.status_of("H1") is None


def test_random_failures_follow_the_configured_rate():
    with PortalSimulator(fail_rate=0.3, timeout_share=0.0, seed=7) as portal, httpx.Client(base_url=portal.url) as c:
        s = _session(c, portal)
        codes = [c.post("/api/service", json={"session": s, "madonvi": "X", "service": "TraCuuHoSo",
                                              "data": {"DanhSachMaHoSo": []}}).json()["error_code"]
                 for _ in range(400)]
    failed = sum(code != "0" for code in codes)
    assert 0.22 * 400 < failed < 0.38 * 400 and sum(portal.faults.values()) == failed


def test_an_unknown_session_is_refused(portal):
    with httpx.Client(base_url=portal.url) as c:
        reply = c.post("/api/service", json={"session": "nope", "madonvi": "X", "service": "TraCuuHoSo",
                                             "data": {"DanhSachMaHoSo": []}}).json()
    assert reply["error_code"] == "-1"
