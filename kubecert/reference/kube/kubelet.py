"""What happens to a pod in the reference cluster, which runs no containers. A pod's fate is decided at once
when it is created, as Kubernetes' scheduler and the node's kubelet would decide it:

- **Placement.** A pod with ``spec.nodeName`` skips the scheduler, as in Kubernetes. Another is placed by a
  stand-in scheduler on the first node whose labels its nodeSelector matches and whose NoSchedule and
  NoExecute taints it tolerates; when no node fits it stays Pending, its PodScheduled condition False with the
  scheduler's message, and a FailedScheduling event.
- **Admission.** A pod bound to a node no Node object has fails as the pod garbage collector fails it ("PodGC:
  node no longer exists"). The node's kubelet rejects one that does not tolerate a NoExecute taint of the node
  (Failed, TaintToleration); a NoSchedule taint does not stop a bound pod, as it does not in Kubernetes.
- **Image.** The nodes pull from a registry holding only REGISTRY_IMAGES; another image stays Pending,
  waiting in ErrImagePull, with a Failed event.
- **Volume.** A node whose files the reference does not keep (the workers, and the extra control-plane Node
  of control-plane-node-out-of-reach) has no /etc/kubernetes: a pod mounting it stays ContainerCreating with
  a FailedMount event, as the kubelet leaves it.
- **Running.** A pod whose one container runs kubecert's node-reader command, ``sh -c 'tar -C MOUNT -cf - . |
  base64; echo kubecert-kubelet; tar -C KUBELET -cf - config.yaml pki | base64'`` where MOUNT and KUBELET are
  where hostPath volumes of /etc/kubernetes and /var/lib/kubelet are mounted, completes (exit 0) and its log
  is the node's tree (the reference's folder for it, without its ``kubelet`` folder), the mark line, and the
  kubelet's config.yaml and pki/ (that ``kubelet`` folder), as tar streams in base64, taken as it completes.
  Any other command fails (exit 1) and its log says what the reference runs.

Logs and events are kept in memory for as long as the server runs (events are short-lived in Kubernetes
too); the pods themselves are stored with the cluster's other objects.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import tarfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecert.reference.kube.state import NodeRecord, Taint

NODE_FOLDER = "/etc/kubernetes"
KUBELET_FOLDER = "/var/lib/kubelet"
KUBELET_FILES = ("config.yaml", "pki")
KUBELET_MARK = b"kubecert-kubelet\n"
REGISTRY_IMAGES = frozenset({"docker.io/library/busybox:1.36", "docker.io/library/busybox:1.37"})
MAX_EVENTS = 1000
_READER = re.compile(r"tar -C (\S+) -cf - \. \| base64; echo kubecert-kubelet; "
                     r"tar -C (\S+) -cf - config\.yaml pki \| base64")
_NOT_READER = ("the reference cluster runs no containers: it completes only kubecert's node reader, sh -c 'tar -C "
               "MOUNT -cf - . | base64; echo kubecert-kubelet; tar -C KUBELET -cf - config.yaml pki | base64' with "
               "hostPath volumes of /etc/kubernetes and /var/lib/kubelet mounted at MOUNT and KUBELET\n")
ORPHAN = "PodGC: node no longer exists"
REJECTED = "Pod was rejected: Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"


def normalized_image(image: str) -> str:
    """An image reference as the container runtime resolves it: ``busybox:1.36`` is
    ``docker.io/library/busybox:1.36``."""
    name, at, digest = image.partition("@")
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name if slash else 'library/' + name}"
    elif first == "docker.io" and "/" not in rest:
        name = f"docker.io/library/{rest}"
    if ":" not in name.rsplit("/", 1)[-1] and not at:
        name += ":latest"
    return name + at + digest


def tolerated(taint: Taint, tolerations: list[dict[str, Any]]) -> bool:
    """Kubernetes' matching: an empty effect tolerates every effect, Exists any value (and with no key, any
    key), Equal (the default) the taint's value."""
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", taint.effect):
            continue
        if toleration.get("operator", "Equal") == "Exists":
            if toleration.get("key") in (None, "", taint.key):
                return True
        elif toleration.get("key") == taint.key and (toleration.get("value") or "") == taint.value:
            return True
    return False


def _untolerated(node: NodeRecord, tolerations: list[dict[str, Any]], effects: tuple[str, ...]) -> Taint | None:
    return next((t for t in node.all_taints() if t.effect in effects and not tolerated(t, tolerations)), None)


