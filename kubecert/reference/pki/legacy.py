"""SHA-1 signed certificates, which cryptography no longer creates; used by a fault only.

cryptography builds the certificate (with SHA-256); this module then swaps the signature algorithm
identifier inside the to-be-signed bytes for the SHA-1 one, signs those bytes with SHA-1 and wraps the
three parts in the outer SEQUENCE. Nothing is parsed: the identifiers are fixed DER byte strings and
the result is loaded back through cryptography, which checks it is a well-formed certificate.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kubecert.reference.pki.issue import CertTemplate, sign
from kubecert.reference.pki.keys import PrivateKey, PublicKey

# AlgorithmIdentifier DER: SEQUENCE { OID [, NULL] }.
_RSA_SHA256 = bytes.fromhex("300d06092a864886f70d01010b0500")  # sha256WithRSAEncryption, NULL
_RSA_SHA1 = bytes.fromhex("300d06092a864886f70d0101050500")  # sha1WithRSAEncryption, NULL
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")  # ecdsa-with-SHA256
_ECDSA_SHA1 = bytes.fromhex("300906072a8648ce3d0401")  # ecdsa-with-SHA1


def _der_length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def sign_sha1(
    template: CertTemplate, *, public_key: PublicKey, signer_key: PrivateKey, issuer: x509.Certificate | None
) -> x509.Certificate:
    """The certificate ``sign`` would make, signed with SHA-1 instead."""
    if isinstance(signer_key, rsa.RSAPrivateKey):
        old, new = _RSA_SHA256, _RSA_SHA1
    elif isinstance(signer_key, ec.EllipticCurvePrivateKey):
        old, new = _ECDSA_SHA256, _ECDSA_SHA1
    else:  # pragma: no cover - PrivateKey is RSA or ECDSA
        raise TypeError(f"cannot sign with {type(signer_key).__name__}")
    draft = sign(template, public_key=public_key, signer_key=signer_key, issuer=issuer, hash_algorithm=hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    header = 2 if tbs[1] < 0x80 else 2 + (tbs[1] & 0x7F)  # the outer SEQUENCE's tag and length octets
    body = tbs[header:]
    # The identifier is the TBS's third element, after version and serial; it must occur there only.
    if body.count(old) != 1:
        raise RuntimeError("unexpected TBS layout: cannot place the SHA-1 signature algorithm")
    tbs_sha1 = _tlv(0x30, body.replace(old, new))
    if isinstance(signer_key, rsa.RSAPrivateKey):
        signature = signer_key.sign(tbs_sha1, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - the fault's point
    else:
        signature = signer_key.sign(tbs_sha1, ec.ECDSA(hashes.SHA1()))  # noqa: S303
    der = _tlv(0x30, tbs_sha1 + new + _tlv(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)
