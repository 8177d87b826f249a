"""OpenSSL, an independent X.509 implementation, accepts what the reference writes."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from kubecert import layout
from kubecert.reference.pki import InitOptions, InitResult, KeyPool, PkiTree, apply_fault, cert_pem, init_pki

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL or "openssl", *map(str, args)], capture_output=True, text=True, check=False)


def _verify_tree(root: Path, tmp_path: Path) -> None:
    pki = root / "pki"
    for spec in layout.CERTS:
        crt = pki / f"{spec.path}.crt"
        if not crt.exists():
            continue
        text = _openssl("x509", "-in", crt, "-noout", "-text")
        assert text.returncode == 0, text.stderr
        assert "X509v3 Basic Constraints: critical" in text.stdout
        ca_file = crt if spec.ca is None else pki / f"{layout.CERTS_BY_NAME[spec.ca].path}.crt"
        result = _openssl("verify", "-x509_strict", "-CAfile", ca_file, crt)
        assert result.returncode == 0, (spec.name, result.stdout, result.stderr)
        assert result.stdout.strip() == f"{crt}: OK"
    tree = PkiTree(root)
    for spec in layout.KUBECONFIGS:
        if not spec.embeds_client_cert or not tree.kubeconfig_path(spec.name).exists():
            continue
        client = tmp_path / f"{spec.name}.crt"
        client.write_bytes(cert_pem(tree.kubeconfig_client(spec.name)[0]))
        result = _openssl("verify", "-x509_strict", "-CAfile", pki / "ca.crt", client)
        assert result.returncode == 0, (spec.name, result.stdout, result.stderr)


def test_openssl_verifies_every_chain_of_the_reference_tree(reference_tree: InitResult, tmp_path: Path) -> None:
    _verify_tree(reference_tree.root, tmp_path)


def test_openssl_reads_kubeadms_key_formats(reference_tree: InitResult) -> None:
    pki = reference_tree.pki_dir
    assert _openssl("rsa", "-in", pki / "apiserver.key", "-check", "-noout").returncode == 0
    assert _openssl("pkey", "-pubin", "-in", pki / "sa.pub", "-noout").returncode == 0


def test_openssl_verifies_a_p384_tree(tmp_path: Path, key_pool: KeyPool) -> None:
    result = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P384"), keys=key_pool,
                      now=dt.datetime.now(dt.UTC))
    _verify_tree(result.root, tmp_path)
    text = _openssl("x509", "-in", result.pki_dir / "apiserver.crt", "-noout", "-text").stdout
    assert "ecdsa-with-SHA384" in text
    assert "NIST CURVE: P-384" in text
    assert _openssl("ec", "-in", result.pki_dir / "ca.key", "-check", "-noout").returncode == 0


@pytest.mark.parametrize(("fault", "refusal"), [
    ("leaf-unknown-critical-extension", "unhandled critical extension"),
    ("ca-name-constraints", "permitted subtree violation"),
])
def test_openssl_refuses_the_chains_that_kc_x509_01_fails(reference_copy: Path, key_pool: KeyPool, fault: str,
                                                           refusal: str) -> None:
    """The two chain faults are what a TLS client really refuses, not a quirk of kubecert's validator."""
    apply_fault(reference_copy, fault, keys=key_pool, now=dt.datetime.now(dt.UTC))
    pki = reference_copy / "pki"
    result = _openssl("verify", "-CAfile", pki / "ca.crt", pki / "apiserver.crt")
    assert result.returncode != 0
    assert refusal in result.stdout + result.stderr, result.stdout + result.stderr
    client = _openssl("verify", "-CAfile", pki / "ca.crt", pki / "apiserver-kubelet-client.crt")
    assert client.returncode == 0, client.stdout + client.stderr  # the same CA's other leaves stay good
