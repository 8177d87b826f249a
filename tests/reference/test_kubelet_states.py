"""The first control-plane node's kubelet in each state ``init --kubelet-state`` writes: the files, modes, links,
serials, keys and dates real kubeadm and the kubelet leave, and how today's rules judge them.

KC-KLT-02 judges kubeadm's own first kubelet certificate (signed at init, copied by the kubelet) as kubeadm's leaf,
not by --cluster-signing-duration, which bounds only what the CSR signer issues: every state but ``fresh`` passes
every rule once kubelet-finalize has run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import audit
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubecert import layout
from kubecert.inventory import load_pki
from kubecert.reference.pki import InitOptions, InitResult, KeyPool, PkiTree, apply_fault, cert_pem, init_pki
from kubecert.reference.pki.kubeconfig import current_user
from kubecert.reference.pki.kubelet import KubeletTree
from kubecert.rules import Status

from support import judge, not_passing

DAY = dt.timedelta(days=1)
BACKDATE = dt.timedelta(minutes=5)
ROTATED_POINTERS = {"client-certificate": layout.KUBELET_ROTATED_CLIENT, "client-key": layout.KUBELET_ROTATED_CLIENT}
OPENSSL = shutil.which("openssl")
Node = Callable[..., InitResult]


def _embedded(result: InitResult) -> x509.Certificate:
    cert, key = result.tree.kubeconfig_client("kubelet.conf")
    assert key.public_key() == cert.public_key()
    return cert


def _dated(result: InitResult) -> list[Path]:
    folder = result.root / "kubelet" / "pki"
    return sorted(p for p in folder.iterdir() if layout.DATED_PEM.fullmatch(p.name)) if folder.is_dir() else []


def _usage(cert: x509.Certificate) -> tuple[bool, bool]:
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    return usage.digital_signature, usage.key_encipherment


def _assert_kubeadms_kubelet_certificate(cert: x509.Certificate, result: InitResult, key_size: int = 2048) -> None:
    """What kubeadm's kubeconfig phase signs for kubelet.conf: the cluster CA's leaf for system:node:<node>."""
    ca = result.tree.cert("ca")
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=system:node:cp-1,O=system:nodes"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert _usage(cert) == (True, True)  # kubeadm asks keyEncipherment of every key
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == key_size
    assert cert.not_valid_before_utc == ca.not_valid_before_utc == result.now - BACKDATE
    assert cert.not_valid_after_utc == result.now + 365 * DAY  # 365 d + the CA's backdate from its NotBefore


def test_fresh_the_kubelet_has_not_run(reference_node: Node) -> None:
    result = reference_node(kubelet_state="fresh")
    assert sorted(p.name for p in (result.root / "kubelet").iterdir()) == ["config.yaml"]  # no pki folder yet
    assert list(current_user(result.tree.kubeconfig("kubelet.conf"))) == ["client-certificate-data",
                                                                           "client-key-data"]
    _assert_kubeadms_kubelet_certificate(_embedded(result), result)
    assert not any(line.startswith("[kubelet-finalize]") for line in result.log)
    assert Path("kubelet/pki/kubelet-client-current.pem") not in result.written


def test_started_the_store_keeps_kubeadms_certificate_behind_an_absolute_link(reference_node: Node) -> None:
    result = reference_node(kubelet_state="started")
    embedded = _embedded(result)  # kubelet.conf still embeds it
    [dated] = _dated(result)
    assert dated.name == layout.dated_pem("client", result.now)
    assert stat.S_IMODE(dated.stat().st_mode) == 0o600
    current = result.root / "kubelet/pki/kubelet-client-current.pem"
    assert os.readlink(current) == f"/var/lib/kubelet/pki/{dated.name}"
    data = dated.read_bytes()
    assert data.count(b"-----BEGIN CERTIFICATE-----") == 1 and b"-----BEGIN RSA PRIVATE KEY-----" in data
    stored = x509.load_pem_x509_certificate(data)
    assert stored == embedded and stored.serial_number == embedded.serial_number
    assert KubeletTree(result.root).current("client")[0] == embedded  # the link read in the copy, not the host
    _assert_kubeadms_kubelet_certificate(stored, result)
    pki = result.root / "kubelet/pki"
    assert sorted(p.name for p in pki.iterdir()) == sorted([dated.name, current.name, "kubelet.crt", "kubelet.key"])


def test_finalized_kubelet_conf_points_at_the_store(reference_node: Node) -> None:
    result = reference_node(kubelet_state="finalized")
    assert current_user(result.tree.kubeconfig("kubelet.conf")) == ROTATED_POINTERS
    [dated] = _dated(result)
    stored = x509.load_pem_x509_certificate(dated.read_bytes())
    _assert_kubeadms_kubelet_certificate(stored, result)
    assert os.readlink(result.root / "kubelet/pki/kubelet-client-current.pem") == f"/var/lib/kubelet/pki/{dated.name}"
    finalize = [line for line in result.log if line.startswith("[kubelet-finalize]")]
    assert finalize == [f'[kubelet-finalize] Updating "{result.root / "kubelet.conf"}" to point to a rotatable '
                        "kubelet client certificate and key"]


def test_rotated_the_signers_ecdsa_certificate_has_no_key_encipherment(reference_tree: InitResult) -> None:
    """The default state: the CSR signer's certificate for the kubelet's own P-256 key, for the usages client-go
    asks an ECDSA key (digitalSignature, clientAuth), a year long."""
    assert reference_tree.options.kubelet_state == "rotated"
    assert current_user(reference_tree.tree.kubeconfig("kubelet.conf")) == ROTATED_POINTERS
    [dated] = _dated(reference_tree)
    cert = x509.load_pem_x509_certificate(dated.read_bytes())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert _usage(cert) == (True, False)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=8760)
    assert os.readlink(reference_tree.root / "kubelet/pki/kubelet-client-current.pem") == dated.name


@pytest.mark.parametrize(("version", "key_size", "curve"), [("v1.31.0", None, "secp256r1"), ("v1.30.2", 2048, None)])
def test_kubelet_conf_key_follows_the_release(tmp_path: Path, key_pool: KeyPool, version: str, key_size: int | None,
                                              curve: str | None) -> None:
    """An ECDSA-P256 cluster: kubeadm v1.31 gives kubelet.conf an ECDSA key; up to v1.30 kubeconfig keys are RSA-2048
    whatever the key type (kubeadm issue 3072)."""
    options = InitOptions(key_algorithm="ECDSA-P256", kubernetes_version=version, kubelet_state="started")
    result = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC))
    public = _embedded(result).public_key()
    if curve is not None:
        assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == curve
    else:
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == key_size
    stored = x509.load_pem_x509_certificate(_dated(result)[0].read_bytes())
    assert stored == _embedded(result)


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
@pytest.mark.parametrize("state", ["started", "finalized"])
def test_openssl_reads_the_store_as_kubeadms_certificate(reference_node: Node, state: str, tmp_path: Path) -> None:
    result = reference_node(kubelet_state=state)
    [dated] = _dated(result)
    ca = result.pki_dir / "ca.crt"

    def openssl(*args: str | Path) -> str:
        done = subprocess.run([OPENSSL or "openssl", *map(str, args)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert openssl("verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", ca, dated).strip() == f"{dated}: OK"
    serial = int(openssl("x509", "-in", dated, "-noout", "-serial").strip().removeprefix("serial="), 16)
    assert serial == x509.load_pem_x509_certificate(dated.read_bytes()).serial_number
    if state == "started":
        assert serial == _embedded(result).serial_number
    assert openssl("rsa", "-in", dated, "-check", "-noout").strip() == "RSA key ok"
    text = openssl("x509", "-in", dated, "-noout", "-text")
    assert "Digital Signature, Key Encipherment" in text and "TLS Web Client Authentication" in text


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_openssl_sees_no_key_encipherment_on_the_rotated_certificate(reference_tree: InitResult) -> None:
    [dated] = _dated(reference_tree)
    text = subprocess.run([OPENSSL or "openssl", "x509", "-in", str(dated), "-noout", "-ext", "keyUsage"],
                          capture_output=True, text=True, check=True).stdout
    assert "Digital Signature" in text and "Key Encipherment" not in text


@pytest.mark.parametrize("state", ["started", "finalized"])
def test_kubecert_reads_the_absolute_link_as_the_copys_own_file(reference_node: Node, state: str) -> None:
    result = reference_node(kubelet_state=state)
    folder = load_pki(result.pki_dir, kubelet_dir=result.root / "kubelet").kubelet
    assert folder is not None and folder.client is not None and folder.client_link is not None
    assert folder.client.path == str(_dated(result)[0])
    assert folder.client.serial == x509.load_pem_x509_certificate(_dated(result)[0].read_bytes()).serial_number


def test_a_kubelet_fault_on_a_started_node_stays_in_its_copy(reference_node: Node, key_pool: KeyPool,
                                                              tmp_path: Path) -> None:
    """The kubelet's link names /var/lib/kubelet/pki: re-issuing the client certificate of a copy replaces the copy's
    file and keeps the kubelet's absolute link, and touches nothing of the machine's."""
    root = tmp_path / "kubernetes"
    shutil.copytree(reference_node(kubelet_state="started").root, root, symlinks=True)
    old = _dated_names(root)
    with audit.guard() as seen:
        apply_fault(root, "kubelet-client-not-rotated", keys=key_pool, now=dt.datetime.now(dt.UTC))
    assert seen.writes_outside([root]) == []
    [new] = _dated_names(root)
    assert new not in old  # the old file was replaced, in the copy
    assert os.readlink(root / "kubelet/pki/kubelet-client-current.pem") == f"/var/lib/kubelet/pki/{new}"


def _dated_names(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "kubelet/pki").iterdir() if layout.DATED_PEM.fullmatch(p.name))


# --- how today's rules judge each state (the table in the report; README's reference section)


def test_fresh_fails_kubelet_conf_pointer_as_a_true_finding(reference_node: Node) -> None:
    """Before the kubelet runs, kubelet.conf embeds kubeadm's certificate: kubelet-finalize has not run yet, which
    KC-KCFG-03 says. The kubelet's own files do not exist yet; the KC-KLT rules' verdicts on that are theirs."""
    found = not_passing(judge(reference_node(kubelet_state="fresh").root))
    assert {rule for rule in found if not rule.startswith("KC-KLT-")} == {"KC-KCFG-03"}, found
    assert "embeds client-certificate-data" in found["KC-KCFG-03"]


def test_started_fails_only_kubelet_conf_pointer(reference_node: Node) -> None:
    found = not_passing(judge(reference_node(kubelet_state="started").root))
    assert set(found) == {"KC-KCFG-03"}, found


def test_finalized_and_rotated_pass_every_rule(reference_node: Node, reference_tree: InitResult) -> None:
    assert not_passing(judge(reference_node(kubelet_state="finalized").root)) == {}
    assert not_passing(judge(reference_tree.root)) == {}


@pytest.mark.parametrize("state", ["started", "finalized"])
def test_kc_klt_02_passes_kubeadms_first_kubelet_certificate(reference_node: Node, state: str) -> None:
    verdict = judge(reference_node(kubelet_state=state).root)["KC-KLT-02"]
    assert verdict.status is Status.PASSED, verdict.message


def test_kubelet_states_are_for_the_first_control_plane_node(tmp_path: Path, key_pool: KeyPool) -> None:
    from kubecert.reference.pki import ReferenceUsageError
    from kubecert.reference.pki.join import join_control_plane
    from kubecert.reference.pki.worker import join_worker

    with pytest.raises(ReferenceUsageError, match="unknown kubelet state 'booted'"):
        init_pki(tmp_path / "a", InitOptions(kubelet_state="booted"), keys=key_pool, now=dt.datetime.now(dt.UTC))
    with pytest.raises(ReferenceUsageError, match="bootstraps through the cluster's CSR signer"):
        join_worker(tmp_path / "w", InitOptions(kubelet_state="started"), keys=key_pool, now=dt.datetime.now(dt.UTC))
    first = init_pki(tmp_path / "cp1", InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool,
                     now=dt.datetime.now(dt.UTC))
    with pytest.raises(ReferenceUsageError, match="bootstraps through the cluster's CSR signer"):
        join_control_plane(tmp_path / "cp2", first.root, InitOptions(kubelet_state="fresh"), keys=key_pool,
                           now=dt.datetime.now(dt.UTC))
    assert not (tmp_path / "a").exists() and not (tmp_path / "w").exists() and not (tmp_path / "cp2").exists()


def test_every_key_of_a_started_node_is_distinct(reference_node: Node) -> None:
    result = reference_node(kubelet_state="started")
    tree = PkiTree(result.root)
    assert len(tree.public_keys()) == 10 + 1 + 5  # certificates, sa, every kubeconfig's embedded key
    assert cert_pem(_embedded(result)) in _dated(result)[0].read_bytes()
