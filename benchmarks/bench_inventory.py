"""Observing a kubeadm tree: kubecert's loader against the same loader with OpenSSL's RSA key validation.

The loader skips OpenSSL's primality checks and checks the key's arithmetic itself (kubecert never signs
with a target's keys). This shows what that choice is worth, per key algorithm, in one run.
"""

from __future__ import annotations

import functools
from unittest import mock

from cryptography.hazmat.primitives import serialization

from kubecert.inventory import load_pki

from _trees import make_tree, median_seconds

REPEAT = 9
_original = serialization.load_pem_private_key


def _validated(data: bytes, password: bytes | None, **_: object) -> object:
    return _original(data, password)  # what the loader would cost without unsafe_skip_rsa_key_validation


def main() -> None:
    print(f"{'tree':<12}{'kubecert loader':>18}{'full validation':>18}{'ratio':>8}")
    for algorithm in ("RSA-2048", "RSA-4096", "ECDSA-P256"):
        pki = make_tree(algorithm) / "pki"
        observe = functools.partial(load_pki, pki)
        fast = median_seconds(observe, REPEAT)
        with mock.patch("kubecert.inventory.files.serialization.load_pem_private_key", _validated):
            slow = median_seconds(observe, REPEAT)
        print(f"{algorithm:<12}{fast * 1000:>15.1f} ms{slow * 1000:>15.1f} ms{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
