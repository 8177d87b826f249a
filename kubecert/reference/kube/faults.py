"""Named faults of the reference cluster's Kubernetes-style API: opt-in misbehaviours, each with the
rules it is meant to fail. None is ever on unless named when the cluster is opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubecert.reference.errors import ReferenceUsageError

KUBECONFIG_OTHER_CA = "kubeconfig-other-ca"
SERVED_CERT_WITHOUT_NODE_SAN = "served-cert-without-node-san"
NODE_CA_DIFFERS = "node-ca-differs"
RENEWAL_SKIPS_NODE = "renewal-skips-node"
WORKERS_REPLACED_UNDER_ANNOTATION = "workers-replaced-under-annotation"
ROOT_CA_CONFIGMAP_DIFFERS = "root-ca-configmap-differs"


@dataclass(frozen=True)
class ClusterFault:
    name: str
    rules: tuple[str, ...]  # the rules it must fail
    description: str
    at_creation: bool = False  # shapes the node trees when the cluster is made, so it cannot be turned on later


_ALL = (
    ClusterFault(KUBECONFIG_OTHER_CA, ("KC-CL-01", "KC-CL-02"),
                 "the admin kubeconfig written for clients carries certificate-authority-data of another CA"),
    ClusterFault(SERVED_CERT_WITHOUT_NODE_SAN, ("KC-CL-01",),
                 "each API server serves a copy of its apiserver certificate without the node's name among its SANs"),
    ClusterFault(NODE_CA_DIFFERS, ("KC-HA-01",),
                 "the last control-plane node (cp-3) has a ca.crt/ca.key of its own instead of the cluster's",
                 at_creation=True),
    ClusterFault(RENEWAL_SKIPS_NODE, ("KC-HA-02",),
                 "renewal leaves the last control-plane node's certificates as they were"),
    ClusterFault(WORKERS_REPLACED_UNDER_ANNOTATION, ("KC-CL-04",),
                 "renewal replaces the worker Node objects (new uids and creation times) even when it should keep "
                 "them: control-plane-only renewal or the spectrocloud.com/cert-renew-controlplane-only annotation"),
    ClusterFault(ROOT_CA_CONFIGMAP_DIFFERS, ("KC-CL-02",),
                 "the kube-root-ca.crt ConfigMaps publish another CA than the cluster's"),
)

FAULTS: dict[str, ClusterFault] = {fault.name: fault for fault in _ALL}


def checked(names: Iterable[str]) -> frozenset[str]:
    """The named faults, refusing an unknown name with the list of known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise ReferenceUsageError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(FAULTS)}")
    return chosen
