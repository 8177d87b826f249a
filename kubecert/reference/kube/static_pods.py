"""The static pods the kubelet of each served control-plane node runs, and the mirror Pods the API shows.

While the cluster is served, each control-plane node's kubelet runs one static pod per manifest in its
/etc/kubernetes/manifests: a container with an id and the moment it started. The node's kube-apiserver is
its API listener (server.py), which reads apiserver.crt again when it changes; etcd is an EtcdMember (the
real etcd where it is installed), which reads etcd/server.crt for every connection; kube-controller-manager
and kube-scheduler only start: the reference runs no controller or scheduler of its own, and what they
would hold (the client certificate of the kubeconfig they read at start) changes only when they restart.
The kubelet itself serves its serving certificate on a port of its own, loaded when it started, and is
never restarted here (kubeadm does not restart it either).

A restart (kubeadm's note after a renewal; ``crictl stop`` on a container) gives the static pod a new
container and start time; etcd is started anew. The API shows every static pod as the kubelet does: a
mirror Pod ``<pod>-<node>`` in kube-system, its container running since when it started, and kubeadm's
annotations on kube-apiserver's and etcd's naming where they serve: here, loopback ports.
"""

from __future__ import annotations

import concurrent.futures
import copy
import datetime as dt
import functools
import hashlib
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubecert.reference.kube.cluster import ReferenceCluster
from kubecert.reference.kube.etcd import EtcdMember
from kubecert.reference.kube.objects import derived_uid, timestamp
from kubecert.reference.kube.serving import HandshakeListener, ServingFiles
from kubecert.reference.kube.state import NodeRecord

APISERVER, ETCD = "kube-apiserver", "etcd"
APISERVER_ENDPOINT = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
ETCD_CLIENT_URLS = "kubeadm.kubernetes.io/etcd.advertise-client-urls"
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class Container:
    """One run of a static pod's container."""

    id: str  # 64 hex digits, as containerd names a container
    started_at: dt.datetime
    restarts: int = 0


def _new_id() -> str:
    return secrets.token_hex(32)


