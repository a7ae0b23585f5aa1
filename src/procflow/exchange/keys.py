"""Test PKI: a self-signed RSA-2048 certificate and key per agency, for tests, demos and simulations.

Real deployments use certificates issued for each agency (e.g. by the government CA); the node code is the
same, because trust comes from the :class:`TrustStore` mapping, not from a chain. Files are written as
``{code}.key.pem`` (unencrypted, test only) and ``{code}.cert.pem``, which :meth:`TrustStore.load` reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from procflow.errors import UsageError
from procflow.exchange.nodekeys import NodeKeys
from procflow.privacy.files import write_private

__all__ = ["generate_test_keys", "generate_test_pki"]


def generate_test_keys(
    agency: str, *, name: str | None = None, now: datetime | None = None, valid_days: int = 3650
) -> NodeKeys:
    """One agency's key pair and self-signed certificate, in memory."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name or agency),
            x509.NameAttribute(NameOID.COMMON_NAME, agency),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return NodeKeys(agency, key, certificate)


def generate_test_pki(
    agency_codes: Iterable[str], directory: str | Path, *, now: datetime | None = None, overwrite: bool = False
) -> dict[str, NodeKeys]:
    """Write a key and certificate per agency into ``directory``; return the loaded keys by code.

    A key file already there is a node's identity (its peers trust the certificate): replacing it is a
    re-key, so it needs ``overwrite=True``; without it nothing is written and the files are named."""
    target = Path(directory)
    codes = list(agency_codes)
    for code in codes:
        if not code or "/" in code or code.startswith("."):
            raise UsageError(f"agency code {code!r} cannot name a key file")
    present = [str(target / f"{c}.{kind}.pem") for c in codes for kind in ("key", "cert")
               if (target / f"{c}.{kind}.pem").exists()]
    if present and not overwrite:
        raise UsageError(f"{', '.join(present)} already exist(s): replacing a node's key re-keys it (its peers "
                         "must trust the new certificate); pass --overwrite to replace, or choose another --dir")
    target.mkdir(parents=True, exist_ok=True)
    result: dict[str, NodeKeys] = {}
    for code in codes:
        keys = generate_test_keys(code, now=now)
        write_private(target / f"{code}.key.pem",
                      keys.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        (target / f"{code}.cert.pem").write_bytes(keys.certificate.public_bytes(serialization.Encoding.PEM))
        result[code] = keys
    return result
