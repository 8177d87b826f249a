"""A cluster whose nodes kubecert can reach too (``reference:cluster``, ``kind:NAME``): its API as a kubeconfig
target sees it, every control-plane node's files (for the rules across nodes, and to tell that each node
was read), and its renewal as a whole (kubeadm on every control-plane node, then the API servers restart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubecert.inventory.cluster import ClusterInventory, NodeObject
from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.load import load_pki
from kubecert.inventory.model import Inventory
from kubecert.profiles import Profile
from kubecert.targets.base import Target
from kubecert.targets.cluster.client import ReadProblem
from kubecert.targets.cluster.components import observe_components
from kubecert.targets.cluster.nodes import node_uri
from kubecert.targets.cluster.shared_parts import ClusterParts, ClusterRenewalRun, PartOfCluster, borrow, give_back
from kubecert.targets.cluster.target import KubeconfigTarget
from kubecert.targets.errors import TargetUnavailable

CONTROLPLANE_ONLY = "spectrocloud.com/cert-renew-controlplane-only"


class WholeClusterTarget(PartOfCluster, KubeconfigTarget):
    """The cluster part of a cluster checked whole; its nodes are targets of their own (nodes.py)."""

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None,
                 open_parts: Callable[[], ClusterParts]) -> None:
        Target.__init__(self, uri, profile, options, facts)  # the kubeconfig is the parts', made on first use
        self.context = None
        self.kubeconfig = Path()
        self._client = None
        self.parts = borrow(uri, open_parts)
        self.trust = self.parts.trust
        self.notes = self.parts.notes  # what reading the nodes left out, shared by the cluster's targets
        self.parts.progress = self._progress
        self._renewals: dict[bool, ClusterRenewalRun] = {}

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities | {"node_files", "renew"}

    def capability_reasons(self) -> dict[str, str]:
        return {}

    def location(self) -> dict[str, str]:
        return {"cluster": self.id, "kubeconfig": str(self.kubeconfig)} if self.kubeconfig != Path() else {}

    def _observe(self, now: dt.datetime) -> ClusterInventory:
        self.kubeconfig = self.parts.kubeconfig()
        inventory = super()._observe(now)
        inventory.node_files = self.node_inventories()
        cluster = inventory.cluster
        assert cluster is not None
        read = [node for node, files in inventory.node_files.items() if isinstance(files, Inventory)]
        inventory.components = observe_components(self.client(), self.parts, read, cluster.nodes,
                                                  cluster.problems.get("nodes"))
        return inventory

    def _progress(self, line: str) -> None:
        self.progress(line)  # looked up at each line: the runner may point progress elsewhere after opening

    # --- ClusterActions

    def node_inventories(self) -> dict[str, Inventory | str]:
        found: dict[str, Inventory | str] = {}
        for node in self.parts.node_names():
            try:
                root = self.parts.node_tree(node)
            except TargetUnavailable as exc:
                found[node] = str(exc)
                continue
            kubelet = root / "kubelet"  # the kubelet's serving certificate is KC-CL-05's
            found[node] = load_pki(root / "pki", kubeconfig_dir=root, manifests_dir=root / "manifests",
                                   kubelet_dir=kubelet if self.parts.reads_kubelet and kubelet.is_dir() else None,
                                   declared=self.declared, target=node_uri(self.id, node), machine=node)
        return found

    def node_objects(self) -> tuple[NodeObject, ...]:
        try:
            return self.client().nodes()
        except ReadProblem as exc:
            raise TargetUnavailable(f"{self.id}: {exc}") from None

    def renew_cluster(self, controlplane_only: bool) -> ClusterRenewalRun:
        """A control-plane-only renewal sets the SpectroCluster's control-plane-only annotation first, where
        the cluster has that object, and puts it back after."""
        if controlplane_only not in self._renewals:
            self._renewals[controlplane_only] = self._renew(controlplane_only)
        return self._renewals[controlplane_only]

    def _renew(self, controlplane_only: bool) -> ClusterRenewalRun:
        spc = None
        if controlplane_only:
            try:
                spc = self.client().spectrocluster()
            except ReadProblem:
                spc = None
        if spc is None:
            return self.parts.renew(controlplane_only)
        version, namespace, name, annotations = spc
        before = annotations.get(CONTROLPLANE_ONLY)
        self.client().annotate(version, namespace, name, CONTROLPLANE_ONLY, "true")
        try:
            return self.parts.renew(controlplane_only)
        finally:
            self.client().annotate(version, namespace, name, CONTROLPLANE_ONLY, before)

    def close(self) -> None:
        super().close()
        give_back(self.id)
