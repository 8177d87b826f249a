"""What each control-plane node's components hold in memory, observed for KC-CL-05 and KC-CL-06.

For every control-plane node whose files were read: its mirror Pods (static_pods.py) say when each static
pod started and where kube-apiserver and etcd serve, as kubeadm itself finds them; its Node object says
where its kubelet serves (its first InternalIP, else ExternalIP, and the port the kubelet reports), as
kube-apiserver reaches a kubelet; the container runtime, where the parts reach it (kind's crictl), says when
each container started too. Then every serving component is dialled, several at once: each handshake ends
within its deadline, and all of them within COMPONENTS_BUDGET_S. A component that does not answer is named
with the address dialled and why; it is never taken as serving the file.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from kubecert.inventory.cluster import NodeObject
from kubecert.inventory.components import (
    SERVING,
    STATIC_PODS,
    Component,
    ComponentsObservation,
    NodeComponents,
    Served,
    Started,
)
from kubecert.targets.cluster.client import ClusterClient, NoAnswer, ReadProblem
from kubecert.targets.cluster.handshake import HANDSHAKE_TIMEOUT_S, handshake_certificate
from kubecert.targets.cluster.shared_parts import ClusterParts
from kubecert.targets.cluster.static_pods import DEFAULT_PORTS, NAMESPACE, Endpoint, MirrorPod, mirror_pods
from kubecert.targets.errors import TargetUnavailable

COMPONENTS_BUDGET_S = 60.0  # every handshake of one observation, however many nodes
MAX_DIALS_AT_ONCE = 16


def observe_components(client: ClusterClient, parts: ClusterParts, nodes: Iterable[str],
                       node_objects: tuple[NodeObject, ...] | None, nodes_problem: str | None) -> ComponentsObservation:
    """The components of ``nodes`` (the control-plane nodes whose files were read); ``node_objects`` None when
    the Node objects could not be read (``nodes_problem`` says why)."""
    objects = {node.name: node for node in node_objects or ()}
    found: dict[str, NodeComponents] = {}
    endpoints: dict[tuple[str, Component], Endpoint] = {}
    unanswered: str | None = None  # once the API let one listing pass its deadline, no other is asked
    for node in nodes:
        mirrors: dict[Component, MirrorPod] = {}
        unread = unanswered
        if unread is None:
            try:
                mirrors = mirror_pods(client, node)
            except NoAnswer as exc:
                unread, unanswered = str(exc), f"not asked: {exc}"
            except ReadProblem as exc:
                unread = str(exc)
        seen = _Seen(node, mirrors, unread, objects.get(node), nodes_problem or f"the API lists no Node object {node}")
        found[node], addresses = _node(parts, seen)
        endpoints.update(((node, component), endpoint) for component, endpoint in addresses.items())
    for (node, component), served in _dial(endpoints).items():
        found[node].served[component] = served
    return ComponentsObservation(found)


@dataclass(frozen=True)
class _Seen:
    """What the API said of one node before anything is dialled."""

    node: str
    mirrors: dict[Component, MirrorPod]
    unread: str | None  # why its mirror Pods could not be listed
    node_object: NodeObject | None
    no_object: str  # why there is no Node object, when there is none

    @property
    def absent(self) -> frozenset[Component]:
        """The static pods the node does not run: none of its listed mirror Pods is theirs."""
        return frozenset() if self.unread is not None else frozenset(set(STATIC_PODS) - set(self.mirrors))


def _node(parts: ClusterParts, seen: _Seen) -> tuple[NodeComponents, dict[Component, Endpoint]]:
    """What is known of the node before anything is dialled, and the endpoints to dial."""
    node = seen.node
    components = NodeComponents(node, absent=set(seen.absent))
    listing = f"mirror Pods of {node} in {NAMESPACE}"
    try:
        runtime = parts.container_starts(node)
    except TargetUnavailable as exc:
        runtime = {c: Started(c, "the node's container runtime", problem=str(exc)) for c in STATIC_PODS}
    for component in STATIC_PODS:
        mirror = seen.mirrors.get(component)
        told = mirror.started if mirror is not None else Started(
            component, listing, problem=seen.unread or f"no mirror Pod {NAMESPACE}/{component}-{node}: the node "
                                                       f"runs no {component} static pod")
        components.started[component] = [*([runtime[component]] if component in runtime else []), told]
    endpoints: dict[Component, Endpoint] = {}
    for component in SERVING:
        found = _address(component, seen)
        if isinstance(found, Endpoint):
            endpoints[component] = found
        else:
            components.served[component] = found
    return components, endpoints


def _address(component: Component, seen: _Seen) -> Endpoint | Served:
    """Where to dial ``component`` of the node: where kubeadm says it serves, else the node's address."""
    node, mirror = seen.node, seen.mirrors.get(component)
    if component is not Component.KUBELET:
        if mirror is not None and mirror.endpoint is not None:
            return mirror.endpoint
        why = (mirror.endpoint_problem if mirror is not None else
               f"where it serves is unknown: {seen.unread}" if seen.unread is not None else
               f"{node} runs no {component} static pod" if component in seen.absent else None)
        if why is not None:
            return Served(component, None, mirror.name if mirror is not None else f"mirror Pods of {node}",
                          problem=why)
    return _node_address(component, seen)


def _node_address(component: Component, seen: _Seen) -> Endpoint | Served:
    """The node's own address (its first IP) and the port the kubelet reports, or the component's default."""
    node, node_object = seen.node, seen.node_object
    if node_object is None or not node_object.ips:
        why = seen.no_object if node_object is None else \
            f"the Node object {node} lists no IP address (InternalIP or ExternalIP)"
        return Served(component, None, f"Node {node}", problem=why)
    if component is Component.KUBELET and node_object.kubelet_port is not None:
        return Endpoint(node_object.ips[0], node_object.kubelet_port,
                        f"Node {node}: its address and status.daemonEndpoints.kubeletEndpoint.Port")
    port = DEFAULT_PORTS[component]
    return Endpoint(node_object.ips[0], port, f"Node {node}: its address and {component}'s default port {port}")


def _dial(endpoints: dict[tuple[str, Component], Endpoint]) -> dict[tuple[str, Component], Served]:
    """What each endpoint presents, all dialled within COMPONENTS_BUDGET_S."""
    if not endpoints:
        return {}
    deadline = time.monotonic() + COMPONENTS_BUDGET_S
    workers = min(MAX_DIALS_AT_ONCE, len(endpoints))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kubecert-dial") as pool:
        futures = {key: pool.submit(_served, key[1], endpoint, deadline) for key, endpoint in endpoints.items()}
        return {key: future.result() for key, future in futures.items()}


def _served(component: Component, endpoint: Endpoint, deadline: float) -> Served:
    left = deadline - time.monotonic()
    if left <= 0:
        return Served(component, endpoint.address, endpoint.source,
                      problem=f"not dialled: every handshake of the cluster must end within {COMPONENTS_BUDGET_S:g} s")
    try:
        der = handshake_certificate(endpoint.host, endpoint.port, timeout=min(HANDSHAKE_TIMEOUT_S, left))
        certificate: Any = x509.load_der_x509_certificate(der)
    except TargetUnavailable as exc:
        return Served(component, endpoint.address, endpoint.source, problem=str(exc))
    except ValueError as exc:
        return Served(component, endpoint.address, endpoint.source,
                      problem=f"presented a certificate kubecert cannot parse: {exc}")
    return Served(component, endpoint.address, endpoint.source, certificate=certificate)
