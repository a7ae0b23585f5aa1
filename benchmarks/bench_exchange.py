"""Exchange envelope benchmark: ``python benchmarks/bench_exchange.py`` (one run, about 20 s).

Typical envelope: a few KB of edXML header and dossier payload (a dozen fields, eight events) plus one
100 KB inline attachment. Every case runs in interleaved rounds (case A, B, C, ... then again) so drift
in the machine hits all cases alike; the figure reported is the median per-operation time over rounds.

Baselines:
- build+serialize vs bare lxml: the same element tree made with plain ``SubElement`` calls + ``tostring``.
- safe parse+validate vs bare lxml: ``etree.fromstring`` with the default parser (and with the XSD).
- sign / verify vs signxml alone, given the same key and certificate objects.
- sign+verify vs raw RSA-2048 PKCS#1 v1.5 SHA-256 sign+verify (``cryptography``) + SHA-256 of the attachment.
Targets (issue 10): procflow sign+verify ≤ 1.5× signxml alone; ≤ 3× the raw RSA+hash figure.

procflow signs its own profile with :mod:`procflow.exchange.dsig` (lxml C14N + ``cryptography``), not
signxml: the edXMLEnvelope (header, trace, payload, manifest with attachment digests) is signed and the
attachment is bound by its SHA-256. The signxml-alone baseline signs the whole document the plain way
(URI=""), which also covers the attachment. "verify" is reported two ways, both against both targets:

- signature level: hardened parse of the bytes, the signature (signer's certificate, SignedInfo, envelope
  digest) and the attachment's digest (base64 decode + SHA-256) — the same job signxml's verify does;
- full receive: ``Verifier.verify``, which adds the XSD, the mapping to the model and the recipient, time
  and replay checks. "receive, no crypto" puts that part in perspective against the raw crypto figure.
"""

from __future__ import annotations

import hashlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)

from procflow.exchange import (
    EDXML_NS,
    PF_NS,
    VN_TZ,
    Attachment,
    DocumentInfo,
    DossierPayload,
    Envelope,
    Field,
    Party,
    PayloadEvent,
    TraceHop,
    TrustStore,
    Verifier,
    build_envelope,
    envelope_schema,
    envelope_tree,
    generate_test_keys,
    parse_envelope,
    sign_envelope,
)
from procflow.exchange.lexical import _pybase64, decode_base64
from procflow.exchange.parser import parse_xml
from procflow.exchange.signing import verify_signature

COMMUNE, PROVINCE = "000.31.07.H22", "000.00.01.H22"
T0 = datetime(2025, 7, 15, 9, 30, 12, 345678, tzinfo=VN_TZ)
ROUNDS = 21


def typical_envelope() -> Envelope:
    events = tuple(
        PayloadEvent(
            seq=i + 1,
            at=T0 - timedelta(hours=8 - i),
            kind="transition",
            trigger=f"step_{i}",
            from_state=f"state_{i}",
            to_state=f"state_{i + 1}",
            actor="Nguyễn Thị Bích (công chức tư pháp - hộ tịch)",
            agency=COMMUNE,
            custodian=COMMUNE if i < 7 else PROVINCE,
            definition_version=2,
            data=(Field.of("ghi_chú", f"Bước {i + 1}: đã kiểm tra hồ sơ, đủ điều kiện"), Field.of("lần", i)),
        )
        for i in range(8)
    )
    payload = DossierPayload(
        dossier_id="H22.31.07-250715-0001",
        procedure_code="1.001193",
        procedure_version=2,
        state="forwarded",
        custodian=PROVINCE,
        receiving_agency=COMMUNE,
        fields=(
            Field.of("họ_tên_trẻ", "Nguyễn Hoàng Bảo Anh"),
            Field.of("ngày_sinh", date(2025, 7, 1)),
            Field.of("nơi_sinh", "Bệnh viện Sản Nhi tỉnh Quảng Ninh"),
            Field.of("giới_tính", "Nữ"),
            Field.of("dân_tộc", "Kinh"),
            Field.of("quốc_tịch", "Việt Nam"),
            Field.of("họ_tên_mẹ", "Trần Thị Thu Hà"),
            Field.of("họ_tên_cha", "Nguyễn Văn Hoàng"),
            Field.of("số_bản_sao", 2),
            Field.of("lệ_phí", Decimal("0.00")),
            Field.of("nộp_trực_tuyến", True),
            Field.of("thời_điểm_nộp", T0 - timedelta(hours=9)),
        ),
        events=events,
    )
    scan = (b"%PDF-1.7\n" + bytes(range(256)) * 400)[:100_000]
    return Envelope(
        message_id="msg-250715-0001",
        sender=Party(COMMUNE, "UBND xã Tân Lập"),
        recipients=(Party(PROVINCE, "Công an tỉnh Quảng Ninh"),),
        created_at=T0,
        subject="Chuyển hồ sơ liên thông: đăng ký khai sinh – đăng ký thường trú – cấp thẻ BHYT",
        document=DocumentInfo.for_message(COMMUNE, T0.date(), "125", "UBND-TP", promulgation_place="Tân Lập"),
        trigger="forward_to_province",
        trace=(TraceHop(COMMUNE, T0.replace(microsecond=0)),),
        payload=payload,
        attachments=(Attachment.inline("giay_chung_sinh.pdf", "application/pdf", scan, description="Giấy chứng sinh"),),
    )


