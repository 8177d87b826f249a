"""Named faults of the reference cluster and its Kubernetes-style API: opt-in misbehaviours, each with the
rules it is meant to fail (in the shape every layer's faults share, kubecert/reference/faults.py). None is
ever on unless named when the cluster is opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubecert.capabilities import Capability
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.faults import Fault, Layer

KUBECONFIG_OTHER_CA = "kubeconfig-other-ca"
SERVED_CERT_WITHOUT_SERVICE_SAN = "served-cert-without-service-san"
NODE_CA_DIFFERS = "node-ca-differs"
RENEWAL_SKIPS_NODE = "renewal-skips-node"
WORKERS_REPLACED_UNDER_ANNOTATION = "workers-replaced-under-annotation"
ROOT_CA_CONFIGMAP_DIFFERS = "root-ca-configmap-differs"
CONTROL_PLANE_NODE_OUT_OF_REACH = "control-plane-node-out-of-reach"
RENEWAL_SKIPS_RESTART = "renewal-skips-restart"
KUBELET_SERVES_OLD_CERTIFICATE = "kubelet-serves-old-certificate"


@dataclass(frozen=True)
class ClusterFault(Fault):
    at_creation: bool = False  # shapes the node trees when the cluster is made, so it cannot be turned on later

    @property
    def rules(self) -> tuple[str, ...]:
        return self.fails


def _fault(name: str, fails: tuple[str, ...], description: str, **more: Any) -> ClusterFault:
    return ClusterFault(name, Layer.CLUSTER, fails, description, **more)


_ALL = (
    _fault(KUBECONFIG_OTHER_CA, ("KC-CL-01",),
           "the admin kubeconfig written for clients carries certificate-authority-data of another CA",
           offender="kubeconfig's CA", takes_away=frozenset({Capability.CLUSTER_API}),
           note="a client trusting that CA cannot reach the API, so every rule that reads it is unjudged (the Node "
                "objects and mirror Pods that say where and since when each component runs among them); the nodes' "
                "files are still judged"),
    _fault(SERVED_CERT_WITHOUT_SERVICE_SAN, ("KC-CL-01", "KC-CL-05"),
           "each API server serves a copy of its apiserver certificate without kubernetes.default.svc.<domain>, "
           "the name pods dial it by", offender="kubernetes.default.svc",
           note="the copy served is not apiserver.crt on the node's disk, which KC-CL-05 sees too: the node trees "
                "stay as kubeadm writes them, so what the API servers serve differs from them"),
    _fault(NODE_CA_DIFFERS, ("KC-HA-01",),
           "the last control-plane node (cp-3) has a ca.crt/ca.key of its own instead of the cluster's",
           offender="cp-3", at_creation=True),
    _fault(RENEWAL_SKIPS_NODE, ("KC-HA-02",),
           "renewal leaves the last control-plane node's certificates as they were", offender="cp-3"),
    _fault(WORKERS_REPLACED_UNDER_ANNOTATION, ("KC-CL-04",),
           "renewal replaces the worker Node objects (new uids and creation times) even when it should keep "
           "them: control-plane-only renewal or the spectrocloud.com/cert-renew-controlplane-only annotation",
           offender="worker-1"),
    _fault(ROOT_CA_CONFIGMAP_DIFFERS, ("KC-CL-02",),
           "the kube-root-ca.crt ConfigMaps publish another CA than the cluster's", offender="kube-root-ca.crt"),
    _fault(CONTROL_PLANE_NODE_OUT_OF_REACH, ("KC-CL-03",),
           "the API lists one control-plane Node object more than the nodes whose files can be read (cp-4, as "
           "a node joined from a machine the reader cannot reach): its certificates would go unjudged",
           offender="cp-4"),
    _fault(RENEWAL_SKIPS_RESTART, ("KC-CL-06",),
           "renewal runs kubeadm certs renew all on every control-plane node and restarts no static pod; the "
           "served cluster starts as such a renewal left it, a minute after its static pods started",
           offender="cp-1 kube-controller-manager"),
    _fault(KUBELET_SERVES_OLD_CERTIFICATE, ("KC-CL-05",),
           "the last control-plane node's kubelet serves the certificate it made when it started, a day before the "
           "kubelet.crt now on its disk", offender="cp-3 kubelet"),
)

FAULTS: dict[str, ClusterFault] = {fault.name: fault for fault in _ALL}


def checked(names: Iterable[str]) -> frozenset[str]:
    """The named faults, refusing an unknown name with the list of known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise ReferenceUsageError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(FAULTS)}")
    return chosen
