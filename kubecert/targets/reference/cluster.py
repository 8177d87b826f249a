"""``reference:cluster``: the reference's Kubernetes cluster (three control-plane nodes with kubeadm trees,
two workers, a Kubernetes-style API over mutual TLS), made fresh for the run and served on loopback;
``reference:cluster/cp-N`` is one of its control-plane nodes, judged like a node's PKI folder.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.targets.cluster.nodes import ClusterNodeTarget, split_node
from kubecert.targets.cluster.parts import ClusterParts, ClusterRenewalRun
from kubecert.targets.cluster.whole import WholeClusterTarget
from kubecert.targets.protocols import NodeActions

CONTROL_PLANES, WORKERS = 3, 2
KEY_ALGORITHM = "ECDSA-P256"  # fast to make: the cluster is made for every run


class ReferenceClusterParts(ClusterParts):
    acts_on_nodes = True
    reads_kubelet = True  # each node's folder holds its kubelet's, as kubecert reference pki init writes it

    def __init__(self, key: str, profile: Profile, faults: frozenset[str]) -> None:
        from kubecert.reference.kube import ClusterServer, ClusterSpec, ReferenceCluster

        super().__init__(key)
        self.folder = Path(tempfile.mkdtemp(prefix="kubecert-reference-cluster-"))
        try:
            self.cluster = ReferenceCluster.create(
                self.folder / "cluster", ClusterSpec(control_planes=CONTROL_PLANES, workers=WORKERS,
                                                     key_algorithm=KEY_ALGORITHM), faults=faults)
            self.server = ClusterServer(self.cluster)
            self.server.start()
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.leaf_days = profile.leaf_days

    def kubeconfig(self) -> Path:
        return self.server.admin_kubeconfig

    def node_names(self) -> tuple[str, ...]:
        return self.cluster.control_plane_nodes()

    def node_tree(self, node: str) -> Path:
        return self.cluster.node_root(node)

    def node_actions(self, node: str) -> NodeActions | None:
        from kubecert.targets.reference.actions import ReferenceActions

        return ReferenceActions(self.cluster.node_root(node), leaf_days=self.leaf_days)

    def renew(self, controlplane_only: bool) -> ClusterRenewalRun:
        started = dt.datetime.now(dt.UTC)
        done = self.cluster.renew(controlplane_only)
        return ClusterRenewalRun(started, dt.datetime.now(dt.UTC), renewed=done.renewed,
                                 controlplane_only=controlplane_only,
                                 output={node: "\n".join(lines) for node, lines in done.logs.items()})

    def close(self) -> None:
        try:
            self.server.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


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
