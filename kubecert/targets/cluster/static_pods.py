"""A control-plane node's static pods as the Kubernetes API shows them: their mirror Pods in kube-system.

The kubelet runs each manifest of /etc/kubernetes/manifests as a static pod and writes a mirror Pod of it,
named ``<pod>-<node>`` and annotated ``kubernetes.io/config.mirror``; its ``status.containerStatuses[]
.state.running.startedAt`` says when the container started. kubeadm annotates two of them with where they
serve, and reads those annotations itself to reach a node's API server and etcd:
``kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint`` (``HOST:PORT``) and
``kubeadm.kubernetes.io/etcd.advertise-client-urls`` (``https://HOST:PORT``). A cluster not made by kubeadm
lacks them; the pod's own flags (``--advertise-address`` and ``--secure-port``, ``--advertise-client-urls``)
say the same.

The answer is hostile input: read raw, at most MAX_LIST_BYTES and MAX_PODS pods, each field checked for its
type; an address must be an IP literal (kubecert looks up no name a cluster gives it).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.components import STATIC_PODS, Component, Started
from kubecert.inventory.platform import read_time
from kubecert.inventory.safe_json import JsonError, loads_bounded
from kubecert.targets.cluster import permissions as rbac
from kubecert.targets.cluster.client import DEADLINE_S, TIMEOUT, ClusterClient, ReadProblem
from kubecert.targets.cluster.podapi import read_bounded
from kubecert.text import escaped

NAMESPACE = "kube-system"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ENDPOINT_ANNOTATIONS = {
    Component.APISERVER: "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint",
    Component.ETCD: "kubeadm.kubernetes.io/etcd.advertise-client-urls",
}
DEFAULT_PORTS = {Component.APISERVER: 6443, Component.ETCD: 2379, Component.KUBELET: 10250}
LIST_DEADLINE_S = DEADLINE_S  # one node's listing, wall clock
MAX_LIST_BYTES = 4 << 20  # a node's kube-system pods: a few dozen documents of a few KiB
MAX_PODS = 500
_SHOWN_CHARS = 80


@dataclass(frozen=True)
class Endpoint:
    """Where a component serves: an IP literal and a port, and what said so."""

    host: str
    port: int
    source: str

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class MirrorPod:
    """One static pod of the node, as its mirror Pod shows it."""

    component: Component
    name: str
    started: Started
    endpoint: Endpoint | None = None  # where it says it serves (kube-apiserver, etcd); None: it does not say
    endpoint_problem: str | None = None  # what it says that kubecert will not dial


def mirror_pods(client: ClusterClient, node: str) -> dict[Component, MirrorPod]:
    """The node's static pods, by component; ReadProblem when the pods cannot be listed (naming the
    permission on a 403) or the answer is not a pod list kubecert reads."""
    what = f"listing the pods of {node} in {NAMESPACE}"
    body = client.call(what, rbac.LIST_STATIC_PODS, lambda: read_bounded(client.core.list_namespaced_pod(
        NAMESPACE, field_selector=f"spec.nodeName={node}", _preload_content=False, _request_timeout=TIMEOUT),
        MAX_LIST_BYTES, what), deadline_s=LIST_DEADLINE_S) or b""
    try:
        document = loads_bounded(body)
    except (JsonError, UnicodeDecodeError) as exc:
        raise ReadProblem(f"{what}: the answer is not JSON ({exc})") from None
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ReadProblem(f"{what}: the answer is not a pod list")
    if len(items) > MAX_PODS:
        raise ReadProblem(f"{what}: the answer lists {len(items)} pods, more than kubecert reads ({MAX_PODS})")
    return parse_mirror_pods(items, node)


def parse_mirror_pods(items: list[Any], node: str) -> dict[Component, MirrorPod]:
    """The mirror Pods among ``items`` that run on ``node``, by component (a pod of another node, one that
    is not a mirror Pod, or one of a name that is no static pod of kubeadm's is left out)."""
    names = {f"{component}-{node}": component for component in STATIC_PODS}
    found: dict[Component, MirrorPod] = {}
    for item in items:
        metadata, spec = field_mapping(item, "metadata"), field_mapping(item, "spec")
        annotations = field_mapping(metadata, "annotations")
        name = metadata.get("name")
        component = names.get(name) if isinstance(name, str) else None
        if component is None or MIRROR_ANNOTATION not in annotations or spec.get("nodeName") != node:
            continue
        name = f"{NAMESPACE}/{component}-{node}"
        endpoint, problem = _endpoint(component, annotations, _flags(spec, component), name)
        found[component] = MirrorPod(component, name, _started(item, component, name), endpoint, problem)
    return found


def field_mapping(value: Any, key: str) -> dict[str, Any]:
    """``value[key]`` when both are mappings, else an empty one: a field of the wrong type is no field."""
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def _container(spec: dict[str, Any], component: Component) -> dict[str, Any]:
    containers = spec.get("containers")
    return next((c for c in containers if isinstance(c, dict) and c.get("name") == component), {}) \
        if isinstance(containers, list) else {}


def _flags(spec: dict[str, Any], component: Component) -> dict[str, str]:
    command = _container(spec, component).get("command")
    flags: dict[str, str] = {}
    for part in command if isinstance(command, list) else ():
        if isinstance(part, str) and part.startswith("--") and "=" in part:
            key, value = part[2:].split("=", 1)
            flags[key] = value
    return flags


def _started(item: dict[str, Any], component: Component, name: str) -> Started:
    """When the pod's container of the component's name started, from its running state."""
    source = f"mirror Pod {name}"
    statuses = field_mapping(item, "status").get("containerStatuses")
    status = next((s for s in statuses if isinstance(s, dict) and s.get("name") == component), None) \
        if isinstance(statuses, list) else None
    if status is None:
        return Started(component, source, problem=f"{name} reports no status of its container {component}")
    state = field_mapping(status, "state")
    running = field_mapping(state, "running")
    if not running:
        other = next((key for key in ("waiting", "terminated") if key in state), "in no known state")
        reason = field_mapping(state, other).get("reason")
        return Started(component, source, problem=f"{name}: its container is not running ({other}"
                                                  f"{f': {shown_value(reason)}' if reason else ''})")
    return started_from(component, source, running.get("startedAt"), name)


def started_from(component: Component, source: str, value: Any, where: str) -> Started:
    """A start time from ``value`` (an RFC 3339 date-time, as the API and crictl write them), or why not."""
    moment = read_time(value)
    if isinstance(moment, str):
        return Started(component, source, problem=f"{where}: startedAt {shown_value(value)} {moment}")
    return Started(component, source, at=moment)


def _endpoint(component: Component, annotations: dict[str, Any], flags: dict[str, str],
              name: str) -> tuple[Endpoint | None, str | None]:
    """Where the pod says the component serves: kubeadm's annotation, else its own flags."""
    if component is Component.APISERVER:
        key = ENDPOINT_ANNOTATIONS[component]
        if key in annotations:
            return _host_port(annotations[key], f"{name} annotation {key}")
        if "advertise-address" in flags:
            port = flags.get("secure-port", str(DEFAULT_PORTS[component]))
            return _host_port(f"{_bracketed(flags['advertise-address'])}:{port}",
                              f"{name} --advertise-address and --secure-port")
    elif component is Component.ETCD:
        key = ENDPOINT_ANNOTATIONS[component]
        if key in annotations:
            return _url(annotations[key], f"{name} annotation {key}")
        if "advertise-client-urls" in flags:
            return _url(flags["advertise-client-urls"], f"{name} --advertise-client-urls")
    return None, None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _url(value: Any, source: str) -> tuple[Endpoint | None, str | None]:
    first = value.split(",")[0].strip() if isinstance(value, str) else ""
    try:
        parts = urllib.parse.urlsplit(first)
        scheme, host, port = parts.scheme, parts.hostname, parts.port
    except ValueError:  # a port that is no number
        scheme, host, port = "", None, None
    if scheme != "https":
        return None, f"{source}: {shown_value(value)} is not an https:// address"
    return _checked(host, port or DEFAULT_PORTS[Component.ETCD], value, source)


def _host_port(value: Any, source: str) -> tuple[Endpoint | None, str | None]:
    text = value if isinstance(value, str) else ""
    host, _, port = text.rpartition(":")
    number = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else None
    return _checked(host.removeprefix("[").removesuffix("]") or None, number, value, source)


def _checked(host: str | None, port: int | None, value: Any, source: str) -> tuple[Endpoint | None, str | None]:
    """An endpoint kubecert may dial: an IP literal that names a host, and a port."""
    if host is None or port is None or not 0 < port < 65536:
        return None, f"{source}: {shown_value(value)} is not HOST:PORT"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None, f"{source}: {shown_value(value)} names a host, not an IP address: kubecert looks up no name a " \
                     "cluster gives it"
    if address.is_unspecified or address.is_multicast:
        return None, f"{source}: {shown_value(value)} is no one host's address"
    return Endpoint(str(address), port, source), None


def shown_value(value: Any) -> str:
    """A value from the answer, for a message: escaped, quoted and cut short."""
    text = escaped(str(value)[:4 * _SHOWN_CHARS])
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...")
