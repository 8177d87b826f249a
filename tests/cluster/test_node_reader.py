"""``kubeconfig:PATH?nodes=pods`` through the command, against the served reference cluster (whose stand-in
kubelets answer pods as kubelet.py says): every control-plane node is read through a pod and judged as a
target of its own, and each way a pod can fail to run is an error naming the node and the reason, with the
pod deleted whatever happened, a run stopped by SIGTERM included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.targets.cluster.pods import LOG_LIMIT, READ_ONLY

from reader_support import create_all, kubeconfig_as, rbac_documents, run_check
from support import result_for, statuses

NODES = ("cp-1", "cp-2", "cp-3")
SIGNAL_WAIT_S = 60.0  # how long a stopped run may take to clean up and go; a bound, not a measurement


@pytest.fixture
def reader(served: ClusterServer, https: Any) -> ClusterServer:
    """The served cluster with the node reader's namespace and RBAC applied, as its README says."""
    create_all(https, served.url, rbac_documents())
    return served


def _uri(served: ClusterServer, options: str = "") -> str:
    return f"kubeconfig:{served.admin_kubeconfig}?nodes=pods{options}"


def _node_uri(served: ClusterServer, node: str, options: str = "") -> str:
    return f"kubeconfig:{served.admin_kubeconfig}/{node}?nodes=pods{options}"


def _pods(https: Any, served: ClusterServer) -> list[dict[str, Any]]:
    """kubecert's pods in every namespace (not the static pods' mirror Pods)."""
    reply = https.call(served.url, "/api/v1/pods?labelSelector=app.kubernetes.io/name=kubecert", client=https.admin())
    assert reply.status == 200, reply.body
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _read_problem(report: dict[str, Any], uri: str, node: str) -> str:
    every = result_for(report, "KC-CL-03", uri)
    return str(next(e["detail"] for e in every["evidence"] if e["subject"] == node))


def test_every_control_plane_node_is_read_through_a_pod_and_judged(
        tmp_path: Path, reader: ClusterServer, cluster: ReferenceCluster, https: Any) -> None:
    # The reader tolerates its own role's taints whatever their effect: a NoExecute one would have the kubelet
    # refuse a pod without the toleration (test_reference_pods.py shows the refusal).
    cluster.taint("cp-2", "node-role.kubernetes.io/control-plane", "NoExecute")
    uri = _uri(reader)
    run, report = run_check(tmp_path, "--target", uri)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted({r["target"] for r in report["results"]}) == sorted([uri, *(_node_uri(reader, n) for n in NODES)])
    whole = statuses(report, uri)
    assert whole["KC-CL-03"] == whole["KC-HA-01"] == whole["KC-CL-01"] == "passed", whole
    assert {rule for rule, status in whole.items() if status == "skipped"} == {"KC-CL-04", "KC-HA-02"}
    every = result_for(report, "KC-CL-03", uri)
    assert [e["subject"] for e in every["evidence"]] == list(NODES)
    for node in NODES:
        found = [r for r in report["results"] if r["target"] == _node_uri(reader, node)]
        judged = {r["rule"] for r in found if r["status"] in ("passed", "not_applicable")}
        skipped = {r["rule"]: r["message"] for r in found if r["status"] == "skipped"}
        assert judged | set(skipped) == {r["rule"] for r in found}, found  # nothing failed, nothing errored
        assert {"KC-INV-01", "KC-INV-02", "KC-X509-05", "KC-FILE-01", "KC-FILE-02", "KC-KCFG-01"} <= judged
        kubelet = {r["rule"]: r["status"] for r in found if r["rule"].startswith("KC-KLT-")}
        assert len(kubelet) == 5 and set(kubelet.values()) == {"passed"}, kubelet  # /var/lib/kubelet read too
        assert skipped and all(READ_ONLY in message for message in skipped.values()), skipped
        assert "KC-REN-01" in skipped  # renewal acts on the node: never through a pod
    assert _pods(https, reader) == []
    written = (tmp_path / "r.json").read_text()
    assert "PRIVATE KEY" not in written and "PRIVATE KEY" not in run.stdout + run.stderr  # the nodes' keys were read