def node_labels(node: NodeRecord) -> dict[str, str]:
    labels = {"kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    return {**labels, "node-role.kubernetes.io/control-plane": ""} if node.control_plane else labels


def schedule(spec: dict[str, Any], nodes: tuple[NodeRecord, ...]) -> tuple[NodeRecord | None, str]:
    """The node the stand-in scheduler binds the pod to, or None and the scheduler's message."""
    selector = spec.get("nodeSelector") or {}
    tolerations = spec.get("tolerations") or []
    reasons: Counter[str] = Counter()
    for node in nodes:  # filters in the scheduler's order: TaintToleration, then NodeAffinity
        taint = _untolerated(node, tolerations, ("NoSchedule", "NoExecute"))
        if taint is not None:
            reasons[f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"] += 1
        elif any(node_labels(node).get(key) != value for key, value in selector.items()):
            reasons["node(s) didn't match Pod's node affinity/selector"] += 1
        else:
            return node, ""
    said = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    total = len(nodes)
    return None, (f"0/{total} nodes are available: {said}. preemption: 0/{total} nodes are available: {total} "
                  "Preemption is not helpful for scheduling.")


@dataclass
class Outcome:
    """A pod's fate: its status, its node, its log when it ran, and what was reported about it."""

    status: dict[str, Any]
    node: str | None = None
    log: bytes | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


def tree_log(root: Path) -> bytes:
    """What the reader prints for the node whose folder is ``root``: /etc/kubernetes (the folder without its
    ``kubelet``), the mark, then the kubelet's files (``kubelet/``), as tar streams in base64 lines of 76."""
    kubelet = root / "kubelet"
    return (_tar_base64(root, [child for child in sorted(root.iterdir()) if child.name != "kubelet"]) + KUBELET_MARK
            + _tar_base64(kubelet, [kubelet / name for name in KUBELET_FILES if (kubelet / name).exists()]))


def _tar_base64(folder: Path, members: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        if folder.is_dir():
            archive.add(folder, arcname=".", recursive=False)
        for member in members:
            archive.add(member, arcname=f"./{member.relative_to(folder)}")
    return base64.encodebytes(buffer.getvalue())


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, status: str, at: str, reason: str = "", message: str = "") -> dict[str, str | None]:
    found: dict[str, str | None] = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": at}
    return {**found, **({"reason": reason} if reason else {}), **({"message": message} if message else {})}


def _container_status(container: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    return {"name": container["name"], "image": container["image"], "imageID": "", "ready": False,
            "restartCount": 0, "started": False, "state": state}


class Kubelets:
    """The reference's scheduler and kubelets: decides each new pod's fate, and keeps logs and events."""

    def __init__(self, nodes: Callable[[], tuple[NodeRecord, ...]], tree: Callable[[str], Path | None],
                 clock: Callable[[], dt.datetime]) -> None:
        self.nodes = nodes  # the Node objects the API lists
        self.tree = tree  # a node's /etc/kubernetes, when the reference keeps one for it
        self.clock = clock
        self._logs: dict[str, bytes] = {}
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def start(self, pod: dict[str, Any]) -> dict[str, Any]:
        """The created pod with the status it ends in, its log and events recorded."""
        outcome = self._outcome(pod)
        if outcome.node is not None:
            pod["spec"]["nodeName"] = outcome.node
        pod["status"] = outcome.status
        with self._lock:
            if outcome.log is not None:
                self._logs[pod["metadata"]["uid"]] = outcome.log
            for kind, reason, message in outcome.events:
                self._events.append(self._event(pod, kind, reason, message, outcome.node))
            del self._events[:-MAX_EVENTS]
        return pod

    def log(self, pod: dict[str, Any]) -> bytes | None:
        with self._lock:
            return self._logs.get(pod["metadata"]["uid"])

    def forget(self, pod: dict[str, Any]) -> None:
        with self._lock:
            self._logs.pop(pod["metadata"]["uid"], None)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(event) for event in self._events]

    def _outcome(self, pod: dict[str, Any]) -> Outcome:
        spec, now = pod["spec"], _time(self.clock())
        nodes = {node.name: node for node in self.nodes()}
        bound = spec.get("nodeName")
        if not bound:
            node, message = schedule(spec, tuple(nodes.values()))
            if node is None:
                return Outcome({"phase": "Pending", "conditions": [
                    _condition("PodScheduled", "False", now, "Unschedulable", message)], "qosClass": "Burstable"},
                    events=[("Warning", "FailedScheduling", message)])
            bound = node.name
        if bound not in nodes:
            return Outcome({"phase": "Failed", "conditions": [
                _condition("DisruptionTarget", "True", now, "DeletionByPodGC", ORPHAN)]}, bound)
        if _untolerated(nodes[bound], spec.get("tolerations") or [], ("NoExecute",)) is not None:
            return Outcome({"phase": "Failed", "reason": "TaintToleration", "message": REJECTED, "startTime": now},
                           bound, events=[("Warning", "TaintToleration", REJECTED.removeprefix("Pod was rejected: "))])
        return self._run(spec, nodes[bound], now)

    def _run(self, spec: dict[str, Any], node: NodeRecord, now: str) -> Outcome:
        container = spec["containers"][0]
        running = {"phase": "Pending", "hostIP": node.address, "startTime": now, "qosClass": "Burstable",
                   "conditions": [_condition("PodScheduled", "True", now)]}
        mount = _mount_of(spec, container)
        root = self.tree(node.name)
        if mount is not None and root is None:  # the kubelet mounts the volumes before it pulls the image
            message = f'MountVolume.SetUp failed for volume "{mount[1]}" : hostPath type check failed: ' \
                      f"{NODE_FOLDER} is not a directory"
            waiting = {"waiting": {"reason": "ContainerCreating"}}
            return Outcome({**running, "containerStatuses": [_container_status(container, waiting)]}, node.name,
                           events=[("Warning", "FailedMount", message)])
        image = normalized_image(container["image"])
        if image not in REGISTRY_IMAGES:
            message = (f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: '
                       "not found")
            waiting = {"waiting": {"reason": "ErrImagePull", "message": message}}
            return Outcome({**running, "containerStatuses": [_container_status(container, waiting)]}, node.name,
                           events=[("Warning", "Failed", f'Failed to pull image "{container["image"]}": {message}')])
        argv = [*container.get("command", []), *container.get("args", [])]
        command = _READER.fullmatch(argv[2]) if len(argv) == 3 and argv[:2] == ["sh", "-c"] else None
        kubelet = _mount_of(spec, container, KUBELET_FOLDER)
        reads = (mount is not None and kubelet is not None and root is not None and command is not None
                 and (command.group(1), command.group(2)) == (mount[0], kubelet[0]))
        code, reason = (0, "Completed") if reads else (1, "Error")
        ended = {"terminated": {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now}}
        done = "PodCompleted"
        conditions = [_condition(kind, "True" if kind in ("Initialized", "PodScheduled") else "False", now, done)
                      for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        status = {**running, "phase": "Succeeded" if reads else "Failed", "conditions": conditions,
                  "containerStatuses": [_container_status(container, ended)]}
        log = tree_log(root) if reads and root is not None else _NOT_READER.encode()
        return Outcome(status, node.name, log)

    def _event(self, pod: dict[str, Any], kind: str, reason: str, message: str, node: str | None) -> dict[str, Any]:
        metadata, now = pod["metadata"], _time(self.clock())
        source = "kubelet" if node and reason != "FailedScheduling" else "default-scheduler"
        return {
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": f"{metadata['name']}.{uuid.uuid4().hex[:16]}", "namespace": metadata["namespace"],
                         "uid": str(uuid.uuid4()), "resourceVersion": "1", "creationTimestamp": now},
            "involvedObject": {"kind": "Pod", "namespace": metadata["namespace"], "name": metadata["name"],
                               "uid": metadata["uid"], "apiVersion": "v1"},
            "reason": reason, "message": message, "type": kind, "count": 1, "firstTimestamp": now,
            "lastTimestamp": now, "source": {"component": source, **({"host": node} if node else {})},
            "reportingComponent": source, "reportingInstance": node or "",
        }


def _mount_of(spec: dict[str, Any], container: dict[str, Any],
              host_folder: str = NODE_FOLDER) -> tuple[str, str] | None:
    """(mount path, volume name) where the container mounts a hostPath volume of ``host_folder``."""
    host_paths = {volume.get("name"): volume for volume in spec.get("volumes") or []
                  if isinstance(volume, dict) and (volume.get("hostPath") or {}).get("path") in (host_folder,
                                                                                              host_folder + "/")}
    for mount in container.get("volumeMounts") or []:
        if isinstance(mount, dict) and mount.get("name") in host_paths:
            return str(mount.get("mountPath", "")).rstrip("/"), str(mount["name"])
    return None
