"""The reference cluster's pods over HTTPS: what its stand-in scheduler and kubelets make of a pod (bound
pods ignore NoSchedule taints and are refused for NoExecute ones, the scheduler honours both, the node
reader's command completes with the node's tree as its log, anything else fails with a reason), logs
bounded by limitBytes, authorization as kube-apiserver's, and the real kubectl listing them."""

from __future__ import annotations

import base64
import copy
import io
import json
import subprocess
import tarfile
from collections.abc import Callable
from typing import Any

import pytest

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.kube.kubelet import KUBELET_MARK
from kubecert.targets.cluster.readerpod import reader_pod

from reader_support import create_all, rbac_documents

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
PODS = "/api/v1/namespaces/kubecert/pods"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def ready(served: ClusterServer, https: Any) -> ClusterServer:
    create_all(https, served.url, rbac_documents()[:1])  # the kubecert namespace
    return served


def _pod(name: str, node: str | None = "cp-1", **changes: Any) -> dict[str, Any]:
    """The node reader's pod, changed: ``tolerations=[]``, ``command=[...]``, ``image=...``."""
    pod = reader_pod(name, "kubecert", node or "", image=changes.pop("image", "busybox:1.36"), run="t", deadline_s=60)
    if node is None:
        del pod["spec"]["nodeName"]
    container = pod["spec"]["containers"][0]
    for key, value in changes.items():
        (container if key == "command" else pod["spec"])[key] = value
    return pod


def _create(https: Any, served: ClusterServer, pod: dict[str, Any], client: Any = None) -> dict[str, Any]:
    reply = https.call(served.url, PODS, client=client or https.admin(), method="POST",
                       body=json.dumps(pod).encode(), headers=JSON)
    document: dict[str, Any] = reply.json()
    document["code"] = reply.status
    return document


def _get(https: Any, served: ClusterServer, name: str, suffix: str = "") -> Any:
    return https.call(served.url, f"{PODS}/{name}{suffix}", client=https.admin())


def test_a_bound_pod_is_refused_for_a_noexecute_taint_it_does_not_tolerate(
        ready: ClusterServer, https: Any, cluster: ReferenceCluster) -> None:
    cluster.taint("cp-1", "node-role.kubernetes.io/control-plane", "NoExecute")
    created = _create(https, ready, _pod("untolerant", tolerations=[]))
    assert (created["code"], created["status"]["phase"]) == (201, "Pending")  # as the create answers
    refused = _get(https, ready, "untolerant").json()["status"]
    assert (refused["phase"], refused["reason"]) == ("Failed", "TaintToleration")
    assert refused["message"].startswith("Pod was rejected: Predicate TaintToleration failed")
    _create(https, ready, _pod("tolerant"))
    assert _get(https, ready, "tolerant").json()["status"]["phase"] == "Succeeded"
    # NoSchedule alone does not stop a pod bound to its node: the scheduler never sees it
    _create(https, ready, _pod("bound", "cp-2", tolerations=[]))
    assert _get(https, ready, "bound").json()["status"]["phase"] == "Succeeded"


def test_the_scheduler_leaves_an_untolerant_pod_pending_with_its_message(ready: ClusterServer, https: Any) -> None:
    _create(https, ready, _pod("placed", None, tolerations=[], nodeSelector={"kubernetes.io/hostname": "cp-1"}))
    pending = _get(https, ready, "placed").json()
    assert pending["status"]["phase"] == "Pending" and "nodeName" not in pending["spec"]
    condition = pending["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert condition["message"] == (
        "0/5 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 3 node(s) had untolerated "
        "taint {node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: 5 Preemption is not "
        "helpful for scheduling.")
    events = https.call(ready.url, "/api/v1/namespaces/kubecert/events?fieldSelector=involvedObject.name%3Dplaced",
                        client=https.admin()).json()["items"]
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "FailedScheduling")]
    _create(https, ready, _pod("tolerated", None, nodeSelector={"kubernetes.io/hostname": "cp-1"}))
    placed = _get(https, ready, "tolerated").json()
    assert (placed["spec"]["nodeName"], placed["status"]["phase"]) == ("cp-1", "Succeeded")


def test_the_readers_log_is_the_nodes_tree_and_limit_bytes_bounds_it(
        ready: ClusterServer, https: Any, cluster: ReferenceCluster) -> None:
    _create(https, ready, _pod("reader", "cp-2"))
    whole = _get(https, ready, "reader", "/log")
    assert whole.headers["content-type"] == "text/plain"
    etc, mark, kubelet = whole.body.partition(KUBELET_MARK)  # two streams: each is base64 of its own
    assert mark and kubelet
    with tarfile.open(fileobj=io.BytesIO(base64.decodebytes(etc)), mode="r:") as archive:
        members = {member.name: member for member in archive.getmembers()}
        ca = archive.extractfile(members["./pki/ca.crt"])
        assert ca is not None and ca.read() == (cluster.node_root("cp-2") / "pki" / "ca.crt").read_bytes()
    assert members["./pki/ca.key"].mode == 0o600
    assert max(len(line) for line in whole.body.splitlines()) == 76  # base64's lines, as busybox writes them
    assert _get(https, ready, "reader", "/log?limitBytes=10").body == whole.body[:10]
    assert _get(https, ready, "reader", "/log?limitBytes=0").status == 400
    assert _get(https, ready, "reader", "/log?container=other").status == 400


