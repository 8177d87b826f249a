"""Key algorithms, kubeadm's PEM encodings, and the key sources."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubecert.reference.pki.keys import (
    FreshKeys,
    KeyPool,
    PrivateKey,
    algorithm_of,
    generate_key,
    load_private_key,
    private_key_pem,
    public_key_pem,
    same_public_key,
    signature_hash,
)


@pytest.mark.parametrize(
    ("algorithm", "block"),
    [("RSA-2048", "RSA PRIVATE KEY"), ("ECDSA-P256", "EC PRIVATE KEY"), ("ECDSA-P384", "EC PRIVATE KEY")],
)
def test_private_keys_use_kubeadms_pem_blocks(key_pool: KeyPool, algorithm: str, block: str) -> None:
    key = key_pool.new_key(algorithm)
    pem = private_key_pem(key)
    assert pem.startswith(f"-----BEGIN {block}-----\n".encode())
    assert public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert same_public_key(load_private_key(pem), key)
    assert algorithm_of(key) == algorithm


def test_ecdsa_curves_and_hashes_follow_go() -> None:
    p256, p384 = generate_key("ECDSA-P256"), generate_key("ECDSA-P384")
    assert isinstance(p256, ec.EllipticCurvePrivateKey)
    assert p256.curve.name == "secp256r1"
    assert isinstance(p384, ec.EllipticCurvePrivateKey)
    assert p384.curve.name == "secp384r1"
    assert isinstance(signature_hash(p256), hashes.SHA256)
    assert isinstance(signature_hash(p384), hashes.SHA384)


def test_weak_rsa_is_available_for_faults_only(key_pool: KeyPool) -> None:
    key = key_pool.new_key("RSA-1024")
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 1024
    assert isinstance(signature_hash(key), hashes.SHA256)


@pytest.mark.parametrize("algorithm", ["RSA-512", "RSA-2047", "ECDSA-P521", "Ed25519", ""])
def test_unknown_algorithms_are_refused(algorithm: str) -> None:
    with pytest.raises(ValueError, match="unknown key algorithm"):
        generate_key(algorithm)


def _counting_generator() -> tuple[list[PrivateKey], Callable[[str], PrivateKey]]:
    made: list[PrivateKey] = []

    def generate(algorithm: str) -> PrivateKey:
        made.append(generate_key(algorithm))
        return made[-1]

    return made, generate


def test_pool_hands_keys_out_round_robin_and_fills_lazily() -> None:
    made, generate = _counting_generator()
    pool = KeyPool(size=3, generate=generate)
    assert pool.generated("ECDSA-P256") == 0
    draws = [pool.new_key("ECDSA-P256") for _ in range(7)]
    assert len(made) == 3
    assert draws[:3] == made
    assert draws[3:] == [made[0], made[1], made[2], made[0]]
    for start in range(len(draws) - 2):  # no repeat within `size` consecutive draws
        window = draws[start:start + 3]
        assert len({id(key) for key in window}) == 3
    pool.new_key("ECDSA-P384")
    assert pool.generated("ECDSA-P384") == 1  # algorithms are pooled separately


def test_pool_is_thread_safe() -> None:
    pool = KeyPool(size=4)
    drawn: list[PrivateKey] = []
    lock = threading.Lock()

    def draw() -> None:
        for _ in range(10):
            key = pool.new_key("ECDSA-P256")
            with lock:
                drawn.append(key)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(drawn) == 80
    assert pool.generated("ECDSA-P256") == 4
    assert len({id(key) for key in drawn}) == 4
    assert all(drawn.count(key) == 20 for key in drawn)  # round-robin: every key equally often


def test_pool_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KeyPool(size=0)


def test_fresh_keys_are_new_every_time() -> None:
    fresh = FreshKeys()
    assert not same_public_key(fresh.new_key("ECDSA-P256"), fresh.new_key("ECDSA-P256"))
