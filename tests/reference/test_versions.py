"""``init --kubernetes-version``: subjects, kubeconfigs, dates (at issuance and after renewal), manifests and the
listing of each kubeadm release the reference stands for (v1.28 and later)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kubecert import cli as kubecert_cli
from kubecert.reference.pki import (
    FreshKeys,
    InitOptions,
    InitResult,
    KeyPool,
    PkiTree,
    ReferenceUsageError,
    check_expiration,
    init_pki,
    render,
    renew,
)

from support import judge, not_passing

DAY = dt.timedelta(days=1)
BACKDATE = dt.timedelta(minutes=5)
MASTERS, ADMINS = ("system:masters",), ("kubeadm:cluster-admins",)
OPENSSL = shutil.which("openssl")
Node = Callable[..., InitResult]

SUBJECTS = {  # O of each certificate or kubeconfig whose O changed, by release
    "v1.28.7": {"admin.conf": MASTERS, "apiserver-kubelet-client": MASTERS, "apiserver-etcd-client": MASTERS,
                "etcd-healthcheck-client": MASTERS},
    "v1.29.3": {"admin.conf": ADMINS, "super-admin.conf": MASTERS, "apiserver-kubelet-client": ADMINS,
                "apiserver-etcd-client": (), "etcd-healthcheck-client": ()},
    "v1.30.2": {"admin.conf": ADMINS, "super-admin.conf": MASTERS, "apiserver-kubelet-client": ADMINS,
                "apiserver-etcd-client": (), "etcd-healthcheck-client": ()},
}


def _orgs(cert: x509.Certificate) -> tuple[str, ...]:
    return tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))


def _certificate(tree: PkiTree, name: str) -> x509.Certificate:
    return tree.kubeconfig_client(name)[0] if name.endswith(".conf") else tree.cert(name)


@pytest.mark.parametrize("version", list(SUBJECTS))
def test_subjects_and_super_admin_by_release(reference_node: Node, version: str) -> None:
    result = reference_node(kubernetes_version=version)
    tree = result.tree
    for name, orgs in SUBJECTS[version].items():
        assert _orgs(_certificate(tree, name)) == orgs, name
    assert (result.root / "super-admin.conf").exists() == (version != "v1.28.7")
    assert ('[kubeconfig] Writing "super-admin.conf" kubeconfig file' in result.log) == (version != "v1.28.7")
    image = yaml.safe_load((result.root / "manifests/kube-apiserver.yaml").read_text())["spec"]["containers"][0]
    assert image["image"] == f"registry.k8s.io/kube-apiserver:{version}"


@pytest.mark.parametrize("version", list(SUBJECTS))
def test_up_to_v1_30_kubeconfig_keys_are_rsa_2048(tmp_path: Path, key_pool: KeyPool, version: str) -> None:
    """kubeadm issue 3072: kubeconfig keys ignored the cluster's ECDSA choice until v1.31; the certificates did not."""
    result = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P256", kubernetes_version=version),
                      keys=key_pool, now=dt.datetime.now(dt.UTC))
    tree = result.tree
    for name in ("admin.conf", "controller-manager.conf", "scheduler.conf"):
        key = tree.kubeconfig_client(name)[0].public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048, name
    assert not isinstance(tree.cert("apiserver").public_key(), rsa.RSAPublicKey)
    assert tree.key_path("apiserver").read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")


def test_v1_31_kubeconfig_keys_follow_the_cluster(tmp_path: Path, key_pool: KeyPool) -> None:
    tree = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool,
                    now=dt.datetime.now(dt.UTC)).tree
    assert not isinstance(tree.kubeconfig_client("admin.conf")[0].public_key(), rsa.RSAPublicKey)


def _aged(root: Path, version: str, made: dt.datetime) -> PkiTree:
    init_pki(root, InitOptions(key_algorithm="ECDSA-P256", kubernetes_version=version), keys=FreshKeys(), now=made)
    return PkiTree(root)


