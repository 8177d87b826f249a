"""What the targets of one cluster share in a run: its nodes' files and its renewal.

A cluster is checked as several targets: the cluster itself (``kind:NAME``, ``reference:cluster``: its API,
and rules across its nodes) and one target per control-plane node (``kind:NAME/NODE``: every node-file
rule on that node). They are opened one by one, so they meet here: the first opens the cluster's parts,
the others borrow them, the last to close releases them. Within one process that is; across processes
(xdist workers) each opens its own, and the targets' lock (their ``lock_key``: the cluster) keeps one
actor at a time.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from pathlib import Path

from kubecert.inventory.cluster import ClusterRenewalRun
from kubecert.inventory.components import Component, Started
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.protocols import NodeActions

__all__ = ["ClusterParts", "ClusterRenewalRun", "borrow", "give_back"]


class PartOfCluster:
    """A target that is one view of a cluster's shared parts (the whole cluster, or one of its nodes): it is what
    its URI names, and it locks with the cluster, so that nothing acts on a node while the cluster is read."""

    id: str
    parts: ClusterParts

    @property
    def identity(self) -> str:
        return self.id

    @property
    def lock_key(self) -> str:
        return self.parts.key


class ClusterParts(abc.ABC):
    """One cluster's nodes and renewal, as a kind of cluster reaches them."""

    acts_on_nodes = False  # its node targets' renewal rules can act on one node at a time
    reads_kubelet = False  # node_tree(node) holds the node's kubelet folder too, as ``kubelet/``
    trust = KubeconfigTrust()  # what kubeconfig() may make kubecert do: nothing beyond sending its data

    def __init__(self, key: str) -> None:
        self.key = key  # the cluster's identity: what every one of its targets locks
        self.notes: list[str] = []  # what a report must say about the cluster's nodes beyond the results
        self.progress: Callable[[str], None] = lambda line: None  # long waits; the cluster target points it

    @abc.abstractmethod
    def kubeconfig(self) -> Path:
        """A kubeconfig that reaches the cluster's API as its administrator."""

    @abc.abstractmethod
    def node_names(self) -> tuple[str, ...]:
        """The control-plane nodes whose files can be read."""

    @abc.abstractmethod
    def node_tree(self, node: str) -> Path:
        """A local folder holding the node's /etc/kubernetes as it is now (a fresh copy when it must be one),
        with the kubelet's config.yaml and pki/ in ``kubelet/`` where the parts read them."""

    @abc.abstractmethod
    def node_actions(self, node: str) -> NodeActions | None:
        """How the renewal rules act on that one node; None when they cannot."""

    @abc.abstractmethod
    def renew(self, controlplane_only: bool) -> ClusterRenewalRun:
        """Renew every control-plane node's certificates and restart what serves them."""

    def container_starts(self, node: str) -> dict[Component, Started]:
        """When each static pod's container started, as the node's container runtime tells (where the parts
        reach it: kind's crictl); empty where only the API's mirror Pods tell."""
        return {}

    def close(self) -> None:  # noqa: B027 - most parts hold nothing to release
        """Release what the parts hold (servers, folders)."""


_OPEN: dict[str, tuple[ClusterParts, int]] = {}
_LOCK = threading.Lock()


def borrow(key: str, make: Callable[[], ClusterParts]) -> ClusterParts:
    """The open parts of cluster ``key``, opened with ``make`` by the first target that asks."""
    with _LOCK:
        parts, count = _OPEN.get(key) or (None, 0)
        if parts is None:
            parts = make()
        _OPEN[key] = (parts, count + 1)
        return parts


def give_back(key: str) -> None:
    """The last target of cluster ``key`` to give its parts back closes them."""
    with _LOCK:
        parts, count = _OPEN.get(key, (None, 0))
        if parts is None:
            return
        if count > 1:
            _OPEN[key] = (parts, count - 1)
            return
        del _OPEN[key]
    parts.close()
