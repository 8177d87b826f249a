"""What each control-plane node's components hold in memory, as far as kubecert can see it from outside: the
certificate each serving component presents in a TLS handshake, and when each static pod's container
started (after which nothing it loads only at start changes). Rules compare these with the node's files
(KC-CL-05, KC-CL-06); nothing here talks to a cluster.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from kubecert.timestamps import isoformat


class Component(enum.StrEnum):
    """A control-plane component, by the name kubeadm gives its static pod and container."""

    ETCD = "etcd"
    APISERVER = "kube-apiserver"
    CONTROLLER_MANAGER = "kube-controller-manager"
    SCHEDULER = "kube-scheduler"
    KUBELET = "kubelet"  # not a static pod: it runs them


STATIC_PODS = (Component.ETCD, Component.APISERVER, Component.CONTROLLER_MANAGER, Component.SCHEDULER)
SERVING = (Component.APISERVER, Component.ETCD, Component.KUBELET)  # what KC-CL-05 dials, on each node


class Missing(enum.StrEnum):
    """A side of the comparison a kind of target cannot give at all: the rules are then not applicable, saying
    which, rather than in error."""

    NODE_FILES = "the control-plane nodes' files (the certificates on disk)"


@dataclass(frozen=True)
class Served:
    """What one serving component of a node presented, or why nothing was read from it."""

    component: Component
    address: str | None  # host:port dialled; None when no address could be found
    found_by: str  # where the address came from, for the evidence
    certificate: x509.Certificate | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Started:
    """When one static pod's container started, as one source tells, or why it does not tell."""

    component: Component
    source: str  # "mirror Pod kube-system/etcd-cp-1", "crictl inspect in kind-control-plane"
    at: dt.datetime | None = None
    problem: str | None = None

    def evidence(self) -> dict[str, Any]:
        return {"source": self.source, "started_at": isoformat(self.at) if self.at else None,
                **({"problem": self.problem} if self.problem else {})}


@dataclass
class NodeComponents:
    """One control-plane node's components: what each serves, and when each static pod started (by every
    source that tells, the container runtime's first)."""

    node: str
    served: dict[Component, Served] = field(default_factory=dict)
    started: dict[Component, list[Started]] = field(default_factory=dict)
    absent: set[Component] = field(default_factory=set)  # static pods the node does not run (no mirror Pod)

    def start(self, component: Component) -> Started | None:
        """The start time the rules judge by: the first source that gives one, else the first that said why not."""
        found = self.started.get(component, [])
        return next((s for s in found if s.at is not None), found[0] if found else None)


@dataclass
class ComponentsObservation:
    """Every control-plane node's components whose files were read, by node name; ``missing`` names what the
    target cannot give at all."""

    nodes: dict[str, NodeComponents] = field(default_factory=dict)
    missing: tuple[Missing, ...] = ()
