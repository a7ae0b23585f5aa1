"""Helpers shared by the exchange tests: agency codes, a fixed clock, sample envelopes, a spy inbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from procflow.exchange import (
    DEFAULT_LIMITS,
    VN_TZ,
    Attachment,
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    Limits,
    Party,
    PayloadEvent,
    TraceHop,
    TrustStore,
    Verifier,
)

COMMUNE = "000.31.07.H22"  # synthetic commune centre code
PROVINCE = "000.00.01.H22"  # synthetic provincial department code
OTHER = "000.00.02.H22"  # another trusted agency (the "wrong signer")
MINISTRY = "000.00.00.G12"  # a ministry's document system (foreign edXML)
AGENCIES = (COMMUNE, PROVINCE, OTHER, MINISTRY)
T0 = datetime(2025, 7, 15, 9, 30, 12, 345678, tzinfo=VN_TZ)
SAMPLES = Path(__file__).parent / "samples"


class SpyReplayGuard:
    """Records every call, so tests can assert a refused message was never even offered for recording."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.seen: set[str] = set()

    def seen_or_record(self, message_id: str) -> bool:
        self.calls.append(message_id)
        if message_id in self.seen:
            return True
        self.seen.add(message_id)
        return False


class Inbox:
    """A receiving node in miniature: only verified envelopes reach ``accepted`` (the import callback)."""

    def __init__(self, verifier: Verifier, guard: SpyReplayGuard) -> None:
        self.verifier = verifier
        self.guard = guard
        self.accepted: list[Envelope] = []

    def receive(self, data: bytes) -> Envelope:
        envelope = self.verifier.verify(data)
        self.accepted.append(envelope)
        return envelope


def make_inbox(
    trust: TrustStore,
    me: str = PROVINCE,
    *,
    now: datetime = T0 + timedelta(minutes=2),
    limits: Limits = DEFAULT_LIMITS,
    allow_unsigned_foreign: bool = False,
) -> Inbox:
    guard = SpyReplayGuard()
    verifier = Verifier(
        trust,
        me,
        guard,
        clock=lambda: now,
        limits=limits,
        allow_unsigned_foreign=allow_unsigned_foreign,
    )
    return Inbox(verifier, guard)


def birth_registration_payload(*, events: int = 3) -> DossierPayload:
    """A realistic liên thông dossier: birth registration forwarded to the province for residence."""
    history = [
        PayloadEvent(
            seq=1,
            at=T0 - timedelta(hours=3),
            kind="created",
            trigger="receive",
            from_state=None,
            to_state="received",
            actor="Nguyễn Thị Bích (công chức tư pháp - hộ tịch)",
            agency=COMMUNE,
            custodian=COMMUNE,
            definition_version=2,
            data=(Field.of("kênh", "trực tuyến"), Field.of("đủ_hồ_sơ", True)),
        )
    ]
    for seq in range(2, events + 1):
        history.append(
            PayloadEvent(
                seq=seq,
                at=T0 - timedelta(hours=3) + timedelta(minutes=20 * seq),
                kind="transition",
                trigger="forward_to_province" if seq == events else "verify",
                from_state="received",
                to_state="forwarded" if seq == events else "verified",
                actor="Trần Văn Đức",
                agency=COMMUNE,
                custodian=PROVINCE if seq == events else COMMUNE,
                definition_version=2,
                data=(Field.of("ghi_chú", f"Bước {seq}: đã kiểm tra giấy chứng sinh"),),
            )
        )
    return DossierPayload(
        dossier_id="H22.31.07-250715-0001",
        procedure_code="1.001193",
        procedure_version=2,
        state="forwarded",
        custodian=PROVINCE,
        receiving_agency=COMMUNE,
        fields=(
            Field.of("họ_tên_trẻ", "Nguyễn Hoàng Bảo Anh"),
            Field.of("ngày_sinh", date(2025, 7, 1)),
            Field.of("giới_tính", "Nữ"),
            Field.of("số_bản_sao", 2),
            Field.of("lệ_phí", Decimal("0.00")),
            Field.of("nộp_trực_tuyến", True),
            Field.of("thời_điểm_nộp", T0 - timedelta(hours=3)),
        ),
        events=tuple(history),
    )


def sample_envelope(
    *,
    sender: str = COMMUNE,
    recipient: str = PROVINCE,
    message_id: str = "msg-250715-0001",
    created_at: datetime = T0,
    attachment_size: int = 4096,
    payload: DossierPayload | None = None,
) -> Envelope:
    scan = (b"%PDF-1.7\n" + bytes(range(256)) * (attachment_size // 256 + 1))[:attachment_size]
    return Envelope(
        message_id=message_id,
        sender=Party(sender, "UBND xã Tân Lập"),
        recipients=(Party(recipient, "Công an tỉnh Quảng Ninh"),),
        created_at=created_at,
        subject="Chuyển hồ sơ liên thông: đăng ký khai sinh – đăng ký thường trú – cấp thẻ BHYT",
        document=DocumentInfo.for_message(sender, created_at.date(), "125", "UBND-TP", promulgation_place="Tân Lập"),
        trigger="forward_to_province",
        trace=(TraceHop(sender, created_at.replace(microsecond=0)),),
        payload=payload if payload is not None else birth_registration_payload(),
        attachments=(
            Attachment.inline("giay_chung_sinh.pdf", "application/pdf", scan, description="Giấy chứng sinh"),
            Attachment.external(
                "to_khai_dien_tu.xml",
                "application/xml",
                "https://dichvucong.example.vn/ho-so/H22.31.07-250715-0001/to-khai.xml",
                "ab" * 32,
            ),
        ),
    )
