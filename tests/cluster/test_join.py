"""``join_control_plane`` writes a further control-plane node as ``kubeadm join --control-plane`` does:
the cluster's CAs and service-account keys byte for byte, everything else its own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki import InitOptions, KeyPool, PkiTree, init_pki
from kubecert.reference.pki.join import join_control_plane, shared_files

from support import judge, not_passing

FIRST = InitOptions(node_name="cp-1", advertise_address="10.0.0.10", key_algorithm="ECDSA-P256")
SECOND = InitOptions(node_name="cp-2", advertise_address="10.0.0.11", key_algorithm="ECDSA-P256")


@pytest.fixture
def nodes(tmp_path: Path, key_pool: KeyPool) -> tuple[PkiTree, PkiTree, tuple[str, ...]]:
    now = dt.datetime.now(dt.UTC)
    init_pki(tmp_path / "cp-1", FIRST, keys=key_pool, now=now)
    joined = join_control_plane(tmp_path / "cp-2", tmp_path / "cp-1", SECOND, keys=key_pool, now=now)
    return PkiTree(tmp_path / "cp-1"), PkiTree(tmp_path / "cp-2"), joined.log


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_cas_and_service_account_keys_are_copied_byte_for_byte(nodes: tuple[PkiTree, PkiTree, tuple[str, ...]]
                                                               ) -> None:
    first, second, log = nodes
    copied = shared_files(first, external_etcd=False)
    assert len(copied) == 8  # three CAs with their keys, sa.key, sa.pub
    for path in copied:
        twin = second.root / path.relative_to(first.root)
        assert twin.read_bytes() == path.read_bytes(), twin
        assert stat.S_IMODE(twin.stat().st_mode) == stat.S_IMODE(path.stat().st_mode), twin
    assert "[certs] Using existing ca certificate authority" in log
    assert '[certs] Using the existing "sa" key' in log


def test_leaves_are_the_joining_nodes_own(nodes: tuple[PkiTree, PkiTree, tuple[str, ...]]) -> None:
    first, second, _ = nodes
    ca = second.cert("ca")
    for spec in layout.LEAVES:
        mine, theirs = second.cert(spec.name), first.cert(spec.name)
        assert mine.serial_number != theirs.serial_number, spec.name
        mine.verify_directly_issued_by(second.cert(spec.ca or ""))
    dns, ips = _sans(second.cert("apiserver"))
    assert "cp-2" in dns and "cp-1" not in dns
    assert "10.0.0.11" in ips and "10.0.0.10" not in ips
    assert second.cert("etcd-server").subject.rfc4514_string() == "CN=cp-2"
    assert _sans(second.cert("etcd-peer")) == ({"cp-2", "localhost"}, {"10.0.0.11", "127.0.0.1", "::1"})
    client, _key = second.kubeconfig_client("admin.conf")
    client.verify_directly_issued_by(ca)
    assert client.serial_number != first.kubeconfig_client("admin.conf")[0].serial_number


def test_kubeconfigs_and_manifests_are_for_the_joining_node(nodes: tuple[PkiTree, PkiTree, tuple[str, ...]]) -> None:
    _, second, _ = nodes
    present = {spec.name for spec in layout.KUBECONFIGS if second.kubeconfig_path(spec.name).exists()}
    assert present == {"admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"}
    assert second.node_name() == "cp-2"
    apiserver = yaml.safe_load((second.manifests_dir / "kube-apiserver.yaml").read_text())
    assert "--advertise-address=10.0.0.11" in apiserver["spec"]["containers"][0]["command"]
    etcd = yaml.safe_load((second.manifests_dir / "etcd.yaml").read_text())
    assert "--name=cp-2" in etcd["spec"]["containers"][0]["command"]


def test_a_joined_node_passes_every_static_rule(nodes: tuple[PkiTree, PkiTree, tuple[str, ...]]) -> None:
    _, second, _ = nodes
    assert not_passing(judge(second.root)) == {}


def test_a_cluster_endpoint_and_extra_sans_reach_the_joined_apiserver_certificate(tmp_path: Path,
                                                                                 key_pool: KeyPool) -> None:
    now = dt.datetime.now(dt.UTC)
    first = dataclasses.replace(FIRST, control_plane_endpoint="127.0.0.1:6443", cert_sans=("localhost",))
    init_pki(tmp_path / "a", first, keys=key_pool, now=now)
    second = dataclasses.replace(first, node_name="cp-2", advertise_address="10.0.0.11")
    join_control_plane(tmp_path / "b", tmp_path / "a", second, keys=key_pool, now=now)
    dns, ips = _sans(PkiTree(tmp_path / "b").cert("apiserver"))
    assert {"localhost", "cp-2"} <= dns
    assert ipaddress.ip_address("127.0.0.1") in {ipaddress.ip_address(ip) for ip in ips}


def test_joining_needs_the_cluster_ca_keys(tmp_path: Path, key_pool: KeyPool) -> None:
    external = InitOptions(key_algorithm="ECDSA-P256", external_ca=("ca",))
    init_pki(tmp_path / "cp-1", external, keys=key_pool, now=dt.datetime.now(dt.UTC))
    with pytest.raises(ReferenceUsageError, match=r"lacks pki/ca\.key"):
        join_control_plane(tmp_path / "cp-2", tmp_path / "cp-1", SECOND, keys=key_pool, now=dt.datetime.now(dt.UTC))
    assert not (tmp_path / "cp-2").exists()


def test_joining_refuses_a_folder_that_is_not_empty(tmp_path: Path, key_pool: KeyPool) -> None:
    now = dt.datetime.now(dt.UTC)
    init_pki(tmp_path / "cp-1", FIRST, keys=key_pool, now=now)
    (tmp_path / "cp-2").mkdir()
    (tmp_path / "cp-2" / "leftover").write_text("x")
    with pytest.raises(ReferenceUsageError, match="not an empty directory"):
        join_control_plane(tmp_path / "cp-2", tmp_path / "cp-1", SECOND, keys=key_pool, now=now)
