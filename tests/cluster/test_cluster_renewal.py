"""Renewing the reference cluster: ``kubeadm certs renew all`` on every control-plane node, the API
servers restarted on the new certificates, and the worker Node objects kept or repaved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from http.client import HTTPSConnection
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from kubecert.reference.kube import ClusterServer, ClusterSpec, ReferenceCluster
from kubecert.reference.kube.cluster import CONTROLPLANE_ONLY_ANNOTATION
from kubecert.reference.pki import KeyPool, PkiTree, PrivateKey


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _workers(cluster: ReferenceCluster) -> dict[str, tuple[str, dt.datetime]]:
    return {n.name: (n.uid, n.created_at) for n in cluster.nodes() if not n.control_plane}


def test_renewal_serves_new_certificates_that_chain_to_the_same_ca(served: ClusterServer, https,
                                                                   cluster: ReferenceCluster) -> None:
    before = {node: https.served_certificate(url) for node, url in served.node_urls.items()}
    ca_before = cluster.ca_pem()
    admin_before = served.admin_kubeconfig.read_bytes()
    renewal = cluster.renew()
    assert renewal.renewed == ("cp-1", "cp-2", "cp-3") and renewal.skipped == ()
    assert "certificate for serving the Kubernetes API renewed" in renewal.logs["cp-2"]
    assert cluster.ca_pem() == ca_before
    ca = x509.load_pem_x509_certificate(ca_before)
    for node, url in served.node_urls.items():
        after = https.served_certificate(url)
        assert _fingerprint(after) != _fingerprint(before[node]), node
        assert after.not_valid_before_utc > before[node].not_valid_before_utc
        after.verify_directly_issued_by(ca)
        assert _fingerprint(after) == _fingerprint(PkiTree(cluster.node_trees()[node]).cert("apiserver"))
    # kubeadm renews admin.conf; the client copy follows, and still works against the restarted server.
    assert served.admin_kubeconfig.read_bytes() != admin_before
    assert https.call(served.url, "/api/v1/nodes", client=https.admin()).status == 200


def _answers(connection: HTTPSConnection) -> bool:
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().read() == b"ok"
    except (ConnectionError, OSError):
        return False


def test_renewal_closes_open_connections_as_a_restart_does(served: ClusterServer, https,
                                                           cluster: ReferenceCluster) -> None:
    where = urlsplit(served.url)
    connection = HTTPSConnection(where.hostname or "", where.port, context=https.context(https.admin()), timeout=5)
    try:
        assert _answers(connection)
        assert _answers(connection)  # kept alive
        cluster.renew()
        assert not _answers(connection)
    finally:
        connection.close()


@pytest.mark.parametrize("how", ["argument", "annotation"])
def test_control_plane_only_renewal_keeps_the_worker_nodes(cluster: ReferenceCluster, how: str) -> None:
    workers = _workers(cluster)
    if how == "annotation":
        cluster.annotate(CONTROLPLANE_ONLY_ANNOTATION, "true")
    renewal = cluster.renew(controlplane_only=how == "argument")
    assert not renewal.workers_replaced
    assert _workers(cluster) == workers
    assert _workers(ReferenceCluster(cluster.folder)) == workers  # and so it stays on disk


def test_a_full_renewal_repaves_the_workers(cluster: ReferenceCluster) -> None:
    workers = _workers(cluster)
    control_planes = [n for n in cluster.nodes() if n.control_plane]
    renewal = cluster.renew(now=dt.datetime.now(dt.UTC))
    assert renewal.workers_replaced
    after = _workers(cluster)
    assert after.keys() == workers.keys()
    for name, (uid, created) in after.items():
        assert uid != workers[name][0]
        assert created > workers[name][1]
    assert [n for n in cluster.nodes() if n.control_plane] == control_planes


def test_renewal_without_a_server_renews_every_node_tree(make_cluster: Callable[..., ReferenceCluster]) -> None:
    cluster = make_cluster(control_planes=2, workers=0)
    before = {node: PkiTree(root).cert("etcd-peer").serial_number for node, root in cluster.node_trees().items()}
    renewal = cluster.renew()
    assert not renewal.workers_replaced  # no workers to repave
    for node, root in cluster.node_trees().items():
        assert PkiTree(root).cert("etcd-peer").serial_number != before[node]
        assert not PkiTree(root).kubeconfig_path("super-admin.conf").exists() or node == "cp-1"


def test_a_failed_creation_leaves_nothing_behind(tmp_path: Path, key_pool: KeyPool) -> None:
    class FailingKeys:
        """Keys until the 20th, as a node whose disk fills up halfway through."""

        def __init__(self) -> None:
            self.draws = 0

        def new_key(self, algorithm: str) -> PrivateKey:
            self.draws += 1
            if self.draws == 20:
                raise OSError("No space left on device")
            return key_pool.new_key(algorithm)

    with pytest.raises(OSError, match="No space left"):
        ReferenceCluster.create(tmp_path / "c", ClusterSpec(key_algorithm="ECDSA-P256"), keys=FailingKeys())
    assert not (tmp_path / "c").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="No space left"):
        ReferenceCluster.create(tmp_path / "empty", ClusterSpec(key_algorithm="ECDSA-P256"), keys=FailingKeys())
    assert list((tmp_path / "empty").iterdir()) == []
