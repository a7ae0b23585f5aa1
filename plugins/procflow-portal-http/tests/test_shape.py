"""The sync shape: field names, yyyyMMddHHmmss in Vietnam time, supplements with old and new due date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from procflow_portal_http.shape import dossier_record, parse_portal_time, portal_time, progress_record


def test_dates_are_vietnam_time_whatever_the_offset_given():
    assert portal_time("2026-04-20T08:30:05+07:00") == "20260420083005"
    assert portal_time(datetime(2026, 4, 20, 1, 30, 5, tzinfo=UTC)) == "20260420083005"
    assert portal_time(None) == ""
    assert parse_portal_time("20260420083005").isoformat() == "2026-04-20T08:30:05+07:00"
    with pytest.raises(ValueError, match="naive"):
        portal_time("2026-04-20T08:30:05")
    with pytest.raises(ValueError, match="yyyyMMddHHmmss"):
        parse_portal_time("2026-04-20")


def test_records_carry_the_portal_fields(messages):
    filed, *_, resubmitted, processed = messages
    rec = dossier_record(filed.payload)
    assert rec["MaHoSo"] == filed.dossier_id and rec["MaTTHC"] == "1.001193" and rec["TrangThaiHoSo"] == "2"
    assert rec["TenTTHC"] == "Đăng ký khai sinh" and len(rec["NgayTiepNhan"]) == 14 and rec["NgayTra"] == ""
    assert "DanhSachHoSoBoSung" not in rec
    [sup] = dossier_record(resubmitted.payload)["DanhSachHoSoBoSung"]
    assert sup["NgayHenTraTruoc"] < sup["NgayHenTraMoi"] and sup["NgayTiepNhanBoSung"]
    progress = progress_record(processed.payload)
    assert progress is not None and progress["TrangThai"] == "9" and progress["NguoiXuLy"].startswith("hotich@")
    assert progress_record({**processed.payload, "event": None}) is None
