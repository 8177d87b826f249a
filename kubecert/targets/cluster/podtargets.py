"""``kubeconfig:PATH?nodes=pods``: a cluster reached only through its API, checked whole, its control-plane
nodes read through pods (pods.py); opt-in, since it runs a pod on every control-plane node.

Options after ``nodes=pods``: ``namespace=NS`` (where the pods run; default kubecert, which
docs/node-reader-rbac.yaml makes), ``image=IMAGE`` (one with sh, tar and base64 the nodes can pull; default
busybox:1.36), ``timeout=SECONDS`` (how long one pod may take to finish; default 120) and ``context=NAME``.
The URI stands for the cluster and one ``kubeconfig:PATH/NODE?nodes=pods...`` target per control-plane node,
as ``kind:NAME`` does; a kubeconfig without ``nodes=pods`` is the plain target (target.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.targets.base import Target, split_uri
from kubecert.targets.cluster.nodes import ClusterNodeTarget, split_node, with_nodes
from kubecert.targets.cluster.pods import DEFAULT_TIMEOUT_S, READ_ONLY, PodsParts
from kubecert.targets.cluster.readerpod import DEFAULT_IMAGE, DEFAULT_NAMESPACE
from kubecert.targets.cluster.target import KubeconfigTarget
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.cluster.whole_cluster import WholeClusterTarget
from kubecert.targets.commands import ACTION_CAPABILITIES
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.text import escaped

SCHEME = "kubeconfig"
READER_KEYS = ("nodes", "namespace", "image", "timeout")
_QUERY_KEYS = ("context", *READER_KEYS)
_NAMESPACE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")  # a DNS label
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}")  # a reference, no space, no shell syntax
MAX_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class ReaderSettings:
    kubeconfig: Path
    context: str | None
    namespace: str
    image: str
    timeout_s: float


def reader_settings(uri: str) -> ReaderSettings:
    """What ``kubeconfig:PATH?nodes=pods&...`` asks for; a usage error names the option that is wrong."""
    path, query = split_uri(uri, SCHEME, _QUERY_KEYS)
    if not path:
        raise TargetError(f"{escaped(uri)}: give the kubeconfig's path, e.g. kubeconfig:$HOME/.kube/config?nodes=pods")
    if query.get("nodes") != "pods":
        raise TargetError(f"{escaped(uri)}: nodes={escaped(query.get('nodes', ''))!r}: nodes are read through the API "
                          "with nodes=pods")
    namespace = query.get("namespace") or DEFAULT_NAMESPACE
    if not _NAMESPACE.fullmatch(namespace):
        raise TargetError(f"{escaped(uri)}: namespace={escaped(namespace)!r} is not a namespace name")
    image = query.get("image") or DEFAULT_IMAGE
    if not _IMAGE.fullmatch(image):
        raise TargetError(f"{escaped(uri)}: image={escaped(image)!r} is not an image reference")
    try:
        timeout = float(query.get("timeout") or DEFAULT_TIMEOUT_S)
    except ValueError:
        timeout = -1.0
    if not 1 <= timeout <= MAX_TIMEOUT_S:
        raise TargetError(f"{escaped(uri)}: timeout= takes seconds, 1 to {MAX_TIMEOUT_S:g}")
    return ReaderSettings(Path(path).expanduser(), query.get("context") or None, namespace, image, timeout)


def _reads_pods(uri: str) -> bool:
    query = uri.partition("?")[2]
    return any(pair.partition("=")[0] == "nodes" for pair in query.split("&"))


def _is_node(uri: str) -> bool:
    """``kubeconfig:PATH/NODE?...``: PATH is the kubeconfig file, so PATH/NODE cannot be one."""
    path = Path(uri.removeprefix(f"{SCHEME}:").partition("?")[0]).expanduser()
    return not path.is_file() and path.parent.is_file()


def expand_kubeconfig(uri: str, options: Mapping[str, Any]) -> list[str]:
    """With ``nodes=pods``, the cluster and one target per control-plane Node object the API lists now (when it
    cannot be asked, the cluster target alone, which then says why)."""
    if not _reads_pods(uri) or _is_node(uri):
        return [uri]
    try:
        parts = _parts_opener(uri, options)()
    except (TargetError, TargetUnavailable):
        return [uri]
    try:
        return with_nodes(uri, parts.node_names())
    except TargetUnavailable:
        return [uri]
    finally:
        parts.close()


def _parts_opener(cluster_uri: str, options: Mapping[str, Any]) -> Callable[[], PodsParts]:
    settings = reader_settings(cluster_uri)
    trust = KubeconfigTrust.given(options)  # the operator's kubeconfig: their opt-ins apply
    return lambda: PodsParts(cluster_uri, settings.kubeconfig, settings.context, namespace=settings.namespace,
                             image=settings.image, timeout_s=settings.timeout_s, trust=trust)


class PodsClusterTarget(WholeClusterTarget):
    scheme = SCHEME
    default_profile = "kubeadm"

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        self.settings = reader_settings(uri)
        super().__init__(uri, profile, options, facts, _parts_opener(uri, options))
        self.context = self.settings.context

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities - {"renew"}

    def capability_reasons(self) -> dict[str, str]:
        return {"renew": READ_ONLY}

    def location(self) -> dict[str, str]:
        found = {"cluster": self.id, "kubeconfig": str(self.settings.kubeconfig), "nodes": "pods",
                 "namespace": self.settings.namespace, "image": self.settings.image}
        return {**found, "context": self.context} if self.context else found


class PodsNodeTarget(ClusterNodeTarget):
    scheme = SCHEME
    default_profile = "kubeadm"

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        cluster, _ = split_node(uri)
        super().__init__(uri, profile, options, facts, _parts_opener(cluster, options))

    def capability_reasons(self) -> dict[str, str]:
        return {**super().capability_reasons(), **dict.fromkeys(ACTION_CAPABILITIES, READ_ONLY)}


def kubeconfig_target(uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> Target:
    """The plain kubeconfig target, or with ``nodes=pods`` the cluster or one of its nodes."""
    if not _reads_pods(uri):
        _, query = split_uri(uri, SCHEME, _QUERY_KEYS)
        given = [key for key in READER_KEYS if key in query]
        if given:
            raise TargetError(f"{escaped(uri)}: {given[0]}= is an option of nodes=pods "
                              "(reading the nodes through pods)")
        return KubeconfigTarget(uri, profile, options, facts)
    return (PodsNodeTarget if _is_node(uri) else PodsClusterTarget)(uri, profile, options, facts)