@pytest.mark.parametrize(("version", "starts_with_ca"), [("v1.28.7", True), ("v1.30.2", True), ("v1.31.0", False)])
def test_not_before_at_issuance_and_after_renewal(tmp_path: Path, version: str, starts_with_ca: bool) -> None:
    """Up to v1.30 a leaf keeps its CA's NotBefore, also after renew (only NotAfter moves to renewal + 365 d);
    from v1.31 NotBefore is the signing time − 5 minutes."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = now - 100 * DAY
    tree = _aged(tmp_path / "k", version, made)
    ca = tree.cert("ca")
    assert ca.not_valid_before_utc == made - BACKDATE  # every supported release backdates its CAs
    assert tree.cert("apiserver").not_valid_before_utc == ca.not_valid_before_utc
    result = renew(tree.root, "all", keys=FreshKeys(), now=now)
    assert any("super-admin" in line for line in result.log) == (version != "v1.28.7")
    for name in ("apiserver", "etcd-server", "front-proxy-client", "admin.conf", "scheduler.conf"):
        cert = _certificate(tree, name)
        assert cert.not_valid_after_utc == now + 365 * DAY, name
        expected = ca.not_valid_before_utc if starts_with_ca else now - BACKDATE
        assert cert.not_valid_before_utc == expected, name
    assert tree.cert("ca") == ca


def test_renewed_v1_28_tree_passes_every_rule(tmp_path: Path) -> None:
    """A leaf of kubeadm v1.28 renewed 100 days after init is valid 465 days from its NotBefore: kubecert judges
    leaf_days from issuance, so the real shape passes."""
    now = dt.datetime.now(dt.UTC)
    tree = _aged(tmp_path / "k", "v1.28.7", now - 100 * DAY)
    renew(tree.root, "all", keys=FreshKeys(), now=now)
    assert not_passing(judge(tree.root)) == {}


@pytest.mark.parametrize("version", ["v1.28.7", "v1.29.3"])
def test_check_expiration_before_v1_30_is_text_only(reference_node: Node, version: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = reference_node(kubernetes_version=version).root
    code = kubecert_cli.main(["reference", "pki", "check-expiration", "--dir", str(root), "-o", "json"])
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    assert f"kubeadm {version} (the tree's kube-apiserver manifest) prints check-expiration as text only" in err
    assert kubecert_cli.main(["reference", "pki", "check-expiration", "--dir", str(root)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("CERTIFICATE ")
    assert ("super-admin.conf" in text) == (version != "v1.28.7")  # v1.28 knows no super-admin.conf


def test_check_expiration_of_v1_30_has_json(reference_node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    root = reference_node(kubernetes_version="v1.30.2").root
    assert kubecert_cli.main(["reference", "pki", "check-expiration", "--dir", str(root), "-o", "json"]) == 0
    assert '"kind": "CertificateExpirationInfo"' in capsys.readouterr().out


def test_v1_28_listing_has_no_super_admin_row(reference_node: Node) -> None:
    result = reference_node(kubernetes_version="v1.28.7")
    info = check_expiration(result.root, now=dt.datetime.now(dt.UTC))
    names = [row.name for row in info.certificates]
    assert "super-admin.conf" not in names and "admin.conf" in names
    assert "MISSING" not in render(info)


@pytest.mark.parametrize("version", list(SUBJECTS))
def test_each_release_passes_every_rule(reference_node: Node, version: str) -> None:
    assert not_passing(judge(reference_node(kubernetes_version=version).root)) == {}


@pytest.mark.parametrize(("options", "words"), [
    (InitOptions(kubernetes_version="v1.27.16"), "older than the reference writes: v1.28.0 and later"),
    (InitOptions(kubernetes_version="1.31"), "not of the form v1.MINOR.PATCH"),
    (InitOptions(kubernetes_version="v1.30.2", key_algorithm="RSA-3072"), "kubeadm v1.30.2 cannot make RSA-3072"),
    (InitOptions(kubernetes_version="v1.28.7", key_algorithm="ECDSA-P384"), "it makes RSA-2048, ECDSA-P256"),
])
def test_releases_the_reference_cannot_stand_for_are_refused(tmp_path: Path, key_pool: KeyPool, options: InitOptions,
                                                              words: str) -> None:
    with pytest.raises(ReferenceUsageError, match=words):
        init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC))
    assert not (tmp_path / "k").exists()


def test_four_static_pod_manifests(reference_tree: InitResult) -> None:
    manifests = reference_tree.root / "manifests"
    assert sorted(p.name for p in manifests.iterdir()) == [
        "etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]
    pod = yaml.safe_load((manifests / "kube-scheduler.yaml").read_text())
    container = pod["spec"]["containers"][0]
    assert container["image"] == "registry.k8s.io/kube-scheduler:v1.31.0"
    assert container["command"] == [
        "kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=127.0.0.1",
        "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"]
    assert pod["spec"]["volumes"] == [
        {"hostPath": {"path": "/etc/kubernetes/scheduler.conf", "type": "FileOrCreate"}, "name": "kubeconfig"}]
    assert '[control-plane] Creating static Pod manifest for "kube-scheduler"' in reference_tree.log


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_openssl_reads_v1_28_subjects(reference_node: Node) -> None:
    pki = reference_node(kubernetes_version="v1.28.7").pki_dir
    for name in ("apiserver-kubelet-client", "apiserver-etcd-client", "etcd/healthcheck-client"):
        subject = subprocess.run([OPENSSL or "openssl", "x509", "-in", str(pki / f"{name}.crt"), "-noout", "-subject",
                                  "-nameopt", "RFC2253"], capture_output=True, text=True, check=True).stdout
        assert subject.startswith("subject=CN=") and subject.rstrip().endswith(",O=system:masters"), subject
