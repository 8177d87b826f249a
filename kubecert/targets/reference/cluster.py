"""``reference:cluster``: the reference's Kubernetes cluster (three control-plane nodes with kubeadm trees,
two workers, a Kubernetes-style API over mutual TLS), made fresh for the run and served on loopback;
``reference:cluster/cp-N`` is one of its control-plane nodes, judged like a node's PKI folder.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kubecert.inventory.action import ActionRecord
from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.targets.cluster.nodes import ClusterNodeTarget, split_node
from kubecert.targets.cluster.shared_parts import ClusterParts, ClusterRenewalRun
from kubecert.targets.cluster.whole_cluster import WholeClusterTarget
from kubecert.targets.protocols import NodeActions
from kubecert.targets.reference.actions import ReferenceActions

if TYPE_CHECKING:  # the reference cluster is imported when a run first needs it
    from kubecert.reference.kube import ClusterServer, ReferenceCluster

CONTROL_PLANES, WORKERS = 3, 2
KEY_ALGORITHM = "ECDSA-P256"  # fast to make: the cluster is made for every run


class ReferenceClusterParts(ClusterParts):
    """The reference cluster of one run, made and served when a check first needs it (a run that lists its
    targets, or a worker that judges other targets, makes none)."""

    acts_on_nodes = True
    reads_kubelet = True  # each node's folder holds its kubelet's, as kubecert reference pki init writes it

    def __init__(self, key: str, profile: Profile, faults: frozenset[str]) -> None:
        super().__init__(key)
        self.faults = faults
        self.leaf_days = profile.leaf_days
        self._served: tuple[Path, ReferenceCluster, ClusterServer] | None = None
        self._lock = threading.Lock()

    def _opened(self) -> tuple[ReferenceCluster, ClusterServer]:
        from kubecert.reference.kube import ClusterServer, ClusterSpec, ReferenceCluster

        with self._lock:
            if self._served is None:
                folder = Path(tempfile.mkdtemp(prefix="kubecert-reference-cluster-"))
                try:
                    cluster = ReferenceCluster.create(
                        folder / "cluster", ClusterSpec(control_planes=CONTROL_PLANES, workers=WORKERS,
                                                        key_algorithm=KEY_ALGORITHM), faults=self.faults)
                    server = ClusterServer(cluster)
                    server.start()
                except BaseException:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise
                self._served = folder, cluster, server
            return self._served[1:]

    @property
    def cluster(self) -> ReferenceCluster:
        return self._opened()[0]

    @property
    def server(self) -> ClusterServer:
        return self._opened()[1]

    def kubeconfig(self) -> Path:
        return self.server.admin_kubeconfig

    def node_names(self) -> tuple[str, ...]:
        return self.cluster.control_plane_nodes()

    def node_tree(self, node: str) -> Path:
        return self.cluster.node_root(node)

    def node_actions(self, node: str) -> NodeActions | None:
        return RestartingActions(self.cluster, node, leaf_days=self.leaf_days)

    def renew(self, controlplane_only: bool) -> ClusterRenewalRun:
        started = dt.datetime.now(dt.UTC)
        done = self.cluster.renew(controlplane_only)
        return ClusterRenewalRun(started, dt.datetime.now(dt.UTC), renewed=done.renewed,
                                 controlplane_only=controlplane_only,
                                 output={node: "\n".join(lines) for node, lines in done.logs.items()})

    def close(self) -> None:
        with self._lock:
            served, self._served = self._served, None
        if served is None:
            return
        folder, _, server = served
        try:
            server.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class RestartingActions(ReferenceActions):
    """The renewal checks' actions on one node of the reference cluster: kubeadm's, then what its note asks,
    the node's static pods restarted after a renewal (which renewal-skips-restart leaves out)."""

    def __init__(self, cluster: ReferenceCluster, node: str, *, leaf_days: int) -> None:
        super().__init__(cluster.node_root(node), leaf_days=leaf_days)
        self.cluster, self.node = cluster, node

    def _restarted(self, record: ActionRecord) -> ActionRecord:
        if record.exit_code == 0:
            self.cluster.restart_static_pods((self.node,))
        return record

    def renew_all(self) -> ActionRecord:
        return self._restarted(super().renew_all())

    def renew_one(self, name: str) -> ActionRecord:
        return self._restarted(super().renew_one(name))

    def upgrade(self, certificate_renewal: bool) -> ActionRecord:
        return self._restarted(super().upgrade(certificate_renewal))


class ReferenceClusterTarget(WholeClusterTarget):
    default_profile = "palette"
    disruptive_by_default = True
    faults: ClassVar[frozenset[str]] = frozenset()  # tests subclass this to serve a faulty cluster

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        faults = self.faults
        super().__init__(uri, profile, options, facts, lambda: ReferenceClusterParts(uri, profile, faults))


class ReferenceClusterNodeTarget(ClusterNodeTarget):
    default_profile = "palette"
    disruptive_by_default = True
    faults: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        cluster, _ = split_node(uri)
        faults = self.faults
        super().__init__(uri, profile, options, facts, lambda: ReferenceClusterParts(cluster, profile, faults))
