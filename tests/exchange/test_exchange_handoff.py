"""A commune → province → commune hand-off as signed envelopes between two nodes' stores.

The stores here are deliberately tiny (a dict of dossier histories per node): what is under test is that
the envelope carries the history exactly, that only verified envelopes are imported, and that importing
is idempotent on the message id. The engine-backed version belongs to the engine integration.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from exchange_support import COMMUNE, PROVINCE, T0, birth_registration_payload
from exchange_support import sample_envelope as _sample

from procflow.exchange import (
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    MemoryReplayGuard,
    NodeKeys,
    Party,
    PayloadEvent,
    TraceHop,
    TrustStore,
    Verifier,
    envelope_tree,
    parse_envelope,
    sign_envelope,
)


@attrs.define
class Node:
    code: str
    keys: NodeKeys
    trust: TrustStore
    dossiers: dict[str, DossierPayload] = attrs.field(factory=dict)
    imported: list[str] = attrs.field(factory=list)
    counter: int = 0
    now: datetime = T0
    replay: MemoryReplayGuard = attrs.field(factory=MemoryReplayGuard)
    verifier: Verifier = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.verifier = Verifier(self.trust, self.code, self.replay, clock=lambda: self.now)

    def send(self, dossier_id: str, to: str, trigger: str, at: datetime) -> bytes:
        self.counter += 1
        payload = self.dossiers[dossier_id]
        envelope = Envelope(
            message_id=f"{self.code}-{self.counter:06d}",
            sender=Party(self.code),
            recipients=(Party(to),),
            created_at=at,
            subject=f"Liên thông hồ sơ {dossier_id}",
            document=DocumentInfo.for_message(self.code, at.date(), str(self.counter), "LT"),
            trigger=trigger,
            trace=(TraceHop(self.code, at.replace(microsecond=0)),),
            payload=payload,
        )
        return sign_envelope(envelope_tree(envelope), self.keys)

    def receive(self, data: bytes, now: datetime) -> Envelope:
        self.now = now
        envelope = self.verifier.verify(data)
        if envelope.message_id not in self.imported:  # the hand-off import is idempotent on message id
            assert envelope.payload is not None
            self.dossiers[envelope.payload.dossier_id] = envelope.payload
            self.imported.append(envelope.message_id)
        return envelope

    def act(self, dossier_id: str, *, kind: str, trigger: str, to_state: str, custodian: str, at: datetime) -> None:
        payload = self.dossiers[dossier_id]
        assert payload.custodian == self.code, "one custodian at a time"
        event = PayloadEvent(
            seq=payload.events[-1].seq + 1,
            at=at,
            kind=kind,
            trigger=trigger,
            from_state=payload.state,
            to_state=to_state,
            actor=f"cán bộ {self.code}",
            agency=self.code,
            custodian=custodian,
            definition_version=payload.events[-1].definition_version,
            data=(Field.of("ghi_chú", f"{trigger} lúc {at:%H:%M}"),),
        )
        self.dossiers[dossier_id] = attrs.evolve(
            payload, state=to_state, custodian=custodian, events=(*payload.events, event)
        )


def province_message_id(data: bytes) -> str:
    return parse_envelope(data).message_id


def test_commune_province_commune_hand_off_ends_with_the_same_history(pki, trust):
    commune = Node(COMMUNE, pki[COMMUNE], trust)
    province = Node(PROVINCE, pki[PROVINCE], trust)
    dossier = birth_registration_payload()
    commune.dossiers[dossier.dossier_id] = dossier
    assert dossier.custodian == PROVINCE  # the commune's last event handed custody over

    outbound = commune.send(dossier.dossier_id, PROVINCE, "forward_to_province", T0)
    province.receive(outbound, T0 + timedelta(minutes=1))
    assert province.dossiers == commune.dossiers

    later = T0 + timedelta(hours=5)
    province.act(
        dossier.dossier_id,
        kind="transition",
        trigger="register_residence",
        to_state="residence_registered",
        custodian=PROVINCE,
        at=later,
    )
    province.act(
        dossier.dossier_id,
        kind="handoff",
        trigger="return_to_commune",
        to_state="result_ready",
        custodian=COMMUNE,
        at=later + timedelta(minutes=30),
    )
    back = province.send(dossier.dossier_id, COMMUNE, "return_to_commune", later + timedelta(minutes=30))
    commune.receive(back, later + timedelta(minutes=31))

    assert commune.dossiers == province.dossiers
    history = commune.dossiers[dossier.dossier_id].events
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert [e.agency for e in history][-2:] == [PROVINCE, PROVINCE]
    assert commune.dossiers[dossier.dossier_id].custodian == COMMUNE

    # Delivered twice (outbox at-least-once): the second copy is refused as a replay, nothing changes.
    before = dict(commune.dossiers)
    try:
        commune.receive(back, later + timedelta(minutes=40))
    except Exception as exc:
        assert getattr(exc, "reason", None) == "replayed"
    assert commune.dossiers == before


def test_sample_envelope_helper_is_addressed_commune_to_province():
    envelope = _sample()
    assert envelope.sender.code == COMMUNE and envelope.recipient_codes == (PROVINCE,)
