"""procflow's status payload in the national portal's sync shape (DongBoHoSoMC / CapNhatTienDoHoSoMC).

Kept apart from the HTTP client so the mapping can be read, and tested, without a network: field names
follow what provincial systems send to the National Public Service Portal; dates are ``yyyyMMddHHmmss``
in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["VN", "dossier_record", "parse_portal_time", "portal_time", "progress_record"]

VN = ZoneInfo("Asia/Ho_Chi_Minh")
_FORMAT = "%Y%m%d%H%M%S"


def portal_time(value: str | datetime | None) -> str:
    """ISO text or an aware datetime → ``yyyyMMddHHmmss`` in Vietnam's time; None → ``""``."""
    if value is None or value == "":
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: the portal needs Vietnam time, give an offset")
    return dt.astimezone(VN).strftime(_FORMAT)


def parse_portal_time(text: str) -> datetime:
    """``yyyyMMddHHmmss`` (Vietnam time) → aware datetime; raises ValueError for anything else."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"expected yyyyMMddHHmmss, got {text!r}")
    return datetime.strptime(text, _FORMAT).replace(tzinfo=VN)


def dossier_record(p: Mapping[str, Any]) -> dict[str, Any]:
    """One ``DongBoHoSoMC`` item: the dossier as the portal lists it."""
    record: dict[str, Any] = {
        "MaHoSo": p["dossier_id"],
        "MaTTHC": p["procedure"],
        "TenTTHC": p.get("procedure_name") or "",
        "MaLinhVuc": p.get("field_code") or "",
        "SoBienNhan": p["dossier_id"],
        "ChuHoSo": p.get("applicant") or "",
        "LoaiDoiTuong": str(p.get("applicant_kind") or 1),  # 1 citizen, 2 business, 3 household business
        "NgayTiepNhan": portal_time(p.get("received_at")),
        "NgayHenTra": portal_time(p.get("due_at")),
        "TrangThaiHoSo": str(p["status"]),
        "NgayTra": portal_time(p.get("returned_at")),
        "DonViXuLy": p.get("custodian") or "",
    }
    s = p.get("supplement")
    if s:
        record["DanhSachHoSoBoSung"] = [{
            "HoSoBoSungId": f"{p['dossier_id']}-{portal_time(s.get('requested_at'))}",
            "NgayYeuCauBoSung": portal_time(s.get("requested_at")),
            "NgayTiepNhanBoSung": portal_time(s.get("resubmitted_at")),
            "NgayHenTraTruoc": portal_time(s.get("previous_due_at")),
            "NgayHenTraMoi": portal_time(s.get("new_due_at")),
        }]
    return record


def progress_record(p: Mapping[str, Any]) -> dict[str, Any] | None:
    """One ``CapNhatTienDoHoSoMC`` item for the event behind the payload; None for a snapshot without one."""
    e = p.get("event")
    if not e:
        return None
    return {
        "MaHoSo": p["dossier_id"],
        "NguoiXuLy": e.get("actor") or "",
        "ChucDanh": "",
        "ThoiDiemXuLy": portal_time(e.get("at")),
        "PhongBanXuLy": e.get("agency") or "",
        "NoiDungXuLy": p.get("state_label") or p.get("state") or "",
        "TrangThai": str(p["status"]),
        "NgayBatDau": portal_time(e.get("at")),
        "NgayKetThucTheoQuyDinh": portal_time(p.get("step_due_at") or p.get("due_at")),
    }
