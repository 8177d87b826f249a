"""Trees real clusters hold besides the default one: each passes every rule that applies to it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from kubecert.inventory.facts import NodeFacts
from kubecert.reference.pki import InitOptions, InitResult, KeyPool, init_pki
from kubecert.rules import Status

from support import judge, not_passing, result_for, run_check


def _init(tmp_path: Path, key_pool: KeyPool, **options: object) -> Path:
    root = tmp_path / "kubernetes"
    init_pki(root, InitOptions(**options), keys=key_pool, now=dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    return root


def test_external_ca_is_recognized_and_its_leaves_left_alone(tmp_path: Path, key_pool: KeyPool) -> None:
    root = _init(tmp_path, key_pool, external_ca=("ca",))
    assert not (root / "pki/ca.key").exists()
    verdicts = judge(root)
    assert not_passing(verdicts) == {}
    assert "externally managed" in verdicts["KC-EXT-01"].message
    external = next(f for f in verdicts["KC-EXT-01"].findings if f.subject == "ca")
    assert external.evidence["externally_managed"] is True
    assert "apiserver" in external.evidence["outside_renewal"]


def test_external_etcd_declared_expects_no_etcd_certificates(tmp_path: Path, key_pool: KeyPool) -> None:
    root = _init(tmp_path, key_pool, external_etcd=True)
    assert not_passing(judge(root, facts=NodeFacts.declared({'external_etcd': True}, where='test'))) == {}
    undeclared = not_passing(judge(root))
    assert sorted(undeclared) == ["KC-INV-01", "KC-INV-02"]  # without the declaration, etcd's files are missing


def test_secondary_control_plane_node_without_super_admin(tmp_path: Path, key_pool: KeyPool) -> None:
    root = _init(tmp_path, key_pool, super_admin=False)
    verdicts = judge(root)
    assert not_passing(verdicts) == {}
    assert "super-admin.conf: absent (optional" in verdicts["KC-INV-03"].message


def test_pkcs8_keys_are_read_like_kubeadm_s_own(reference_copy: Path) -> None:
    for path in (reference_copy / "pki").rglob("*.key"):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    verdicts = judge(reference_copy)
    assert not_passing(verdicts) == {}
    assert verdicts["KC-X509-05"].status is Status.PASSED


def test_service_range_comes_from_the_apiserver_manifest(tmp_path: Path, key_pool: KeyPool) -> None:
    root = _init(tmp_path, key_pool, service_cidr="10.233.0.0/18", key_algorithm="ECDSA-P384")
    verdicts = judge(root)
    assert not_passing(verdicts) == {}
    apiserver = verdicts["KC-ID-02"].findings[0]
    assert "10.233.0.1" in apiserver.evidence["ip_sans"]
    # a user declaration does not override what the node's manifest says
    assert not_passing(judge(root, facts=NodeFacts.declared({"service_cidr": "10.96.0.0/12"}, where="test"))) == {}


def test_an_external_ca_names_only_the_certificates_the_node_holds(reference_copy: Path) -> None:
    """Before v1.29 (and on every node but the first) there is no super-admin.conf: the external CA's evidence
    names what is there to leave outside renewal, nothing the node does not hold."""
    (reference_copy / "pki" / "ca.key").unlink()
    (reference_copy / "super-admin.conf").unlink()
    external = next(f for f in judge(reference_copy)["KC-EXT-01"].findings if f.subject == "ca")
    assert external.evidence["outside_renewal"] == ["apiserver", "apiserver-kubelet-client", "admin.conf",
                                                    "controller-manager.conf", "scheduler.conf"]
    assert "super-admin.conf" not in external.message


@pytest.mark.parametrize(("endpoint", "host", "kind"), [
    ("k8s-api.example.internal:6443", "k8s-api.example.internal", "dns_sans"),
    ("10.0.0.100:6443", "10.0.0.100", "ip_sans"),
])
def test_the_control_plane_endpoint_the_kubeconfigs_dial_is_among_the_apiserver_sans(
        tmp_path: Path, key_pool: KeyPool, endpoint: str, host: str, kind: str) -> None:
    """kubeadm init --control-plane-endpoint: admin.conf and kubelet.conf dial it, and the apiserver names it."""
    root = _init(tmp_path, key_pool, control_plane_endpoint=endpoint)
    verdicts = judge(root)
    assert not_passing(verdicts) == {}
    apiserver = verdicts["KC-ID-02"].findings[0]
    assert host in apiserver.evidence[kind]
    assert apiserver.evidence["expected"][host] == f"control-plane endpoint {endpoint} (admin.conf server)"


def test_a_declared_control_plane_endpoint_is_required_where_no_kubeconfig_dials_one(reference_copy: Path) -> None:
    """Every kubeconfig of the reference dials the node's own address: the endpoint is the user's to give."""
    assert "expected" in judge(reference_copy)["KC-ID-02"].findings[0].evidence
    declared = NodeFacts.declared({"control_plane_endpoint": "lb.example.internal:6443"}, where="test")
    verdict = judge(reference_copy, facts=declared)["KC-ID-02"]
    assert verdict.status is Status.FAILED
    assert ("SANs lack lb.example.internal (control-plane endpoint lb.example.internal:6443 (declared by the "
            "user))") in verdict.message
    same = NodeFacts.declared({"control_plane_endpoint": "10.0.0.10:6443"}, where="test")  # the node's own
    assert judge(reference_copy, facts=same)["KC-ID-02"].status is Status.PASSED


def test_an_endpoint_no_readable_kubeconfig_could_say_is_unknown_not_assumed_absent(
        tmp_path: Path, key_pool: KeyPool) -> None:
    root = _init(tmp_path, key_pool, control_plane_endpoint="k8s-api.example.internal:6443")
    (root / "super-admin.conf").unlink()
    for name in ("admin.conf", "kubelet.conf"):
        (root / name).write_text("#" * (2 << 20))  # past kubecert's 1 MiB bound: not read
    verdict = judge(root)["KC-ID-02"]
    assert verdict.status is Status.ERROR
    assert "node fact control_plane_endpoint: not evaluated: admin.conf server is unknown" in verdict.message


def test_the_endpoint_option_and_profile_fact_reach_the_rule(tmp_path: Path, reference_tree: InitResult) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    run, report = run_check(tmp_path, "--target", target, "--rule", "KC-ID-02",
                            "--control-plane-endpoint", "[fd00::100]:6443")
    assert run.returncode == 1 and "fd00::100 (control-plane endpoint [fd00::100]:6443 (declared by the user))" in \
        result_for(report, "KC-ID-02")["message"]
    profile = tmp_path / "site.yaml"
    profile.write_text("extends: kubeadm\ncontrol_plane_endpoint: 10.0.0.10:6443\n")
    run, report = run_check(tmp_path, "--target", target, "--rule", "KC-ID-02", "--profile", str(profile))
    assert run.returncode == 0, result_for(report, "KC-ID-02")["message"]
