"""Who signs and whom to believe: a node's signing keys (parsed once at start-up) and the trust store that
maps each agency to the certificate whose key signs its envelopes.

Kept apart from ``procflow.exchange.signing`` (the XML-DSig mechanics) because operators and tests build
these two objects from PEM files long before any envelope exists; ``procflow.exchange.signing``
re-exports both names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from signxml import SignatureMethod

from procflow.errors import UsageError

__all__ = ["NodeKeys", "SigningKey", "TrustStore"]

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@attrs.frozen
class NodeKeys:
    """One agency node's signing identity, parsed once and reused for every envelope it sends."""

    agency: str
    private_key: SigningKey = attrs.field(repr=False)
    certificate: x509.Certificate

    def __attrs_post_init__(self) -> None:
        mine = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if mine != theirs:
            raise UsageError(f"node {self.agency}: the private key does not match the certificate")

    @classmethod
    def from_pem(cls, agency: str, key_pem: bytes, cert_pem: bytes, *, password: bytes | None = None) -> NodeKeys:
        key = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UsageError(f"node {agency}: only RSA and EC keys can sign envelopes")
        return cls(agency, key, x509.load_pem_x509_certificate(cert_pem))

    @classmethod
    def load(
        cls, agency: str, key_path: str | Path, cert_path: str | Path, *, password: bytes | None = None
    ) -> NodeKeys:
        """Read the PEM files once at node start-up."""
        return cls.from_pem(agency, Path(key_path).read_bytes(), Path(cert_path).read_bytes(), password=password)

    @property
    def signature_method(self) -> SignatureMethod:
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return SignatureMethod.ECDSA_SHA256
        return SignatureMethod.RSA_SHA256


class TrustStore:
    """Agency code → the certificate whose key signs that agency's envelopes.

    The mapping, not anything in the certificate, is the authority: distributing it (out of band, per
    federation) is how a node learns whom to believe.
    """

    def __init__(self, certificates: Mapping[str, x509.Certificate]) -> None:
        self._certificates = dict(certificates)
        self._by_fingerprint = {
            cert.fingerprint(hashes.SHA256()): agency for agency, cert in self._certificates.items()
        }

    @classmethod
    def load(cls, directory: str | Path) -> TrustStore:
        """Load ``{agency code}.cert.pem`` files (the layout :func:`generate_test_pki` writes)."""
        certificates = {
            path.name[: -len(".cert.pem")]: x509.load_pem_x509_certificate(path.read_bytes())
            for path in sorted(Path(directory).glob("*.cert.pem"))
        }
        return cls(certificates)

    def certificate(self, agency: str) -> x509.Certificate | None:
        return self._certificates.get(agency)

    def agency_of(self, certificate: x509.Certificate) -> str | None:
        """Which trusted agency this exact certificate belongs to, if any."""
        return self._by_fingerprint.get(certificate.fingerprint(hashes.SHA256()))

    def __contains__(self, agency: object) -> bool:
        return agency in self._certificates

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._certificates))

    def __len__(self) -> int:
        return len(self._certificates)