def test_other_commands_unknown_nodes_and_unpullable_images_fail_or_wait_with_a_reason(
        ready: ClusterServer, https: Any) -> None:
    _create(https, ready, _pod("sleeper", command=["sleep", "1"]))
    ended = _get(https, ready, "sleeper").json()["status"]
    assert ended["phase"] == "Failed"
    assert ended["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert b"runs no containers" in _get(https, ready, "sleeper", "/log").body
    _create(https, ready, _pod("orphan", "cp-9"))
    orphan = _get(https, ready, "orphan").json()["status"]
    assert orphan["phase"] == "Failed" and orphan["conditions"][0]["message"] == "PodGC: node no longer exists"
    _create(https, ready, _pod("mirror", image="registry.invalid/busybox:1.36"))
    waiting = _get(https, ready, "mirror").json()["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull" and '"registry.invalid/busybox:1.36"' in waiting["message"]
    log = _get(https, ready, "mirror", "/log")
    assert (log.status, log.json()["message"]) == (
        400, 'container "reader" in pod "mirror" is waiting to start: trying and failing to pull image')


def test_creating_and_deleting_pods_answers_as_kube_apiserver(ready: ClusterServer, https: Any) -> None:
    assert _create(https, ready, _pod("once"))["code"] == 201
    again = _create(https, ready, _pod("once"))
    assert (again["code"], again["reason"], again["message"]) == (409, "AlreadyExists", 'pods "once" already exists')
    broken = _pod("broken")
    del broken["spec"]["containers"][0]["image"]
    invalid = _create(https, ready, broken)
    assert (invalid["code"], invalid["message"]) == (422, 'Pod "broken" is invalid: spec.containers[0].image: '
                                                          "Required value")
    elsewhere = copy.deepcopy(_pod("lost"))
    reply = https.call(ready.url, "/api/v1/namespaces/nowhere/pods", client=https.admin(), method="POST",
                       body=json.dumps(elsewhere).encode(), headers=JSON)
    assert (reply.status, reply.json()["message"]) == (404, 'namespaces "nowhere" not found')
    deleted = https.call(ready.url, f"{PODS}/once?gracePeriodSeconds=0", client=https.admin(), method="DELETE")
    assert deleted.status == 200 and deleted.json()["metadata"]["deletionGracePeriodSeconds"] == 0
    assert _get(https, ready, "once").status == 404
    assert _get(https, ready, "once", "/log").status == 404


def test_pods_are_authorized_as_kube_apiserver_authorizes_them(ready: ClusterServer, https: Any) -> None:
    _create(https, ready, _pod("mine"))
    jane = https.identity("jane", ("developers",))
    refused = _create(https, ready, _pod("hers"), client=jane)
    assert (refused["code"], refused["message"]) == (
        403, 'pods is forbidden: User "jane" cannot create resource "pods" in API group "" in the namespace "kubecert"')
    log = https.call(ready.url, f"{PODS}/mine/log", client=jane).json()
    assert log["message"] == ('pods "mine" is forbidden: User "jane" cannot get resource "pods/log" in API group "" '
                              'in the namespace "kubecert"')
    assert log["details"] == {"name": "mine", "kind": "pods"}
    delete = https.call(ready.url, f"{PODS}/mine", client=jane, method="DELETE")
    assert delete.status == 403 and 'cannot delete resource "pods"' in delete.json()["message"]


def test_taints_show_on_the_node_objects(ready: ClusterServer, https: Any, cluster: ReferenceCluster) -> None:
    cluster.taint("cp-3", "dedicated", "NoExecute", "audit")
    node = https.call(ready.url, "/api/v1/nodes/cp-3", client=https.admin()).json()
    assert node["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                                      {"key": "dedicated", "value": "audit", "effect": "NoExecute"}]
    worker = https.call(ready.url, "/api/v1/nodes/worker-1", client=https.admin()).json()
    assert "taints" not in worker["spec"]
    assert ReferenceCluster(cluster.folder).nodes()[2].taints == cluster.nodes()[2].taints  # kept on disk


def test_kubectl_lists_logs_and_deletes_pods(kubectl: Kubectl, ready: ClusterServer, https: Any) -> None:
    _create(https, ready, _pod("reader-done"))
    _create(https, ready, _pod("reader-stuck", image="registry.invalid/busybox:1.36"))
    rows = [line.split() for line in kubectl(ready.admin_kubeconfig, "get", "pods", "-A").stdout.splitlines()]
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row[:5] for row in rows[1:] if row[0] == "kubecert"] == [
        ["kubecert", "reader-done", "0/1", "Completed", "0"], ["kubecert", "reader-stuck", "0/1", "ErrImagePull", "0"]]
    # and the static pods' mirror Pods, as the kubelets of the served control-plane nodes write them
    static = sorted(f"{pod}-{node}" for pod in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
                    for node in ("cp-1", "cp-2", "cp-3"))
    assert [row[:5] for row in rows[1:] if row[0] != "kubecert"] == [
        ["kube-system", name, "1/1", "Running", "0"] for name in static]
    wide = kubectl(ready.admin_kubeconfig, "get", "pods", "-n", "kubecert", "-o", "wide").stdout
    assert "cp-1" in wide
    head = kubectl(ready.admin_kubeconfig, "logs", "-n", "kubecert", "reader-done", "--limit-bytes=16").stdout
    assert len(head) == 16
    kubectl(ready.admin_kubeconfig, "delete", "pod", "-n", "kubecert", "reader-done", "reader-stuck", "--wait=false")
    assert kubectl(ready.admin_kubeconfig, "get", "pods", "-n", "kubecert", "-o", "name").stdout == ""
