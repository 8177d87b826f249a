"""What a live cluster shows through its Kubernetes API and a TLS handshake: the certificate its API server
serves, the CA its kubeconfig trusts and the CA it publishes, kubeadm's configuration, its Node objects,
and its SpectroCluster object. Rules read these; nothing here talks to a cluster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from kubecert.inventory.components import ComponentsObservation
from kubecert.inventory.model import CertRecord, Inventory
from kubecert.timestamps import isoformat


@dataclass(frozen=True)
class NodeObject:
    """One Node object: what a renewal must or may leave alone."""

    name: str
    uid: str | None
    created: dt.datetime | None
    control_plane: bool  # labelled node-role.kubernetes.io/control-plane (or the older master role)
    addresses: tuple[str, ...] = ()
    taints: tuple[str, ...] = ()  # as kubectl writes them: key=value:Effect
    # Its IP addresses in the order kube-apiserver tries them to reach the kubelet (InternalIP, then ExternalIP),
    # and the port its kubelet reports serving on (status.daemonEndpoints.kubeletEndpoint.Port).
    ips: tuple[str, ...] = ()
    kubelet_port: int | None = None

    def identity(self) -> tuple[str, str | None, str | None]:
        return self.name, self.uid, isoformat(self.created) if self.created else None

    def evidence(self) -> dict[str, Any]:
        return {"node": self.name, "uid": self.uid, "created": isoformat(self.created) if self.created else None,
                "role": "control-plane" if self.control_plane else "worker"}


@dataclass(frozen=True)
class KubeadmConfig:
    """What the kubeadm-config ConfigMap's ClusterConfiguration says about the serving certificate."""

    cert_sans: tuple[str, ...] = ()
    dns_domain: str | None = None
    service_subnet: str | None = None
    control_plane_endpoint: str | None = None
    kubernetes_version: str | None = None


@dataclass(frozen=True)
class PublishedCa:
    """A CA bundle the cluster publishes: where, and what (parsed); ``problem`` when it could not be read."""

    where: str  # "kube-public/kube-root-ca.crt", "kube-public/cluster-info"
    certificates: tuple[x509.Certificate, ...] = ()
    problem: str | None = None


@dataclass
class ClusterObservation:
    """One look at a cluster."""

    server: str  # the kubeconfig's server URL
    host: str  # what the kubeconfig dials (host name or address)
    kubeconfig_ca: x509.Certificate | None  # certificate-authority-data (or its file)
    served: CertRecord | None = None  # the API server's certificate, from a TLS handshake
    served_problem: str | None = None  # why it could not be had
    published: list[PublishedCa] = field(default_factory=list)
    kubeadm: KubeadmConfig | None = None  # None: no kubeadm-config ConfigMap (not a kubeadm cluster, or hidden)
    nodes: tuple[NodeObject, ...] | None = None  # None: the Node objects could not be read
    annotations: dict[str, str] | None = None  # the SpectroCluster object's; None when there is none
    problems: dict[str, str] = field(default_factory=dict)  # what could not be read → why (named permission)

    def control_plane(self) -> tuple[NodeObject, ...]:
        return tuple(node for node in self.nodes or () if node.control_plane)

    def workers(self) -> tuple[NodeObject, ...]:
        return tuple(node for node in self.nodes or () if not node.control_plane)


@dataclass
class ClusterInventory(Inventory):
    """The inventory of a cluster target: its kubeconfig's client certificate (judged by the expiry rules like
    any certificate), the served certificate, and the cluster as its API shows it."""

    cluster: ClusterObservation | None = None
    # Each control-plane node's files, read as a node target reads them, or why they could not be read; empty
    # for a target that cannot read nodes.
    node_files: dict[str, Inventory | str] = field(default_factory=dict)
    # What each node's components serve and when its static pods started (KC-CL-05, KC-CL-06); None when the
    # target was not asked (a cluster whose observation failed before).
    components: ComponentsObservation | None = None


def cluster_of(inventory: Inventory) -> ClusterObservation | None:
    return inventory.cluster if isinstance(inventory, ClusterInventory) else None


@dataclass
class ClusterRenewalRun:
    """What renewing a cluster's control-plane nodes did."""

    started_at: dt.datetime
    finished_at: dt.datetime
    renewed: tuple[str, ...]  # nodes the renewal ran on
    controlplane_only: bool
    output: dict[str, str] = field(default_factory=dict)  # per node, what the renewal printed
    problem: str | None = None  # why it did not run to its end