def bare_lxml_builder(tree: etree._Element) -> Callable[[], bytes]:
    """Replay the finished tree as plain lxml calls: the cost of building it with no model in between."""
    ops: list[tuple[int, str, dict[str, str], str | None, dict[str | None, str] | None]] = []
    index = {tree: -1}
    for element in tree.iter():
        if element is tree:
            continue
        ops.append((index[element.getparent()], element.tag, dict(element.attrib), element.text, None))
        index[element] = len(ops) - 1
    envelope_nsmap = {k: v for k, v in tree[0].nsmap.items() if k is not None}
    first = ops[0]
    ops[0] = (first[0], first[1], first[2], first[3], envelope_nsmap)
    root_tag, root_nsmap = tree.tag, dict(tree.nsmap)

    def build() -> bytes:
        root = etree.Element(root_tag, nsmap=root_nsmap)
        made: list[etree._Element] = []
        for parent, tag, attrib, text, nsmap in ops:
            element = etree.SubElement(root if parent < 0 else made[parent], tag, attrib, nsmap=nsmap)
            if text is not None:
                element.text = text
            made.append(element)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return build


class NoReplayGuard:
    """The benchmark verifies the same message repeatedly; a real node would refuse the repeats."""

    def seen_or_record(self, message_id: str) -> bool:
        return False


