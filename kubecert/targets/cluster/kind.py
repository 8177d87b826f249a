"""``kind:NAME[?runtime=docker|podman]``: a kind cluster, its API and every control-plane node's files.

kind's nodes are containers labelled ``io.x-k8s.kind.cluster=NAME``; each one's role is its
``io.x-k8s.kind.role`` label and its Node object is named after its hostname. kubecert reaches them through
the container engine's client, as kind does: the admin kubeconfig is read from the first control-plane node
and pointed at the port the engine publishes for the API (the load balancer's, in an HA cluster); a node's
/etc/kubernetes is copied out as a tar stream (tarcopy.py) whenever it is read; renewal runs
``kubeadm certs renew all`` in each control-plane node and restarts its static pods (``crictl stop``: the
kubelet starts them again, reading the renewed files), then waits for each API server to come back; a
renewal check on one node restarts that node's static pods after kubeadm the same way. ``crictl inspect``
says when each static pod's container started (KC-CL-06).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubecert.inventory.action import ActionRecord
from kubecert.inventory.components import STATIC_PODS, Component, Started
from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.safe_yaml import YamlError, load_bounded
from kubecert.profiles import Profile
from kubecert.targets.base import split_uri
from kubecert.targets.cluster import crictl
from kubecert.targets.cluster.access import access_from_document
from kubecert.targets.cluster.nodes import ClusterNodeTarget, split_node, with_nodes
from kubecert.targets.cluster.runtime import ContainerRuntime, chosen_runtime
from kubecert.targets.cluster.shared_parts import ClusterParts, ClusterRenewalRun
from kubecert.targets.cluster.tarcopy import MAX_STREAM_BYTES, unpack
from kubecert.targets.cluster.trust import FROM_NODE
from kubecert.targets.cluster.whole_cluster import WholeClusterTarget
from kubecert.targets.commands import action_timeout, run_command
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.text import escaped

CLUSTER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"
NODE_FOLDER = "/etc/kubernetes"
KUBELET_FOLDER = "/var/lib/kubelet"
KUBELET_FILES = ("config.yaml", "pki")  # not the rest: /var/lib/kubelet holds other pods' volumes
API_PORT = "6443/tcp"
RESTART_WAIT_S = 180.0  # how long a restarted API server may take to serve again
MAX_NODES = 64
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}")
_QUERY_KEYS = ("runtime",)


@dataclass(frozen=True)
class KindNode:
    container: str
    name: str  # the Node object's name: the container's hostname
    role: str  # control-plane, worker, external-load-balancer
    state: str


def cluster_name(uri: str) -> tuple[str, dict[str, str]]:
    """``kind:NAME[?runtime=...]`` → (NAME, query); a name kind would not make is a usage error."""
    name, query = split_uri(uri, "kind", _QUERY_KEYS)
    if not _NAME.fullmatch(name):
        raise TargetError(f"{escaped(uri)}: give the kind cluster's name, e.g. kind:kind "
                          "(`kind get clusters` lists them)")
    return name, query


def list_nodes(runtime: ContainerRuntime, name: str) -> list[KindNode]:
    """The cluster's containers, as the engine labels them."""
    containers = runtime.text(["ps", "-a", "--filter", f"label={CLUSTER_LABEL}={name}", "--format", "{{.Names}}"])
    names = containers.split()
    if not names:
        raise TargetUnavailable(f"no kind cluster {name!r}: {runtime.command} has no container labelled "
                                f"{CLUSTER_LABEL}={name} (`kind get clusters` lists the clusters)")
    if len(names) > MAX_NODES or not all(_NAME.fullmatch(n) for n in names):
        raise TargetUnavailable(f"{runtime.command} listed {len(names)} containers for {name!r}, not all of them "
                                "kind's node names; not read")
    # "|" between the fields: Go templates take "\t" literally, and no name or state can hold a "|".
    template = "{{index .Config.Labels \"" + ROLE_LABEL + "\"}}|{{.Config.Hostname}}|{{.State.Status}}"
    rows = runtime.text(["inspect", "--format", template, *names]).splitlines()
    if len(rows) != len(names):
        raise TargetUnavailable(f"{runtime.command} inspect described {len(rows)} of {len(names)} containers")
    found = []
    for container, row in zip(names, rows, strict=True):
        role, hostname, state = [*row.split("|"), "", ""][:3]
        found.append(KindNode(container, hostname if _NAME.fullmatch(hostname) else container, role, state))
    return sorted(found, key=lambda n: _natural(n.container))