def test_a_node_whose_taint_the_reader_does_not_tolerate_is_an_error_naming_it(
        tmp_path: Path, reader: ClusterServer, cluster: ReferenceCluster, https: Any) -> None:
    cluster.taint("cp-3", "dedicated", "NoExecute", "audit")
    uri = _uri(reader)
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03", "--rule", "KC-INV-01")
    assert run.returncode == 2, run.stdout + run.stderr
    assert result_for(report, "KC-CL-03", uri)["status"] == "error"
    said = _read_problem(report, uri, "cp-3")
    assert said.startswith("its files could not be read: cp-3: the reader pod kubecert/kubecert-reader-"), said
    assert "TaintToleration: Pod was rejected" in said and "dedicated=audit:NoExecute" in said, said
    node = result_for(report, "KC-INV-01", _node_uri(reader, "cp-3"))
    assert node["status"] == "error" and "TaintToleration" in node["message"]
    assert statuses(report, _node_uri(reader, "cp-1")) == {"KC-INV-01": "passed"}
    assert _pods(https, reader) == []


def test_a_pod_whose_image_cannot_be_pulled_is_an_error_after_the_timeout(
        tmp_path: Path, reader: ClusterServer, https: Any) -> None:
    uri = _uri(reader, "&timeout=2&image=registry.invalid/busybox:1.36")
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 2
    for node in NODES:
        said = _read_problem(report, uri, node)
        assert f"{node}: the reader pod kubecert/kubecert-reader-" in said, said
        assert "is still Pending after 2 s: ErrImagePull: failed to pull and unpack image " \
               '"registry.invalid/busybox:1.36"' in said, said
    assert "[kubecert]" in run.stdout and ": Pending (ErrImagePull: " in run.stdout  # the wait, said on the terminal
    assert _pods(https, reader) == []


def test_a_node_without_files_to_mount_is_explained_by_its_events(
        tmp_path: Path, make_cluster: Any, serve: Any, https_for: Any) -> None:
    cluster = make_cluster(faults=("control-plane-node-out-of-reach",))  # cp-4: a Node object, no files
    served = serve(cluster)
    https = https_for(cluster)
    create_all(https, served.url, rbac_documents())
    uri = _uri(served, "&timeout=2")
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 2
    said = _read_problem(report, uri, "cp-4")
    assert "is still Pending after 2 s: FailedMount: MountVolume.SetUp failed for volume \"etc-kubernetes\"" in said
    assert [e["status"] for e in result_for(report, "KC-CL-03", uri)["evidence"]] == ["passed"] * 3 + ["error"]
    assert _pods(https, served) == []


def test_a_namespace_that_does_not_exist_is_named_and_another_can_be_chosen(
        tmp_path: Path, served: ClusterServer, https: Any) -> None:
    uri = _uri(served)  # the manifest is not applied: there is no namespace kubecert
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 2
    said = _read_problem(report, uri, "cp-1")
    assert '404 namespaces "kubecert" not found: the namespace kubecert must exist (docs/node-reader-rbac.yaml ' \
           "makes it, or name another with &namespace=NS)" in said, said
    elsewhere = _uri(served, "&namespace=default")
    run, report = run_check(tmp_path, "--target", elsewhere, "--rule", "KC-CL-03")
    assert run.returncode == 0, run.stdout + run.stderr
    assert statuses(report, elsewhere) == {"KC-CL-03": "passed"}
    assert _pods(https, served) == []


