"""The node reader's parts one by one: the pod it asks for, how it reads what a cluster answers (a log that
mixes tar's complaints with the data, statuses in any shape, a log server that ignores limitBytes), and its
URI options."""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from tls_server import client_of, serving_as_api_server

from kubecert.profiles import resolve
from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.targets.cluster import readerpod as rp
from kubecert.targets.cluster.podapi import PodApi, TooLarge
from kubecert.targets.cluster.pods import decode_log
from kubecert.targets.cluster.podtargets import expand_kubeconfig
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.targets.registry import Registry


def test_the_reader_pod_is_pinned_tolerant_read_only_and_unprivileged() -> None:
    pod = rp.reader_pod("kubecert-reader-ab12-1", "audit", "cp-2", image="mirror.example/busybox:1.36", run="ab12",
                        deadline_s=150)
    spec = pod["spec"]
    assert (spec["nodeName"], spec["restartPolicy"], spec["activeDeadlineSeconds"]) == ("cp-2", "Never", 150)
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    assert {(t["key"], t["operator"], t.get("effect")) for t in spec["tolerations"]} == {
        ("node-role.kubernetes.io/control-plane", "Exists", None), ("node-role.kubernetes.io/master", "Exists", None)}
    assert spec["securityContext"]["runAsUser"] == 0
    assert spec["volumes"] == [
        {"name": "etc-kubernetes", "hostPath": {"path": "/etc/kubernetes", "type": "Directory"}},
        {"name": "var-lib-kubelet", "hostPath": {"path": "/var/lib/kubelet", "type": "Directory"}}]
    (container,) = spec["containers"]
    assert container["image"] == "mirror.example/busybox:1.36"
    assert container["command"] == ["sh", "-c", "tar -C /host/etc/kubernetes -cf - . | base64; echo kubecert-kubelet; "
                                                "tar -C /host/var/lib/kubelet -cf - config.yaml pki | base64"]
    assert container["volumeMounts"] == [
        {"name": "etc-kubernetes", "mountPath": "/host/etc/kubernetes", "readOnly": True},
        {"name": "var-lib-kubelet", "mountPath": "/host/var/lib/kubelet", "readOnly": True}]
    assert container["securityContext"] == {"privileged": False, "allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert set(container["resources"]["limits"]) == {"cpu", "memory", "ephemeral-storage"}
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/name": "kubecert",
                                         "app.kubernetes.io/component": "node-reader",
                                         "app.kubernetes.io/instance": "ab12"}


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_log_that_mixes_what_tar_said_with_the_data_is_taken_apart() -> None:
    data = _tar({"./pki/ca.crt": b"CERT" * 100})
    lines = base64.encodebytes(data).splitlines()
    log = b"\n".join([*lines[:3], b"tar: ./pki/x.key: Permission denied\x1b[2J", *lines[3:]]) + b"\n"
    decoded, said = decode_log(log)
    assert decoded == data
    assert said == ["tar: ./pki/x.key: Permission denied\\x1b[2J"]  # escaped, never sent to a terminal as is
    with pytest.raises(TargetUnavailable, match="not base64: sh: tar: not found"):
        decode_log(b"sh: tar: not found\nQUJD=\nRA\n")


def test_statuses_in_any_shape_give_a_reason_escaped_and_bounded() -> None:
    long = "\x1b]0;owned\x07" + "x" * 5000
    waiting = {"status": {"phase": "Pending", "containerStatuses": [
        {"state": {"waiting": {"reason": "ImagePullBackOff", "message": long}}}]}}
    reason = rp.waiting_reason(waiting)
    assert reason.startswith("ImagePullBackOff: \\x1b]0;owned\\x07xxx") and len(reason) < 400
    unscheduled = {"status": {"conditions": [{"type": "Ready", "status": "False", "message": "not yet"},
                                             {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                              "message": "0/3 nodes are available"}]}}
    assert rp.waiting_reason(unscheduled) == "Unschedulable: 0/3 nodes are available"
    ended = {"status": {"phase": "Failed", "containerStatuses": [
        {"state": {"terminated": {"reason": "Error", "exitCode": 2}}}]}}
    assert rp.failure_reason(ended) == "Error (exit 2)"
    for hostile in (None, [], {"status": []}, {"status": {"containerStatuses": "x", "conditions": [1, None]}}):
        assert rp.phase(hostile) == "Pending"
        assert rp.waiting_reason(hostile) == ""
        assert rp.failure_reason(hostile) == "no reason given"
    events = [{"type": "Normal", "reason": "Scheduled", "lastTimestamp": "2024-01-01T00:00:09Z"},
              {"type": "Warning", "reason": "FailedMount", "message": "old", "lastTimestamp": "2024-01-01T00:00:01Z"},
              {"type": "Warning", "reason": "FailedMount", "message": "new", "lastTimestamp": "2024-01-01T00:00:05Z"},
              "junk"]
    assert rp.warning_events(events) == "FailedMount: new"
    assert rp.warning_events({"items": 1}) == ""


@pytest.mark.parametrize(("options", "words"), [
    ("?nodes=ssh", "nodes='ssh'"),
    ("?nodes=pods&namespace=Kube_Cert", "namespace='Kube_Cert' is not a namespace name"),
    ("?nodes=pods&image=busybox;rm", "is not an image reference"),
    ("?nodes=pods&timeout=0", "timeout= takes seconds"),
    ("?nodes=pods&timeout=soon", "timeout= takes seconds"),
    ("?nodes=pods&shell=1", "unknown option 'shell=1'"),
    ("?image=busybox:1.36", "image= is an option of nodes=pods"),
])
def test_reader_options_are_usage_errors_naming_the_option(tmp_path: Path, options: str, words: str) -> None:
    kubeconfig = tmp_path / "admin.conf"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(TargetError, match=words.replace("?", r"\?").replace("(", r"\(")):
        Registry().open(f"kubeconfig:{kubeconfig}{options}", resolve("kubeadm", "kubeadm"), {}, None)


def test_a_uri_stands_for_its_nodes_only_when_they_can_be_listed(tmp_path: Path) -> None:
    missing = f"kubeconfig:{tmp_path}/nowhere.conf?nodes=pods"
    assert expand_kubeconfig(missing, {}) == [missing]  # the cluster target alone, which says why
    assert Registry().expand([f"kubeconfig:{tmp_path}/a.conf"]) == [f"kubeconfig:{tmp_path}/a.conf"]


@contextmanager
def _log_server(cluster: ReferenceCluster, size: int) -> Iterator[tuple[str, list[str]]]:
    """An API server (cp-1's certificate) that answers every request with ``size`` bytes of log, whatever
    limitBytes says; the paths it was asked are recorded."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"QUJD" * (1 << 14)
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client stopped reading: what is tested

        def log_message(self, *args: Any) -> None:
            pass

    with serving_as_api_server(cluster, Handler) as url:
        yield url, asked


def test_a_log_is_read_to_its_bound_even_from_a_server_that_ignores_limit_bytes(
        tmp_path: Path, cluster: ReferenceCluster, served: ClusterServer) -> None:
    limit = 1 << 20
    with _log_server(cluster, 64 * limit) as (url, asked), client_of(url, served, tmp_path) as client, \
            pytest.raises(TooLarge, match=f"longer than {limit} bytes; not read further"):
        PodApi(client, "kubecert").log("kubecert-reader-x-1", limit)
    assert asked and f"limitBytes={limit + 1}" in asked[0]
