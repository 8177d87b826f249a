"""One control-plane node of a cluster as a target of its own: every node-file rule runs on it.

``CLUSTER/NODE`` reads the node's /etc/kubernetes through the cluster's parts (a folder of the reference,
a copy out of a kind node's container) and judges it as a ``pki:`` folder is judged; its renewal rules act
through the parts too. Its lock is the cluster's: nothing acts on one node while the cluster is renewed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.model import Inventory
from kubecert.profiles import Profile
from kubecert.targets.base import Target
from kubecert.targets.cluster.shared_parts import ClusterParts, PartOfCluster, borrow, give_back
from kubecert.targets.commands import ACTION_CAPABILITIES
from kubecert.targets.errors import TargetError
from kubecert.targets.pki import PkiTarget
from kubecert.targets.protocols import NodeActions


def split_node(uri: str) -> tuple[str, str]:
    """``kind:NAME/NODE[?QUERY]`` → (``kind:NAME[?QUERY]``, ``NODE``): the query is the cluster's."""
    base, _, query = uri.partition("?")
    cluster, _, node = base.rpartition("/")
    if not cluster or not node:
        raise TargetError(f"{uri}: a node target is CLUSTER/NODE")
    return cluster + (f"?{query}" if query else ""), node


def node_uri(cluster: str, node: str) -> str:
    """``SCHEME:CLUSTER[?QUERY]`` → ``SCHEME:CLUSTER/NODE[?QUERY]``, split_node's inverse."""
    base, _, query = cluster.partition("?")
    return f"{base}/{node}" + (f"?{query}" if query else "")


def with_nodes(uri: str, nodes: Iterable[str]) -> list[str]:
    """The cluster URI and one node URI per node: what a cluster URI stands for."""
    return [uri, *(node_uri(uri, node) for node in nodes)]


class ClusterNodeTarget(PartOfCluster, PkiTarget):
    """A control-plane node's files, read through its cluster's parts."""

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None,
                 open_parts: Callable[[], ClusterParts]) -> None:
        Target.__init__(self, uri, profile, options, facts)  # not PkiTarget's: the folder is the parts'
        self.cluster_id, self.node = split_node(uri)
        self.parts = borrow(self.cluster_id, open_parts)
        self.notes = self.parts.notes
        self.machine = self.node
        self._actions = None

    @property
    def capabilities(self) -> frozenset[str]:
        found = frozenset({"x509", "certificates", "files", "kubeconfigs", "owners"})
        if self.parts.reads_kubelet:
            found |= {"kubelet"}
        if os.geteuid() != 0:
            found -= {"owners"}
        return found | (ACTION_CAPABILITIES if self.parts.acts_on_nodes else frozenset())

    def capability_reasons(self) -> dict[str, str]:
        return {"owners": f"the node's files are read by uid {os.geteuid()}; only a run as root sees their owners",
                **dict.fromkeys(ACTION_CAPABILITIES, f"{self.cluster_id} cannot act on its nodes one by one")}

    def node_actions(self) -> NodeActions | None:
        return self.parts.node_actions(self.node)

    def location(self) -> dict[str, str]:
        return {"cluster": self.cluster_id, "node": self.node}

    def _observe(self, now: dt.datetime) -> Inventory:
        root = self.parts.node_tree(self.node)
        self.pki_dir, self.kubeconfig_dir, self.manifests_dir = root / "pki", root, root / "manifests"
        return super()._observe(now)

    def close(self) -> None:
        give_back(self.cluster_id)
