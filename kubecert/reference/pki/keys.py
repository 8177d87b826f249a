"""Private keys as kubeadm makes and writes them, and where they come from.

kubeadm's ``encryptionAlgorithm`` names the key type of every certificate and of the service-account
key. Keys are written the way Go's keyutil writes them: RSA as PKCS#1 ``RSA PRIVATE KEY``, ECDSA as
SEC1 ``EC PRIVATE KEY``, public keys (sa.pub) as PKIX ``PUBLIC KEY``.

Key generation dominates the cost of building a PKI, so callers choose the source: ``FreshKeys``
generates every time (what a real node does); ``KeyPool`` reuses a bounded set of keys (for tests).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Protocol, TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
SignatureHash: TypeAlias = hashes.SHA256 | hashes.SHA384

# kubeadm's ClusterConfiguration.encryptionAlgorithm values (RSA-2048 is the default).
KEY_ALGORITHMS: tuple[str, ...] = ("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384")
DEFAULT_KEY_ALGORITHM = "RSA-2048"
# Accepted only so that faults can plant keys kubeadm would never make.
WEAK_KEY_ALGORITHMS: tuple[str, ...] = ("RSA-1024",)

_RSA = re.compile(r"RSA-(\d+)")
_CURVES: dict[str, ec.EllipticCurve] = {"ECDSA-P256": ec.SECP256R1(), "ECDSA-P384": ec.SECP384R1()}
_CURVE_NAMES = {"secp256r1": "ECDSA-P256", "secp384r1": "ECDSA-P384"}


def generate_key(algorithm: str) -> PrivateKey:
    """A new private key of ``algorithm`` (one of KEY_ALGORITHMS or WEAK_KEY_ALGORITHMS)."""
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm])
    match = _RSA.fullmatch(algorithm)
    if match and algorithm in KEY_ALGORITHMS + WEAK_KEY_ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(match.group(1)))
    raise ValueError(f"unknown key algorithm {algorithm!r}; expected one of {', '.join(KEY_ALGORITHMS)}")


def algorithm_of(key: PrivateKey | PublicKey) -> str:
    """The encryptionAlgorithm name of a key: ``RSA-2048``, ``ECDSA-P256``."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    name = _CURVE_NAMES.get(key.curve.name)
    if name is None:
        raise ValueError(f"unsupported curve {key.curve.name}")
    return name


def signature_hash(signer: PrivateKey) -> SignatureHash:
    """The hash Go's x509.CreateCertificate picks for a signing key: SHA-384 for P-384, else SHA-256."""
    if isinstance(signer, ec.EllipticCurvePrivateKey) and signer.curve.name == "secp384r1":
        return hashes.SHA384()
    return hashes.SHA256()


def private_key_pem(key: PrivateKey) -> bytes:
    # TraditionalOpenSSL is PKCS#1 for RSA and SEC1 for EC: the block types Go's keyutil writes.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def public_key_pem(key: PrivateKey | PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes, *, validate: bool = True) -> PrivateKey:
    """A private key from PEM; ``validate=False`` skips the costly RSA consistency check (~0.3 s at 4096 bits),
    for keys read only to compare their public halves, never to sign."""
    key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=not validate)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}; kubeadm uses RSA or ECDSA")
    return key


def same_public_key(a: PrivateKey | PublicKey, b: PrivateKey | PublicKey) -> bool:
    return public_key_pem(a) == public_key_pem(b)


class KeyFactory(Protocol):
    """Where a PKI's private keys come from."""

    def new_key(self, algorithm: str) -> PrivateKey: ...


class FreshKeys:
    """A new key on every call, as kubeadm does."""

    def new_key(self, algorithm: str) -> PrivateKey:
        return generate_key(algorithm)


class KeyPool:
    """Reuses at most ``size`` keys per algorithm, handed out round-robin; for tests only.

    Draw n of an algorithm is key n mod size, generated on first use, so no key repeats within
    ``size`` consecutive draws of one algorithm: a PKI built from fewer than ``size`` draws has
    distinct keys throughout. Safe to share between threads.
    """

    def __init__(self, size: int = 32, *, generate: Callable[[str], PrivateKey] = generate_key) -> None:
        if size < 1:
            raise ValueError("a key pool needs at least one key")
        self.size = size
        self._generate = generate
        self._keys: dict[str, list[PrivateKey]] = {}
        self._draws: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()

    def _lock_for(self, algorithm: str) -> threading.Lock:
        with self._registry_lock:
            return self._locks.setdefault(algorithm, threading.Lock())

    def new_key(self, algorithm: str) -> PrivateKey:
        # One lock per algorithm: a slow RSA-4096 draw does not hold up ECDSA draws.
        with self._lock_for(algorithm):
            keys = self._keys.setdefault(algorithm, [])
            draw = self._draws.get(algorithm, 0)
            self._draws[algorithm] = draw + 1
            if len(keys) < self.size:
                keys.append(self._generate(algorithm))
                return keys[-1]
            return keys[draw % self.size]

    def generated(self, algorithm: str) -> int:
        """How many distinct keys of ``algorithm`` the pool holds so far."""
        with self._lock_for(algorithm):
            return len(self._keys.get(algorithm, []))
