"""Reading a cluster's control-plane nodes through its API: one short-lived pod per node (``?nodes=pods``).

For each control-plane Node object (labelled with the control-plane or the older master role) kubecert
creates the pod readerpod.py describes, pinned to that node, waits for it to finish (saying on the terminal
what it waits for), reads its log (bounded: see LOG_LIMIT), decodes the tar stream and unpacks it as the
kind backend unpacks a container's copy (tarcopy.py). The pod is deleted whatever happens: after success,
on failure, on timeout and when the run is stopped (Ctrl-C, SIGTERM); one that could not be deleted is
named in the report's notes. A node is read once per run. Nothing is ever written to a node: the node
targets have no actions, so their renewal rules are skipped.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from kubecert.inventory.cluster import NodeObject
from kubecert.stopping import stop_signals_to
from kubecert.targets.cluster import readerpod as rp
from kubecert.targets.cluster.access import access_from_file
from kubecert.targets.cluster.client import ClusterClient, ReadProblem
from kubecert.targets.cluster.permissions import RBAC_MANIFEST
from kubecert.targets.cluster.podapi import PodApi, TooLarge
from kubecert.targets.cluster.shared_parts import ClusterParts, ClusterRenewalRun
from kubecert.targets.cluster.tarcopy import unpack
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.errors import TargetUnavailable, failure_copy
from kubecert.text import escaped

# The kubelet rotates a container's log at 10 MiB (containerLogMaxSize) and the API serves only the current
# file, so a longer log would come back cut short; 8 MiB of base64 is about 6 MiB of files, where a kubeadm
# node's /etc/kubernetes holds well under 1 MiB.
LOG_LIMIT = 8 << 20
DEFAULT_TIMEOUT_S = 120.0  # an image pull on a slow registry included
POLL_S = 1.0
PROGRESS_EVERY_S = 10.0
MAX_NODES = 64
READ_ONLY = ("nodes read through pods are only read: kubecert renews nothing through a pod (renew on the node, "
             "as pki:PATH with --renew-command, or check the cluster as kind:NAME or through palette:)")
_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")  # a Node's name: a DNS subdomain
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_FINAL_WAIT = frozenset({"InvalidImageName", "ErrImageNeverPull"})  # waiting longer changes nothing


class PodsParts(ClusterParts):
    """The control-plane nodes of the cluster a kubeconfig reaches, read through pods in ``namespace``."""

    reads_kubelet = True

    def __init__(self, key: str, kubeconfig: Path, context: str | None, *, namespace: str, image: str,
                 timeout_s: float, trust: KubeconfigTrust) -> None:
        super().__init__(key)
        self.path = kubeconfig
        self.context = context
        self.trust = trust  # the operator's kubeconfig, with the operator's opt-ins
        self.namespace = namespace
        self.image = image
        self.timeout_s = timeout_s
        self.run = secrets.token_hex(4)  # names this run's pods, and labels them
        self.folder = Path(tempfile.mkdtemp(prefix="kubecert-pods-"))  # 0700: it holds the nodes' keys
        self._client: ClusterClient | None = None
        self._nodes: dict[str, NodeObject] | None = None
        self._read: dict[str, Path | TargetUnavailable] = {}
        self._lock = threading.Lock()

    def client(self) -> ClusterClient:
        if self._client is None:
            self._client = ClusterClient(access_from_file(self.path, self.context, self.trust))
        return self._client

    def kubeconfig(self) -> Path:
        return self.path

    def control_plane(self) -> dict[str, NodeObject]:
        """The control-plane Node objects by name, as the API lists them now (once per run)."""
        if self._nodes is None:
            try:
                listed = self.client().nodes()
            except ReadProblem as exc:
                raise TargetUnavailable(str(exc)) from None
            found = [node for node in listed if node.control_plane]
            for node in found:
                if not _NAME.fullmatch(node.name):
                    self._note(f"a control-plane Node object named {escaped(node.name)!r} is not a node name; not read")
            if len(found) > MAX_NODES:
                raise TargetUnavailable(f"the API lists {len(found)} control-plane nodes; kubecert reads at most "
                                        f"{MAX_NODES}")
            self._nodes = {node.name: node for node in found if _NAME.fullmatch(node.name)}
        return self._nodes

    def node_names(self) -> tuple[str, ...]:
        return tuple(self.control_plane())

    def node_tree(self, node: str) -> Path:
        """The node's /etc/kubernetes as its reader pod printed it; read once, the same folder after."""
        with self._lock:
            if node not in self._read:
                try:
                    self._read[node] = self._read_node(node)
                except TargetUnavailable as exc:
                    self._read[node] = failure_copy(exc)
            found = self._read[node]
        if isinstance(found, TargetUnavailable):
            raise failure_copy(found)  # one node read once, however many checks ask
        return found

    def _read_node(self, node: str) -> Path:
        if node not in self.control_plane():
            raise TargetUnavailable(f"{escaped(node)!r} is not a control-plane Node object of {self.key}")
        index = list(self.control_plane()).index(node) + 1
        name = f"kubecert-reader-{self.run}-{index}"
        api = PodApi(self.client(), self.namespace)
        manifest = rp.reader_pod(name, self.namespace, node, image=self.image, run=self.run,
                                 deadline_s=int(self.timeout_s) + 30)
        try:
            _created(api, manifest, node)
            pod = self._wait(api, name, node)
            if rp.phase(pod) != "Succeeded":
                raise TargetUnavailable(f"{node}: the reader pod {self.namespace}/{name} failed: "
                                        f"{rp.failure_reason(pod)}{self._taints(node)}")
            return self._unpacked(node, name, _log(api, name, node))
        finally:
            with _signals_held():
                self._delete(api, name, node)

    def _wait(self, api: PodApi, name: str, node: str) -> dict[str, Any]:
        """The pod once it has finished; TargetUnavailable when it has not within the timeout."""
        started = time.monotonic()
        said: str | None = None  # what the terminal was last told; the first state is always said
        said_at = started
        while True:
            pod = api.read(name)
            state = rp.phase(pod)
            if state in ("Succeeded", "Failed"):
                return pod
            why = rp.waiting_reason(pod)
            elapsed = time.monotonic() - started
            if elapsed >= self.timeout_s or why.split(":")[0] in _FINAL_WAIT:
                why = why or rp.warning_events(api.events(name)) or "no kubelet has reported on it (is the node up?)"
                raise TargetUnavailable(f"{node}: the reader pod {self.namespace}/{name} is still {state} after "
                                        f"{elapsed:.0f} s: {why}{self._taints(node)}")
            if why != said or time.monotonic() - said_at >= PROGRESS_EVERY_S:
                self.progress(f"{self.key}: reading {node} through the pod {self.namespace}/{name}: {state}"
                              f"{f' ({why})' if why else ''}, {elapsed:.0f} s")
                said, said_at = why, time.monotonic()
            time.sleep(min(POLL_S, max(self.timeout_s - elapsed, 0.0)))

    def _taints(self, node: str) -> str:
        taints = self.control_plane()[node].taints
        return f" (the node's taints: {', '.join(escaped(t) for t in taints)})" if taints else ""

    def _unpacked(self, node: str, name: str, log: bytes) -> Path:
        dest = self.folder / "nodes" / node
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(exist_ok=True)
        tree_log, _, kubelet_log = log.partition(rp.KUBELET_MARK.encode() + b"\n")
        try:
            data, said = decode_log(tree_log)
            notes = unpack(data, dest, rp.NODE_FOLDER)
        except TargetUnavailable as exc:
            raise TargetUnavailable(f"{node}: the log of {self.namespace}/{name}: {exc}") from None
        try:  # the kubelet's files are the kubelet rules' own: without them, only those rules cannot judge
            kubelet, kubelet_said = decode_log(kubelet_log)
            notes += unpack(kubelet, dest / "kubelet", rp.KUBELET_FOLDER) if kubelet else []
            said += kubelet_said
        except TargetUnavailable as exc:
            notes.append(f"{rp.KUBELET_FOLDER} could not be read from the log of {self.namespace}/{name}: {exc}")
        for line in said[:5]:
            self._note(f"{node}: the reader's tar said: {line}")
        for note in notes:
            self._note(f"{node}: {note}")
        return dest

    def _delete(self, api: PodApi, name: str, node: str) -> None:
        try:
            api.delete(name)
        except ReadProblem as exc:
            self._note(f"the reader pod {self.namespace}/{name} (on {node}) could not be deleted: {exc}; delete it "
                       f"with: kubectl delete pod -n {self.namespace} {name}")

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def node_actions(self, node: str) -> None:
        return None

    def renew(self, controlplane_only: bool) -> ClusterRenewalRun:
        raise TargetUnavailable(READ_ONLY)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _created(api: PodApi, manifest: dict[str, Any], node: str) -> None:
    try:
        api.create(manifest, node)
    except ReadProblem as exc:
        if exc.status == 404:
            raise TargetUnavailable(f"{exc}: the namespace {api.namespace} must exist ({RBAC_MANIFEST} makes it, "
                                    "or name another with &namespace=NS)") from None
        raise


