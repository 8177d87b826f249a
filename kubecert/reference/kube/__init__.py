"""A reference Kubernetes cluster: control-plane nodes with kubeadm trees, Node objects, and a
Kubernetes-style API served over mutual TLS that kubectl and the ``kubernetes`` client accept.

``ReferenceCluster.create(folder)`` makes one (``ReferenceCluster(folder)`` opens it again);
``ClusterServer(cluster).start()`` serves it; ``cluster.renew(controlplane_only)`` renews every
control-plane node and restarts the served certificates.
"""

from kubecert.reference.kube.cluster import (
    CONTROLPLANE_ONLY_ANNOTATION,
    ClusterRenewal,
    ClusterSpec,
    ReferenceCluster,
)
from kubecert.reference.kube.faults import FAULTS, ClusterFault
from kubecert.reference.kube.server import ClusterServer

__all__ = [
    "CONTROLPLANE_ONLY_ANNOTATION",
    "FAULTS",
    "ClusterFault",
    "ClusterRenewal",
    "ClusterServer",
    "ClusterSpec",
    "ReferenceCluster",
]