def _natural(name: str) -> tuple[str, int]:
    """kind numbers its nodes control-plane, control-plane2, ...: the first has no number."""
    match = re.fullmatch(r"(.*?)(\d*)", name)
    assert match is not None
    return match.group(1), int(match.group(2) or 1)


def published_port(listing: str) -> int:
    """The host port in ``docker port C 6443/tcp``'s lines (``0.0.0.0:PORT``, ``127.0.0.1:PORT``, ``[::]:PORT``)."""
    for line in listing.splitlines():
        host, _, port = line.strip().rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return int(port)
    raise TargetUnavailable(f"the API port is not published: {escaped(listing.strip()) or 'nothing'}")


class KindParts(ClusterParts):
    """A kind cluster's nodes through the container engine; nothing is asked of the engine until needed."""

    acts_on_nodes = True
    reads_kubelet = True
    trust = FROM_NODE  # the admin kubeconfig is the node's: it runs nothing and names no file kubecert reads

    def __init__(self, key: str, name: str, runtime: ContainerRuntime, action_timeout_s: float) -> None:
        super().__init__(key)
        self.name = name
        self.runtime = runtime
        self.action_timeout_s = action_timeout_s
        self.folder = Path(tempfile.mkdtemp(prefix="kubecert-kind-"))  # 0700: it holds the admin kubeconfig
        self._nodes: list[KindNode] | None = None
        self._kubeconfig: Path | None = None

    def nodes(self) -> list[KindNode]:
        if self._nodes is None:
            self._nodes = list_nodes(self.runtime, self.name)
        return self._nodes

    def _control_plane(self) -> list[KindNode]:
        found = [node for node in self.nodes() if node.role == "control-plane"]
        if not found:
            raise TargetUnavailable(f"kind cluster {self.name!r} has no control-plane container")
        return found

    def _container(self, node: str) -> str:
        for candidate in self._control_plane():
            if node in (candidate.name, candidate.container):
                return candidate.container
        raise TargetUnavailable(f"{node!r} is not a control-plane node of kind cluster {self.name!r}")

    def kubeconfig(self) -> Path:
        if self._kubeconfig is None:
            first = self._control_plane()[0].container
            where = f"{first}:{NODE_FOLDER}/admin.conf"
            try:
                data = self.runtime.run(["exec", first, "cat", f"{NODE_FOLDER}/admin.conf"])
                document = load_bounded(data, max_bytes=len(data) + 1)
            except (TargetUnavailable, YamlError) as exc:
                raise TargetUnavailable(f"the kubeconfig {where}: {exc}") from None
            if not isinstance(document, dict) or not isinstance(document.get("clusters"), list):
                raise TargetUnavailable(f"the kubeconfig {where} is not a kubeconfig")
            balancer = [n.container for n in self.nodes() if n.role == "external-load-balancer"]
            port = published_port(self.runtime.text(["port", (balancer or [first])[0], API_PORT]))
            for entry in document["clusters"]:
                if isinstance(entry, dict) and isinstance(entry.get("cluster"), dict):
                    entry["cluster"]["server"] = f"https://127.0.0.1:{port}"  # kind's own kubeconfig says the same
            # Refused here, naming the node's file, before anything of it is kept.
            access_from_document(document, where, None, self.trust, None)
            path = self.folder / "admin.conf"
            path.touch(0o600)
            path.write_text(yaml.safe_dump(document, sort_keys=False))
            self._kubeconfig = path
        return self._kubeconfig

    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self._control_plane())

    def node_tree(self, node: str) -> Path:
        """A fresh copy of the node's /etc/kubernetes, in the same place each time."""
        container = self._container(node)
        data = self.runtime.run(["exec", container, "tar", "-C", NODE_FOLDER, "-cf", "-", "."],
                                max_bytes=MAX_STREAM_BYTES)
        dest = self.folder / "nodes" / node
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(exist_ok=True)
        notes = unpack(data, dest, NODE_FOLDER)
        try:  # the kubelet's files are the kubelet rules' own: without them, only those rules cannot judge
            kubelet = self.runtime.run(["exec", container, "tar", "-C", KUBELET_FOLDER, "-cf", "-", *KUBELET_FILES],
                                       max_bytes=MAX_STREAM_BYTES)
            notes += unpack(kubelet, dest / "kubelet", KUBELET_FOLDER)
        except TargetUnavailable as exc:
            notes.append(f"{KUBELET_FOLDER} could not be copied: {exc}")
        self.note(node, notes)
        return dest

    def note(self, node: str, notes: list[str]) -> None:
        """What a copy out of ``node`` left out, in the report's notes (once)."""
        for note in notes:
            if f"{node}: {note}" not in self.notes:
                self.notes.append(f"{node}: {note}")

    def node_actions(self, node: str) -> KindNodeActions:
        return KindNodeActions(self, node)

    def exec_action(self, action: str, node: str, argv: list[str]) -> ActionRecord:
        """``kubeadm ...`` (or another command) run in the node's container, stopped after the action timeout."""
        binary = shutil.which(self.runtime.command) or self.runtime.command
        return run_command(action, [binary, "exec", self._container(node), *argv], self.action_timeout_s)

    def restart_static_pods(self, node: str) -> list[str]:
        """``crictl stop`` each control-plane container: the kubelet starts it again from its manifest."""
        container, lines = self._container(node), []
        before = crictl.running(self.runtime, container, "kube-apiserver")
        for pod in STATIC_PODS:
            ids = crictl.running(self.runtime, container, pod)
            if ids:
                self.runtime.run(["exec", container, "crictl", "stop", *ids], timeout=self.action_timeout_s)
                lines.append(f"[restart] stopped {pod} ({len(ids)} container(s)); the kubelet starts it again")
        deadline = time.monotonic() + RESTART_WAIT_S
        while time.monotonic() < deadline:
            now = crictl.running(self.runtime, container, "kube-apiserver")
            if now and not set(now) & set(before):
                lines.append("[restart] kube-apiserver is running again")
                return lines
            self.progress(f"{self.key}: waiting for kube-apiserver on {node} to start again")
            time.sleep(2.0)
        raise TargetUnavailable(f"kube-apiserver on {node} did not start again within {RESTART_WAIT_S:g} s")

    def wait_for_api(self, node: str) -> str:
        """Until the cluster's API answers again (through the load balancer, with the renewed certificates),
        so that the next node is restarted only then and the checks after the renewal can read it."""
        from kubecert.targets.cluster.access import access_from_file
        from kubecert.targets.cluster.client import ClusterClient, ReadProblem

        deadline = time.monotonic() + RESTART_WAIT_S
        client = ClusterClient(access_from_file(self.kubeconfig(), None, self.trust))
        try:
            while True:
                try:
                    return f"[restart] the API answers again: {escaped(client.version())}"
                except ReadProblem as exc:
                    if time.monotonic() > deadline:
                        raise TargetUnavailable(f"the API did not answer within {RESTART_WAIT_S:g} s after "
                                                f"{node} restarted: {exc}") from None
                self.progress(f"{self.key}: waiting for the API after restarting {node}")
                time.sleep(2.0)
        finally:
            client.close()

    def container_starts(self, node: str) -> dict[Component, Started]:
        """When each static pod's container started, as crictl in the node tells."""
        return crictl.container_starts(self.runtime, self._container(node))

    def renew(self, controlplane_only: bool) -> ClusterRenewalRun:
        """kind's workers hold no kubeadm certificates: every renewal leaves them, control-plane-only or not."""
        started, renewed, output = dt.datetime.now(dt.UTC), list[str](), dict[str, str]()
        for node in self.node_names():
            self.progress(f"{self.key}: kubeadm certs renew all on {node}")
            record = self.exec_action("renew all", node, ["kubeadm", "certs", "renew", "all"])
            output[node] = record.stdout + record.stderr
            if record.exit_code != 0:
                return ClusterRenewalRun(started, dt.datetime.now(dt.UTC), tuple(renewed), controlplane_only, output,
                                         problem=f"kubeadm certs renew all on {node}: {record.failure()}")
            try:
                output[node] += "\n".join([*self.restart_static_pods(node), self.wait_for_api(node)]) + "\n"
            except TargetUnavailable as exc:
                return ClusterRenewalRun(started, dt.datetime.now(dt.UTC), (*renewed, node), controlplane_only,
                                         output, problem=str(exc))
            renewed.append(node)
        return ClusterRenewalRun(started, dt.datetime.now(dt.UTC), tuple(renewed), controlplane_only, output)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class KindNodeActions:
    """The renewal checks' actions on one kind node: kubeadm in its container, its files copied after."""

    def __init__(self, parts: KindParts, node: str) -> None:
        self.parts = parts
        self.node = node
        root = parts.folder / "nodes" / node
        self.pki_dir, self.kubeconfig_dir = root / "pki", root

    def _kubeadm(self, action: str, *words: str) -> ActionRecord:
        return self.parts.exec_action(action, self.node, ["kubeadm", *words])

    def _restarted(self, record: ActionRecord) -> ActionRecord:
        """What kubeadm's note asks after a renewal: the node's static pods restarted (and the API waited for),
        so that a check leaves no component on the certificates it loaded before. One that cannot be restarted
        is named in the report's notes; the certificates on disk are renewed all the same."""
        if record.succeeded:
            try:
                self.parts.restart_static_pods(self.node)
                self.parts.wait_for_api(self.node)
            except TargetUnavailable as exc:
                self.parts.note(self.node, [f"its static pods were not restarted after {record.action}: {exc}; "
                                            "restart them (crictl stop on each, or move each manifest out of "
                                            "/etc/kubernetes/manifests for ~20 s)"])
        return record

    def renew_all(self) -> ActionRecord:
        return self._restarted(self._kubeadm("renew all", "certs", "renew", "all"))

    def renew_one(self, name: str) -> ActionRecord:
        return self._restarted(self._kubeadm(f"renew {name}", "certs", "renew", name))

    def check_expiration(self) -> ActionRecord:
        return self._kubeadm("check-expiration", "certs", "check-expiration")

    def upgrade(self, certificate_renewal: bool) -> ActionRecord:
        flag = "true" if certificate_renewal else "false"
        record = self._kubeadm(f"upgrade (certificate renewal {flag})", "upgrade", "node",
                               f"--certificate-renewal={flag}")
        return self._restarted(record) if certificate_renewal else record

    def generate_csr(self, csr_dir: Path) -> ActionRecord:
        """kubeadm writes the CSRs in a scratch folder of the container; they are copied here and it is removed."""
        container = self.parts._container(self.node)
        # The container's /tmp, made by its own mktemp: nothing of this machine's.
        scratch = self.parts.runtime.text(["exec", container, "mktemp", "-d", "/tmp/kubecert-csr.XXXXXX"]).strip()  # noqa: S108
        if not re.fullmatch(r"/tmp/kubecert-csr\.[A-Za-z0-9]+", scratch):  # noqa: S108
            raise TargetUnavailable(f"mktemp in {container} answered {escaped(scratch)!r}")
        try:
            record = self._kubeadm("generate-csr", "certs", "generate-csr", "--cert-dir", f"{scratch}/pki",
                                   "--kubeconfig-dir", scratch)
            if record.exit_code == 0:
                data = self.parts.runtime.run(["exec", container, "tar", "-C", scratch, "-cf", "-", "."],
                                              max_bytes=MAX_STREAM_BYTES)
                self.parts.note(self.node, unpack(data, csr_dir, scratch))  # made 0700, then the scratch's mode
            return record
        finally:
            self.parts.runtime.run(["exec", container, "rm", "-rf", scratch])