def _log(api: PodApi, name: str, node: str) -> bytes:
    try:
        return api.log(name, LOG_LIMIT)
    except TooLarge:
        raise TargetUnavailable(f"{node}: /etc/kubernetes is larger than a reader pod's log may be ({LOG_LIMIT >> 20} "
                                f"MiB of base64, about {LOG_LIMIT * 3 // 4 >> 20} MiB of files); not read") from None


def decode_log(log: bytes) -> tuple[bytes, list[str]]:
    """The tar stream in the reader's log, and the lines that are not base64 (what tar said on stderr, which
    the log interleaves with the data), escaped."""
    data, said = [], []
    for raw in log.splitlines():
        line = raw.strip()
        if _BASE64_LINE.fullmatch(line):
            data.append(line)
        else:
            said.append(escaped(line[:200].decode(errors="replace")))
    try:
        return base64.b64decode(b"".join(data), validate=True), said
    except (binascii.Error, ValueError):
        raise TargetUnavailable("the reader's log is not base64: " + ("; ".join(said[:3]) or "broken lines")) from None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM while a pod is being deleted waits until the delete has returned (within its
    short deadline), then stops the run: a pod left behind keeps a node's keys one log read away."""
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    with stop_signals_to(hold):
        yield
    if caught:
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(caught[0]).name}")
