"""Each named fault of the reference cluster does what it says, and only when asked for."""

from __future__ import annotations

import socket
import ssl
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

import kubecert
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.kube import FAULTS, ClusterServer, ClusterSpec, ReferenceCluster
from kubecert.reference.kube.cluster import CONTROLPLANE_ONLY_ANNOTATION
from kubecert.reference.pki import PkiTree
from kubecert.reference.pki.kubeconfig import current_cluster, decode_data, parse_kubeconfig

MakeCluster = Callable[..., ReferenceCluster]
Serve = Callable[[ReferenceCluster], ClusterServer]
HttpsFor = Callable[[ReferenceCluster], Any]


def _kubeconfig_ca(path: Path) -> bytes:
    return decode_data(current_cluster(parse_kubeconfig(path.read_bytes()))["certificate-authority-data"])


def _dns(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_every_fault_names_rules_of_the_catalog() -> None:
    catalog = tomllib.loads((Path(kubecert.__file__).parent / "rules" / "catalog.toml").read_text())
    known = {rule["id"] for rule in catalog["rule"]}
    assert len(FAULTS) == 9
    for fault in FAULTS.values():
        assert fault.rules and set(fault.rules) <= known, fault.name


def test_unknown_faults_are_refused_with_the_list(tmp_path: Path) -> None:
    with pytest.raises(ReferenceUsageError, match="unknown fault 'nope'; known faults: kubeconfig-other-ca, "):
        ReferenceCluster.create(tmp_path / "c", faults=("nope",))
    assert not (tmp_path / "c").exists()


def test_kubeconfig_other_ca(make_cluster: MakeCluster, serve: Serve, https_for: HttpsFor) -> None:
    cluster = make_cluster(faults=("kubeconfig-other-ca",))
    server, https = serve(cluster), https_for(cluster)
    written = _kubeconfig_ca(server.admin_kubeconfig)
    assert written != cluster.ca_pem()
    assert x509.load_pem_x509_certificate(written).subject.rfc4514_string() == "CN=kubernetes"
    other = server.admin_kubeconfig.parent / "kubeconfig-ca.crt"
    other.write_bytes(written)
    context = ssl.create_default_context(cafile=str(other))
    with socket.create_connection(("127.0.0.1", server.listeners[0].port), timeout=5) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):  # a client trusting the kubeconfig cannot verify the server
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    root_ca = https.call(server.url, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", client=https.admin())
    assert root_ca.json()["data"]["ca.crt"].encode() == cluster.ca_pem()  # the cluster's own CA, not the kubeconfig's


def test_served_cert_without_service_san(make_cluster: MakeCluster, serve: Serve, https_for: HttpsFor) -> None:
    cluster = make_cluster(faults=("served-cert-without-service-san",))
    server, https = serve(cluster), https_for(cluster)

    def check() -> None:
        for node, url in server.node_urls.items():
            served, on_disk = https.served_certificate(url), PkiTree(cluster.node_trees()[node]).cert("apiserver")
            service = "kubernetes.default.svc.cluster.local"
            assert service not in _dns(served) and service in _dns(on_disk) and node in _dns(served)
            assert set(_dns(on_disk)) - set(_dns(served)) == {service}
            served.verify_directly_issued_by(PkiTree(cluster.node_trees()[node]).cert("ca"))
            assert served.public_key() == on_disk.public_key()

    check()
    cluster.renew()
    check()  # the renewed certificate is served without it too


def test_node_ca_differs(make_cluster: MakeCluster, serve: Serve, https_for: HttpsFor) -> None:
    cluster = make_cluster(faults=("node-ca-differs",))
    trees = {node: PkiTree(root) for node, root in cluster.node_trees().items()}
    assert trees["cp-2"].cert_path("ca").read_bytes() == trees["cp-1"].cert_path("ca").read_bytes()
    assert trees["cp-3"].cert_path("ca").read_bytes() != trees["cp-1"].cert_path("ca").read_bytes()
    assert trees["cp-3"].key_path("ca").read_bytes() != trees["cp-1"].key_path("ca").read_bytes()
    for name in ("front-proxy-ca", "etcd-ca"):  # only the cluster CA differs
        assert trees["cp-3"].cert_path(name).read_bytes() == trees["cp-1"].cert_path(name).read_bytes()
    trees["cp-3"].cert("apiserver").verify_directly_issued_by(trees["cp-3"].cert("ca"))
    server, https = serve(cluster), https_for(cluster)
    https.served_certificate(server.node_urls["cp-3"]).verify_directly_issued_by(trees["cp-3"].cert("ca"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https.call(server.node_urls["cp-3"], "/readyz", client=https.admin())
    assert not (cluster.folder / ".own-ca-source").exists()
    with pytest.raises(ReferenceUsageError, match="creation faults"):
        ReferenceCluster(cluster.folder)  # the trees were shaped by it: it cannot be dropped on reopening


def test_node_ca_differs_needs_a_second_node(tmp_path: Path) -> None:
    with pytest.raises(ReferenceUsageError, match="at least 2 control-plane nodes"):
        ReferenceCluster.create(tmp_path / "c", ClusterSpec(control_planes=1), faults=("node-ca-differs",))


def test_renewal_skips_node(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(faults=("renewal-skips-node",))
    trees = {node: PkiTree(root) for node, root in cluster.node_trees().items()}
    before = {node: tree.cert_path("apiserver").read_bytes() for node, tree in trees.items()}
    renewal = cluster.renew()
    assert renewal.skipped == ("cp-3",)
    assert trees["cp-3"].cert_path("apiserver").read_bytes() == before["cp-3"]
    assert trees["cp-1"].cert_path("apiserver").read_bytes() != before["cp-1"]
    assert trees["cp-2"].cert_path("apiserver").read_bytes() != before["cp-2"]


@pytest.mark.parametrize("how", ["argument", "annotation"])
def test_workers_replaced_under_annotation(make_cluster: MakeCluster, how: str) -> None:
    cluster = make_cluster(faults=("workers-replaced-under-annotation",))
    workers = {n.name: n.uid for n in cluster.nodes() if not n.control_plane}
    if how == "annotation":
        cluster.annotate(CONTROLPLANE_ONLY_ANNOTATION, "true")
    assert cluster.renew(controlplane_only=how == "argument").workers_replaced
    after = {n.name: n.uid for n in cluster.nodes() if not n.control_plane}
    assert after.keys() == workers.keys()
    assert not set(after.values()) & set(workers.values())


def test_root_ca_configmap_differs(make_cluster: MakeCluster, serve: Serve, https_for: HttpsFor) -> None:
    cluster = make_cluster(faults=("root-ca-configmap-differs",))
    server, https = serve(cluster), https_for(cluster)
    listing = https.call(server.url, "/api/v1/configmaps?fieldSelector=metadata.name%3Dkube-root-ca.crt",
                         client=https.admin()).json()
    published = {item["metadata"]["namespace"]: item["data"]["ca.crt"].encode() for item in listing["items"]}
    assert len(published) == 5
    assert all(pem != cluster.ca_pem() for pem in published.values())
    assert len(set(published.values())) == 1
    assert _kubeconfig_ca(server.admin_kubeconfig) == cluster.ca_pem()  # the kubeconfig is right; the ConfigMap is not


def test_control_plane_node_out_of_reach(make_cluster: MakeCluster, serve: Serve, https_for: HttpsFor) -> None:
    cluster = make_cluster(faults=("control-plane-node-out-of-reach",))
    server, https = serve(cluster), https_for(cluster)
    listed = https.call(server.url, "/api/v1/nodes", client=https.admin()).json()["items"]
    control_plane = [n["metadata"]["name"] for n in listed
                     if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]]
    assert control_plane == ["cp-1", "cp-2", "cp-3", "cp-4"]
    assert list(cluster.node_trees()) == ["cp-1", "cp-2", "cp-3"]  # no files behind the fourth
    single = https.call(server.url, "/api/v1/nodes/cp-4", client=https.admin()).json()
    assert single["metadata"]["uid"] == next(n for n in listed if n["metadata"]["name"] == "cp-4")["metadata"]["uid"]