def expand_kind(uri: str) -> list[str]:
    """``kind:NAME`` stands for the cluster and one target per control-plane node (found through the engine
    now; when it cannot be asked, the cluster target alone, which then says why)."""
    if "/" in uri.partition("?")[0]:
        return [uri]
    try:
        name, options = cluster_name(uri)
        nodes = list_nodes(ContainerRuntime(chosen_runtime(options)), name)
    except (TargetError, TargetUnavailable):
        return [uri]
    return with_nodes(uri, (node.name for node in nodes if node.role == "control-plane"))


def _parts_opener(cluster_uri: str, options: Mapping[str, Any]) -> Any:
    name, query = cluster_name(cluster_uri)
    runtime = ContainerRuntime(chosen_runtime(query))
    timeout = action_timeout(options)
    return lambda: KindParts(cluster_uri, name, runtime, timeout)


class KindClusterTarget(WholeClusterTarget):
    scheme = "kind"
    default_profile = "kubeadm"

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        super().__init__(uri, profile, options, facts, _parts_opener(uri, options))


class KindNodeTarget(ClusterNodeTarget):
    scheme = "kind"
    default_profile = "kubeadm"

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        cluster, _ = split_node(uri)
        super().__init__(uri, profile, options, facts, _parts_opener(cluster, options))


def kind_target(uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> Any:
    base = uri.partition("?")[0]
    return (KindNodeTarget if "/" in base else KindClusterTarget)(uri, profile, options, facts)
