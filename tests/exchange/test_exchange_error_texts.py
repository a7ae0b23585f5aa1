"""No error message carries a citizen's personal value: a corpus of bad envelopes and bad engine calls with a
name, a national ID, a phone number and an address planted in every place a value can go, and every
exception text and CLI output scanned for them (the project's rule 5; issue 19, "Exports are reads")."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest
from forgery import relinked, signed
from handoff_support import LAND
from lxml import etree
from typer.testing import CliRunner

from procflow.cli.app import app
from procflow.dossier import Actor
from procflow.errors import ProcflowError
from procflow.exchange import DEFAULT_LIMITS, EnvelopeRejected, Party, parse_envelope
from procflow.testing.directory import staff_of

NAME = "Phạm Thị Thu Hà"
NATIONAL_ID = "079123456789"
PHONE = "0912345678"
ADDRESS = "Số 7 ngõ 15 phố Huế"
SECRETS = (NAME, NATIONAL_ID, PHONE, ADDRESS)
DS = "http://www.w3.org/2000/09/xmldsig#"


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _refusal(call: Callable[[], object]) -> str:
    """The text of the typed error ``call`` raises (it must raise one: every case here is bad input)."""
    with pytest.raises(ProcflowError) as info:
        call()
    return str(info.value)


def _planted(xml: bytes) -> Iterator[tuple[str, bytes]]:
    """Every attribute and leaf text of the envelope (its signature aside) set to each personal value."""
    root = etree.fromstring(xml)
    for index, element in enumerate(root.iter()):
        if not isinstance(element.tag, str) or element.tag.startswith(f"{{{DS}}}"):
            continue
        path = root.getroottree().getpath(element)
        spots = [(f"{path}/@{name}", name) for name in element.attrib]
        if len(element) == 0 and (element.text or "").strip():
            spots.append((f"{path}/text()", None))
        for where, attribute in spots:
            for secret in SECRETS:
                copy = etree.fromstring(xml)
                target = list(copy.iter())[index]
                if attribute is None:
                    target.text = secret
                else:
                    target.set(attribute, secret)
                yield where, etree.tostring(copy, xml_declaration=True, encoding="UTF-8")


def test_refusals_of_envelopes_with_personal_values_planted_anywhere_quote_none_of_them(federation, tmp_path):
    _, honest = federation.hand_to_office()
    texts: dict[str, str] = {}
    for where, data in _planted(honest):
        try:
            parse_envelope(data, limits=DEFAULT_LIMITS, source="planted.xml")
        except EnvelopeRejected as exc:
            texts[where] = str(exc)
        try:
            federation.b.exchange.receive(data, source="planted.xml")
        except EnvelopeRejected as exc:
            texts[f"receive {where}"] = str(exc)
    assert len(texts) > 200  # the corpus really refused things
    leaked = {where: text for where, text in texts.items() if _leaks(text)}
    assert not leaked, list(leaked.items())[:3]

    # and through the command line: one line each, nothing quoted
    samples = [data for i, (_, data) in enumerate(_planted(honest)) if i % 23 == 0]
    for i, data in enumerate(samples):
        path = tmp_path / f"planted-{i}.xml"
        path.write_bytes(data)
        for args in (["exchange", "validate", str(path)],
                     ["exchange", "import", str(path), "--db", str(tmp_path / "in.db"), "--trust",
                      str(tmp_path / "pki"), "--me", federation.office]):  # the federation's PKI
            result = CliRunner().invoke(app, args)
            # a refusal quotes none of them; an accepted envelope's summary masks IDs and phones
            shown = _leaks(result.output) if result.exit_code else [s for s in (NATIONAL_ID, PHONE)
                                                                     if s in result.output]
            assert not shown, (args, result.output)
            assert result.exit_code == 0 or len(result.output.strip().splitlines()) == 1, result.output


def _signed_variants(federation) -> Iterator[tuple[str, bytes]]:
    """Envelopes a trusted sender signs with personal values where codes, states and names of events go."""
    d, _ = federation.hand_to_office()
    envelope = federation.a.exchange.envelope_for(d.id, created_at=federation.clock.now())
    personal = {f.name: f.personal for f in federation.a.engine.definition(LAND, 1).fields if f.personal}
    keys = federation.a.exchange.keys
    events = envelope.payload.events
    for secret in SECRETS:
        code = secret.replace(" ", "_")
        for attribute in ("to_state", "from_state", "trigger", "actor", "custodian", "agency", "kind"):
            value = {"custodian": code, "agency": code, "actor": f"{secret}@{federation.office}"}.get(attribute, secret)
            changed = list(events)
            changed[2] = attrs.evolve(changed[2], **{attribute: value})
            payload = attrs.evolve(envelope.payload, events=relinked(d.id, changed, personal))
            yield f"event.{attribute}={secret}", signed(attrs.evolve(envelope, payload=payload,
                                                                     message_id=f"m-{attribute}"), keys)
        for attribute in ("state", "custodian", "procedure_code"):
            payload = attrs.evolve(envelope.payload, **{attribute: code})
            yield f"payload.{attribute}={secret}", signed(attrs.evolve(envelope, payload=payload), keys)
        yield f"recipient={secret}", signed(attrs.evolve(envelope, recipients=(Party(code),)), keys)
        yield f"subject={secret}", signed(attrs.evolve(envelope, subject=secret, recipients=(Party(code),)), keys)


def test_refusals_of_signed_envelopes_carrying_personal_values_quote_none_of_them(federation, tmp_path):
    texts = {}
    for where, data in _signed_variants(federation):
        try:
            federation.b.exchange.receive(data, source="signed.xml")
        except ProcflowError as exc:
            texts[where] = str(exc)
        else:
            raise AssertionError(f"{where}: imported")
    leaked = {where: text for where, text in texts.items() if _leaks(text)}
    assert not leaked, list(leaked.items())[:3]


def test_engine_refusals_quote_no_personal_value(engine, registry):
    """Values go in as data: a refusal of bad data names the field and the kind of value, never the value.
    Identifiers (dossier, trigger, agency, actor) are named, as they must be to say what and where — an ID
    or phone number typed into one of them is masked when the error is printed."""
    commune = registry.communes_of("92")[0].code
    desk = Actor(f"desk@{commune}", commune, {"one_stop_officer"})
    staff_of(engine).actors(desk)
    good = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789",
            "parent_phone": "0987654321"}
    d = engine.file("1.001193", filed_at=commune, actor=desk, data=good)
    calls: list[Callable[[], object]] = []
    for secret in SECRETS:
        for field in ("child_birth_date", "documents_complete"):
            calls.append(lambda s=secret, f=field: engine.file("1.001193", filed_at=commune, actor=desk,
                                                               data={**good, f: s}))
            calls.append(lambda s=secret, f=field: engine.fire(d.id, "accept", desk, data={f: s}))
    for number in (NATIONAL_ID, PHONE):
        calls += [
            lambda n=number: engine.file("1.001193", filed_at=n, actor=desk, data=good),
            lambda n=number: engine.fire(d.id, n, desk),
            lambda n=number: engine.fire(n, "accept", desk),
            lambda n=number: engine.fire(d.id, "accept", Actor(n, n, {"one_stop_officer"})),
            lambda n=number: engine.read(d.id, Actor(n, n), purpose="x"),
        ]
    texts = [_refusal(call) for call in calls]
    leaked = [t for t in texts if _leaks(t)]
    assert not leaked, leaked[:3]