def measure(cases: dict[str, tuple[Callable[[], object], int]]) -> dict[str, float]:
    """Interleaved rounds; per round each case runs its batch; return the median µs per operation."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn, _ in cases.values():
        fn()  # warm caches (schema compile, imports)
    for _ in range(ROUNDS):
        for name, (fn, batch) in cases.items():
            start = time.perf_counter()
            for _ in range(batch):
                fn()
            samples[name].append((time.perf_counter() - start) / batch * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    envelope = typical_envelope()
    keys = generate_test_keys(COMMUNE, now=T0 - timedelta(days=1))
    trust = TrustStore({COMMUNE: keys.certificate})
    data = build_envelope(envelope)
    tree = envelope_tree(envelope)
    signed = sign_envelope(tree, keys)
    attachment = envelope.attachments[0].content or b""
    header_bytes = len(data) - len(data.split(b"<AttachmentEncoded>")[1])
    assert parse_envelope(data) == envelope

    bare_build = bare_lxml_builder(tree)
    assert bare_build() == data, "the bare-lxml baseline must produce the same document"
    schema = envelope_schema()
    verifier = Verifier(trust, PROVINCE, NoReplayGuard(), clock=lambda: T0 + timedelta(minutes=1))
    assert verifier.verify(signed) == envelope

    c14n = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0

    def signxml_sign() -> bytes:
        signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, c14n_algorithm=c14n)
        signed_root = signer.sign(tree, key=keys.private_key, cert=[keys.certificate])
        return etree.tostring(signed_root, xml_declaration=True, encoding="UTF-8")

    signxml_signed = signxml_sign()
    config = SignatureConfiguration(
        signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        verification_time=T0,
    )

    def signxml_verify() -> object:
        return XMLVerifier().verify(signxml_signed, x509_cert=keys.certificate, expect_config=config)

    def signature_level_verify() -> None:
        """Hardened parse, the signature, and the attachment's digest: what establishes authenticity."""
        root = parse_xml(signed)
        sender = root.findtext(f".//{{{EDXML_NS}}}From/{{{EDXML_NS}}}OrganId") or ""
        verify_signature(root, trust=trust, sender=sender, at=T0 + timedelta(minutes=1))
        digests = {r.get("{http://www.w3.org/1999/xlink}href", "")[4:]: r.findtext(f"{{{PF_NS}}}Digest")
                   for r in root.iterfind(f".//{{{EDXML_NS}}}edXMLManifest/{{{EDXML_NS}}}Reference")}
        for item in root.iterfind(f"{{{EDXML_NS}}}AttachmentEncoded/{{{EDXML_NS}}}Attachment"):
            content = decode_base64(item.findtext(f"{{{EDXML_NS}}}ContentTransferEncoded") or "")
            if hashlib.sha256(content).hexdigest() != digests[item.findtext(f"{{{EDXML_NS}}}ContentId")]:
                raise AssertionError("attachment digest")

    signature_level_verify()
    public_key = keys.private_key.public_key()
    signed_info = etree.tostring(etree.fromstring(signed).find(".//{http://www.w3.org/2000/09/xmldsig#}SignedInfo"))

    def raw_rsa_and_hash() -> None:
        hashlib.sha256(attachment).digest()
        signature = keys.private_key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
        public_key.verify(signature, signed_info, padding.PKCS1v15(), hashes.SHA256())

    started = time.perf_counter()
    results = measure(
        {
            "bare lxml build+serialize": (bare_build, 40),
            "procflow build_envelope": (lambda: build_envelope(envelope), 40),
            "bare lxml parse": (lambda: etree.fromstring(data), 40),
            "bare lxml parse + XSD": (lambda: schema.validate(etree.fromstring(data)), 40),
            "procflow parse_envelope": (lambda: parse_envelope(data), 40),
            "signxml sign": (signxml_sign, 15),
            "procflow sign_envelope": (lambda: sign_envelope(tree, keys), 15),
            "procflow sign_envelope (from bytes)": (lambda: sign_envelope(data, keys), 15),
            "signxml verify": (signxml_verify, 15),
            "procflow verify, signature level": (signature_level_verify, 15),
            "procflow Verifier.verify": (lambda: verifier.verify(signed), 15),
            "raw RSA sign+verify + SHA-256": (raw_rsa_and_hash, 15),
        }
    )
    pem = keys.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    start = time.perf_counter()
    for _ in range(3):
        XMLSigner(c14n_algorithm=c14n).sign(tree, key=pem, cert=[keys.certificate])
    pem_sign = (time.perf_counter() - start) / 3 * 1e6
    elapsed = time.perf_counter() - started

    print("procflow.exchange benchmark")
    print(
        f"python {platform.python_version()} · lxml {version('lxml')} · signxml {version('signxml')} · "
        f"cryptography {version('cryptography')} · {platform.machine()} · base64: "
        f"{'pybase64 ' + version('pybase64') if _pybase64 is not None else 'stdlib (install procflow[fast])'}"
    )
    print(
        f"envelope: {len(data):,} bytes ({header_bytes:,} header+payload, 100,000-byte attachment); "
        f"signed {len(signed):,} bytes; {ROUNDS} interleaved rounds, median µs/op"
    )
    print()
    width = max(len(name) for name in results) + 2
    for name, micros in results.items():
        print(f"  {name:<{width}}{micros:>10.1f} µs")
    print(f"  {'signxml sign, key as PEM text (3 runs)':<{width}}{pem_sign:>10.1f} µs   (why keys load once)")
    print()

    def ratio(a: str, b: str) -> float:
        return results[a] / results[b]

    sign = results["procflow sign_envelope"]
    signature_pair = sign + results["procflow verify, signature level"]
    full_pair = sign + results["procflow Verifier.verify"]
    signxml_pair = results["signxml sign"] + results["signxml verify"]
    raw = results["raw RSA sign+verify + SHA-256"]

    def verdict(value: float, target: float) -> str:
        return f"target ≤ {target:.1f}×  {'PASS' if value <= target else 'FAIL'}"

    rows = [
        ("build+serialize", "procflow / bare lxml", ratio("procflow build_envelope", "bare lxml build+serialize"), ""),
        ("safe parse+validate", "procflow / bare lxml parse", ratio("procflow parse_envelope", "bare lxml parse"), ""),
        (
            "safe parse+validate",
            "procflow / bare parse + XSD",
            ratio("procflow parse_envelope", "bare lxml parse + XSD"),
            "",
        ),
        ("sign", "procflow / signxml", ratio("procflow sign_envelope", "signxml sign"), ""),
        ("verify, signature level", "procflow / signxml", ratio("procflow verify, signature level", "signxml verify"),
         ""),
        ("verify, full receive", "procflow / signxml", ratio("procflow Verifier.verify", "signxml verify"), ""),
        ("sign+verify (signature)", "procflow / signxml", signature_pair / signxml_pair, verdict(
            signature_pair / signxml_pair, 1.5)),
        ("sign+verify (signature)", "procflow / raw RSA + SHA-256", signature_pair / raw, verdict(
            signature_pair / raw, 3.0)),
        ("sign+verify (full recv)", "procflow / signxml", full_pair / signxml_pair, verdict(
            full_pair / signxml_pair, 1.5)),
        ("sign+verify (full recv)", "procflow / raw RSA + SHA-256", full_pair / raw, verdict(full_pair / raw, 3.0)),
        ("sign+verify (context)", "signxml alone / raw", signxml_pair / raw, ""),
        ("receive, no crypto", "parse_envelope / raw", results["procflow parse_envelope"] / raw, ""),
    ]
    print("ratios")
    for what, against, value, target in rows:
        print(f"  {what:<26}{against:<31}{value:6.2f}×  {target}".rstrip())
    print(f"\n({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
