"""The reference cluster's static pods: each served control-plane node runs one per manifest, shown as its
mirror Pod (when the container started, where kubeadm says kube-apiserver and etcd serve); its kubelet serves
its kubelet.crt, loaded at start; a renewal restarts the renewed nodes' static pods (not the kubelet); etcd is
the real one where it is installed, and, like it, serves etcd/server.crt as it is on disk."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.kube.cluster import SKIPPED_RESTART_AFTER
from kubecert.reference.pki import KeyPool, PkiTree
from kubecert.reference.pki.issue import BACKDATE
from kubecert.reference.pki.kubelet import KubeletTree
from kubecert.reference.pki.renew import renew
from kubecert.targets.cluster.handshake import handshake_certificate

STATIC = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODES = ("cp-1", "cp-2", "cp-3")
GONE_WITHIN_S = 60.0  # how long a stopped etcd may take to go: a bound, not a measurement


def _served(port: int) -> x509.Certificate:
    return x509.load_der_x509_certificate(handshake_certificate("127.0.0.1", port, timeout=5.0))


def _mirror_pods(https: Any, served: ClusterServer, node: str) -> dict[str, dict[str, Any]]:
    reply = https.call(served.url, f"/api/v1/namespaces/kube-system/pods?fieldSelector=spec.nodeName={node}",
                       client=https.admin())
    assert reply.status == 200, reply.body
    return {pod["metadata"]["name"]: pod for pod in reply.json()["items"]}


def _started(pod: dict[str, Any]) -> str:
    return str(pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"])


def _real_etcd() -> None:
    if shutil.which("etcd") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("etcd is not on PATH under CI=true: .ci/run installs etcd-server")
        pytest.skip("etcd is not on PATH (Debian: apt-get install etcd-server): the stand-in serves in its place")


def test_each_node_shows_a_mirror_pod_per_manifest_and_where_it_serves(
        served: ClusterServer, cluster: ReferenceCluster, https: Any) -> None:
    assert served.static_pods is not None
    for node in NODES:
        pods = _mirror_pods(https, served, node)
        assert sorted(pods) == [f"{pod}-{node}" for pod in STATIC]
        for pod, document in pods.items():
            component = pod.removesuffix(f"-{node}")
            container = served.static_pods.container(node, component)
            assert container is not None
            annotations = document["metadata"]["annotations"]
            assert annotations["kubernetes.io/config.source"] == "file" and annotations["kubernetes.io/config.mirror"]
            assert document["spec"]["nodeName"] == node and document["status"]["phase"] == "Running"
            status = document["status"]["containerStatuses"][0]
            assert status["name"] == component and status["containerID"] == f"containerd://{container.id}"
            assert _started(document) == container.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        apiserver, etcd = pods[f"kube-apiserver-{node}"], pods[f"etcd-{node}"]
        listener = next(listener for listener in served.listeners if listener.node == node)
        endpoint = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
        assert apiserver["metadata"]["annotations"][endpoint] == f"127.0.0.1:{listener.port}"
        assert etcd["metadata"]["annotations"]["kubeadm.kubernetes.io/etcd.advertise-client-urls"] == \
            f"https://127.0.0.1:{served.static_pods.etcd_port(node)}"
        # What each serves there: apiserver.crt, etcd/server.crt; the kubelet, on the port its Node reports.
        tree = PkiTree(cluster.node_root(node))
        assert _served(listener.port) == tree.cert("apiserver")
        assert _served(served.static_pods.etcd_port(node) or 0) == tree.cert("etcd-server")
        found = https.call(served.url, f"/api/v1/nodes/{node}", client=https.admin()).json()["status"]
        assert found["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
        assert _served(found["daemonEndpoints"]["kubeletEndpoint"]["Port"]) == KubeletTree(
            cluster.node_root(node)).serving()


def test_a_renewal_restarts_the_renewed_nodes_static_pods_but_not_their_kubelets(
        make_cluster: Callable[..., ReferenceCluster], serve: Callable[[ReferenceCluster], ClusterServer],
        https_for: Callable[[ReferenceCluster], Any]) -> None:
    cluster = make_cluster(faults=("renewal-skips-node",))  # cp-3 is left out of the renewal: and of the restart
    served, https = serve(cluster), https_for(cluster)
    assert served.static_pods is not None
    before = {node: _mirror_pods(https, served, node) for node in NODES}
    kubelets = {node: _served(served.static_pods.kubelet_port(node) or 0) for node in NODES}
    renewal = cluster.renew()
    assert renewal.renewed == ("cp-1", "cp-2")
    for node in NODES:
        after = _mirror_pods(https, served, node)
        for pod, document in after.items():
            was, now = before[node][pod]["status"]["containerStatuses"][0], document["status"]["containerStatuses"][0]
            if node == "cp-3":
                assert now == was, pod
            else:
                assert now["containerID"] != was["containerID"] and now["restartCount"] == 1, pod
                assert _started(document) >= _started(before[node][pod])
        assert _served(served.static_pods.kubelet_port(node) or 0) == kubelets[node]  # kubeadm never restarts it


def test_under_renewal_skips_restart_the_nodes_were_renewed_after_their_pods_started(
        make_cluster: Callable[..., ReferenceCluster], serve: Callable[[ReferenceCluster], ClusterServer],
        https_for: Callable[[ReferenceCluster], Any]) -> None:
    cluster = make_cluster(faults=("renewal-skips-restart",))
    served, https = serve(cluster), https_for(cluster)
    assert served.static_pods is not None
    pods = _mirror_pods(https, served, "cp-1")
    started = served.static_pods.container("cp-1", "kube-controller-manager")
    assert started is not None
    client, _ = PkiTree(cluster.node_root("cp-1")).kubeconfig_client("controller-manager.conf")
    issued = client.not_valid_before_utc + BACKDATE
    assert issued == (started.started_at + SKIPPED_RESTART_AFTER).replace(microsecond=0)
    cluster.renew()
    assert _mirror_pods(https, served, "cp-1") == pods  # nothing restarted


def test_the_kubelet_fault_serves_a_certificate_older_than_kubelet_crt(
        make_cluster: Callable[..., ReferenceCluster], serve: Callable[[ReferenceCluster], ClusterServer]) -> None:
    cluster = make_cluster(faults=("kubelet-serves-old-certificate",))
    served = serve(cluster)
    assert served.static_pods is not None
    for node in NODES:
        on_disk = KubeletTree(cluster.node_root(node)).serving()
        held = _served(served.static_pods.kubelet_port(node) or 0)
        if node == "cp-3":
            assert held != on_disk and held.subject.rfc4514_string().startswith("CN=cp-3@")
            assert on_disk.not_valid_before_utc - held.not_valid_before_utc == dt.timedelta(days=1)
        else:
            assert held == on_disk


def test_the_real_etcd_serves_server_crt_as_it_is_on_disk_restarted_or_not(cluster: ReferenceCluster,
                                                                            key_pool: KeyPool) -> None:
    """What KC-CL-06 leaves etcd out for: etcd reads its key pair again for every connection."""
    _real_etcd()
    with ClusterServer(cluster) as served:
        assert served.static_pods is not None and served.static_pods.etcd_is_real
        port = served.static_pods.etcd_port("cp-2") or 0
        root = cluster.node_root("cp-2")
        first = _served(port)
        assert first == PkiTree(root).cert("etcd-server")
        renew(root, "etcd-server", keys=key_pool, now=dt.datetime.now(dt.UTC))  # kubeadm alone: nothing restarted
        renewed = PkiTree(root).cert("etcd-server")
        assert renewed != first and _served(port) == renewed
        served.restart("cp-2", "etcd")  # a new process, on the same port
        assert served.static_pods.etcd_port("cp-2") == port and _served(port) == renewed


_SERVE_ONE_NODE = """
import sys, tempfile, time
from pathlib import Path
from kubecert.reference.kube import ClusterServer, ClusterSpec, ReferenceCluster
cluster = ReferenceCluster.create(Path(sys.argv[1]), ClusterSpec(key_algorithm="ECDSA-P256", control_planes=1,
                                                                  workers=0))
server = ClusterServer(cluster)
server.start()
print(server.static_pods.etcd_port("cp-1"), server.static_pods.etcd_is_real, flush=True)
time.sleep(600)
"""


def test_etcd_does_not_outlive_a_server_that_was_killed(tmp_path: Path) -> None:
    _real_etcd()
    # Its temporary folders in tmp_path: a killed server removes nothing (etcd's data among them).
    server = subprocess.Popen([sys.executable, "-c", _SERVE_ONE_NODE, str(tmp_path / "c")], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        assert server.stdout is not None
        port, real = server.stdout.readline().split()
        assert real == "True"
        assert _served(int(port)) is not None
    finally:
        server.kill()  # SIGKILL: the server cleans nothing up itself
        server.wait(30)
    deadline = time.monotonic() + GONE_WITHIN_S
    while _listening(int(port)):
        assert time.monotonic() < deadline, f"etcd still listens on {port} after its server was killed"
        time.sleep(0.2)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False