def test_sigterm_while_a_pod_is_pending_deletes_the_pod(tmp_path: Path, reader: ClusterServer, https: Any) -> None:
    uri = _uri(reader, "&timeout=600&image=registry.invalid/busybox:1.36")
    report = tmp_path / "r.json"
    process = subprocess.Popen([sys.executable, "-m", "kubecert", "check", "-q", "--profile", "palette", "--json",
                                str(report), "--target", uri], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        until = time.monotonic() + SIGNAL_WAIT_S
        while not (pending := _pods(https, reader)) and process.poll() is None and time.monotonic() < until:
            time.sleep(0.2)
        assert [pod["status"]["phase"] for pod in pending] == ["Pending"], pending
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=SIGNAL_WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in out + err, out + err
    assert process.returncode == 2, out + err
    assert _pods(https, reader) == []
    partial = json.loads((tmp_path / "r.json.partial").read_text())
    assert partial["complete"] is False


def test_a_user_who_may_not_create_pods_is_told_which_permission(
        tmp_path: Path, reader: ClusterServer, https: Any) -> None:
    # A kubelet's identity lists Node objects and reads ConfigMaps, and nothing of pods.
    kubeconfig = kubeconfig_as(reader, https, tmp_path / "kubelet.conf", "system:node:cp-1", ("system:nodes",))
    uri = f"kubeconfig:{kubeconfig}?nodes=pods"
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 2
    said = _read_problem(report, uri, "cp-1")
    assert "403 Forbidden" in said and 'cannot create resource \\"pods\\"' in json.dumps(said), said
    assert "kubecert needs create on pods in kubecert" in said and "docs/node-reader-rbac.yaml" in said, said


def _as_kubecert_with(tmp_path: Path, served: ClusterServer, https: Any, rules: list[dict[str, Any]]) -> str:
    """The node reader's URI as the user kubecert, its RBAC applied with ``rules`` in the reader pods' Role."""
    documents = rbac_documents()
    role = next(d for d in documents if d["kind"] == "Role" and d["metadata"]["name"] == "kubecert-node-reader")
    role["rules"] = rules
    create_all(https, served.url, documents)
    return f"kubeconfig:{kubeconfig_as(served, https, tmp_path / 'kubecert.conf', 'kubecert')}?nodes=pods"


def test_a_user_who_may_not_read_pod_logs_is_told_and_the_pod_is_deleted(
        tmp_path: Path, served: ClusterServer, https: Any) -> None:
    uri = _as_kubecert_with(tmp_path, served, https, [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "delete"]}])
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 2
    said = _read_problem(report, uri, "cp-1")
    assert "kubecert needs get on pods/log in kubecert" in said, said
    assert _pods(https, served) == []  # read, refused, deleted


def test_a_pod_that_cannot_be_deleted_is_named_with_how_to_delete_it(
        tmp_path: Path, served: ClusterServer, https: Any) -> None:
    uri = _as_kubecert_with(tmp_path, served, https, [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}])
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 0, run.stdout + run.stderr  # every node was read: the leftovers are a note
    left = sorted(pod["metadata"]["name"] for pod in _pods(https, served))
    assert len(left) == len(NODES)
    for name in left:
        note = next(n for n in report["notes"] if f"the reader pod kubecert/{name} " in n)
        assert "kubecert needs delete on pods in kubecert" in note
        assert note.endswith(f"delete it with: kubectl delete pod -n kubecert {name}")
        assert f"NOTE: the reader pod kubecert/{name} " in run.stdout


def test_a_node_tree_larger_than_the_log_bound_is_refused(
        tmp_path: Path, reader: ClusterServer, cluster: ReferenceCluster, https: Any) -> None:
    big = cluster.node_root("cp-2") / "big.bin"
    with big.open("wb") as out:  # random bytes, a MiB more than the bound decodes to: base64 grows them by a third
        for _ in range((LOG_LIMIT * 3 // 4 >> 20) + 1):
            out.write(os.urandom(1 << 20))
    uri = _uri(reader)
    run, report = run_check(tmp_path, "--target", uri, "--rule", "KC-CL-03")
    assert run.returncode == 2
    said = _read_problem(report, uri, "cp-2")
    assert "cp-2: /etc/kubernetes is larger than a reader pod's log may be (8 MiB of base64" in said, said
    assert [e["status"] for e in result_for(report, "KC-CL-03", uri)["evidence"]] == ["passed", "error", "passed"]
    assert _pods(https, reader) == []