class StaticPods:
    """The static pods and kubelets of ``cluster``'s control-plane nodes, served on ``host``."""

    def __init__(self, cluster: ReferenceCluster, host: str, *, real_etcd: bool = True) -> None:
        self.cluster = cluster
        self.host = host
        self.real_etcd = real_etcd
        self.work = Path(tempfile.mkdtemp(prefix="kubecert-static-pods-"))  # 0700: etcd's data
        self._containers: dict[tuple[str, str], Container] = {}
        self._etcd: dict[str, EtcdMember] = {}
        self._kubelets: dict[str, HandshakeListener] = {}
        self._lock = threading.Lock()

    def start(self) -> dt.datetime:
        """Every control-plane node's kubelet starts, and with it each static pod of its manifests; the
        moment they started."""
        now = self.cluster.clock()
        for node in self.cluster.control_plane_nodes():
            files = functools.partial(self.cluster.kubelet_serving_files, node)
            kubelet = HandshakeListener((self.host, 0), ServingFiles(files, follows_files=False))
            self._kubelets[node] = kubelet
            kubelet.start()
            for component in self.components(node):
                if component == ETCD:
                    self._etcd[node] = EtcdMember(node, self.cluster.node_root(node), self.work / node, self.host,
                                                  real=self.real_etcd)
                self._containers[(node, component)] = Container(_new_id(), now)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(len(self._etcd), 1)) as starting:
            for started in [starting.submit(member.start) for member in self._etcd.values()]:
                started.result()  # each member's own failure, raised here
        return now

    def components(self, node: str) -> tuple[str, ...]:
        """The static pods the node's manifests declare, by their names."""
        return tuple(name for name, _ in self._manifests(node))

    def restart(self, node: str, component: str) -> None:
        """Stop the container and start a new one; etcd loads its files again."""
        with self._lock:
            was = self._containers.get((node, component))
            if was is None:
                return
            if component == ETCD and node in self._etcd:
                self._etcd[node].restart()
            self._containers[(node, component)] = Container(_new_id(), self.cluster.clock(), was.restarts + 1)

    def container(self, node: str, component: str) -> Container | None:
        with self._lock:
            return self._containers.get((node, component))

    def kubelet(self, node: str) -> HandshakeListener | None:
        """The node's kubelet, as far as it serves (its port)."""
        return self._kubelets.get(node)

    def kubelet_port(self, node: str) -> int | None:
        kubelet = self._kubelets.get(node)
        return kubelet.port if kubelet is not None else None

    def etcd_port(self, node: str) -> int | None:
        member = self._etcd.get(node)
        return member.port if member is not None else None

    @property
    def etcd_is_real(self) -> bool:
        return bool(self._etcd) and all(member.real for member in self._etcd.values())

    def stop(self) -> None:
        for kubelet in self._kubelets.values():
            kubelet.stop()
        for member in self._etcd.values():
            member.stop()
        self._kubelets.clear()
        self._etcd.clear()
        shutil.rmtree(self.work, ignore_errors=True)

    # --- what the API shows

    def mirror_pods(self, apiserver_port: Callable[[str], int | None]) -> list[dict[str, Any]]:
        """Every running static pod's mirror Pod; ``apiserver_port`` tells where a node's API server listens."""
        nodes = {node.name: node for node in self.cluster.nodes()}
        found = []
        for node in self.cluster.control_plane_nodes():
            for component, manifest in self._manifests(node):
                container = self.container(node, component)
                if container is None:
                    continue
                port = apiserver_port(node) if component == APISERVER else self.etcd_port(node)
                endpoint = {APISERVER: f"{self.host}:{port}", ETCD: f"https://{self.host}:{port}"}.get(component)
                found.append(mirror_pod(self.cluster, nodes[node], manifest, container, host=self.host,
                                        endpoint=endpoint))
        return found

    def _manifests(self, node: str) -> list[tuple[str, dict[str, Any]]]:
        """(name, document) of each static pod manifest of the node, as the kubelet reads the folder."""
        found = []
        folder = self.cluster.node_root(node) / "manifests"
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            try:
                document = yaml.safe_load(path.read_bytes()[:MAX_MANIFEST_BYTES])
                name = str(document["metadata"]["name"])
            except (OSError, yaml.YAMLError, KeyError, TypeError):
                continue  # the kubelet skips a manifest it cannot read
            found.append((name, document))
        return found


def mirror_pod(cluster: ReferenceCluster, node: NodeRecord, manifest: dict[str, Any], container: Container, *,
               host: str, endpoint: str | None) -> dict[str, Any]:
    """The mirror Pod of ``manifest``'s static pod on ``node``, as the kubelet writes it."""
    metadata, spec = manifest.get("metadata") or {}, copy.deepcopy(manifest.get("spec") or {})
    component = str(metadata["name"])
    name = f"{component}-{node.name}"
    config_hash = hashlib.sha256(yaml.safe_dump(manifest, sort_keys=True).encode()).hexdigest()[:32]
    annotations = {**(metadata.get("annotations") or {}), "kubernetes.io/config.hash": config_hash,
                   "kubernetes.io/config.mirror": config_hash, "kubernetes.io/config.seen": timestamp(
                       container.started_at), "kubernetes.io/config.source": "file"}
    if endpoint is not None:  # where the served component listens: the reference's nodes are reached on loopback
        annotations[APISERVER_ENDPOINT if component == APISERVER else ETCD_CLIENT_URLS] = endpoint
    started = timestamp(container.started_at)
    containers = spec.get("containers") or []
    spec.update(nodeName=node.name, restartPolicy="Always", enableServiceLinks=True,
                tolerations=[{"effect": "NoExecute", "operator": "Exists"}])
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": name, "namespace": "kube-system", "uid": derived_uid(cluster.info, "pods", name, container.id),
            "resourceVersion": "1", "creationTimestamp": started, "labels": dict(metadata.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node.uid,
                                 "controller": True}],
        },
        "spec": spec,
        "status": {
            "phase": "Running", "hostIP": host, "podIP": host, "podIPs": [{"ip": host}], "startTime": started,
            "qosClass": "Burstable",
            "conditions": [{"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": started}
                           for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{
                "name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": True, "started": True,
                "restartCount": container.restarts, "containerID": f"containerd://{container.id}",
                "state": {"running": {"startedAt": started}},
            } for c in containers if isinstance(c, dict)],
        },
    }
