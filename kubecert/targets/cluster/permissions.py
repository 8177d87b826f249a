"""Every request a cluster target makes, as the RBAC permission it needs: what a 403 names, and what
docs/node-reader-rbac.yaml must grant (its test compares the two, so the manifest cannot drift from the code).

The kubeconfig target reads Node objects, three ConfigMaps and the SpectroCluster objects; a cluster whose nodes
kubecert reads also lists each control-plane node's pods in kube-system (the mirror Pods of its static pods:
when each started, and where kubeadm says its API server and etcd serve); the node reader (``?nodes=pods``)
also creates, watches, reads the log of, and deletes one pod per control-plane node in its namespace, and
lists that namespace's events to say why a pod does not start.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubecert.targets.cluster.readerpod import DEFAULT_NAMESPACE

SPC_GROUP = "cluster.spectrocloud.com"
RBAC_MANIFEST = "docs/node-reader-rbac.yaml"
READER_NAMESPACE = "<reader namespace>"  # stands for the namespace the URI names (default kubecert)


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str  # the plural, with the subresource: "pods/log"
    group: str = ""  # "" is the core group
    namespace: str | None = None  # None: at the cluster scope
    names: tuple[str, ...] = ()  # the only objects it is needed for (RBAC resourceNames)

    def within(self, namespace: str) -> Permission:
        """This permission with the reader's namespace filled in."""
        if self.namespace != READER_NAMESPACE:
            return self
        return Permission(self.verb, self.resource, self.group, namespace, self.names)

    def __str__(self) -> str:
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} on {resource}{where}"


LIST_NODES = Permission("list", "nodes")
GET_PUBLIC_ROOT_CA = Permission("get", "configmaps", namespace="kube-public", names=("kube-root-ca.crt",))
GET_CLUSTER_INFO = Permission("get", "configmaps", namespace="kube-public", names=("cluster-info",))
GET_KUBEADM_CONFIG = Permission("get", "configmaps", namespace="kube-system", names=("kubeadm-config",))
LIST_SPECTROCLUSTERS = Permission("list", "spectroclusters", SPC_GROUP)
LIST_STATIC_PODS = Permission("list", "pods", namespace="kube-system")  # RBAC cannot narrow a list by name
PATCH_SPECTROCLUSTERS = Permission("patch", "spectroclusters", SPC_GROUP)
# A non-resource URL every authenticated user may get (system:public-info-viewer): only a kind renewal asks
# it, to know an API server serves again, so no manifest needs to grant it.
GET_VERSION = Permission("get", "/version")

CREATE_POD = Permission("create", "pods", namespace=READER_NAMESPACE)
GET_POD = Permission("get", "pods", namespace=READER_NAMESPACE)
DELETE_POD = Permission("delete", "pods", namespace=READER_NAMESPACE)
GET_POD_LOG = Permission("get", "pods/log", namespace=READER_NAMESPACE)
LIST_EVENTS = Permission("list", "events", namespace=READER_NAMESPACE)

# What a kubeconfig target with ?nodes=pods needs for everything it reads. Annotating the SpectroCluster is
# a renewal's, which nodes read through pods never do.
NODE_READER = (LIST_NODES, GET_PUBLIC_ROOT_CA, GET_CLUSTER_INFO, GET_KUBEADM_CONFIG, LIST_SPECTROCLUSTERS,
               LIST_STATIC_PODS, CREATE_POD, GET_POD, DELETE_POD, GET_POD_LOG, LIST_EVENTS)


def needed(namespace: str = DEFAULT_NAMESPACE) -> tuple[Permission, ...]:
    """The node reader's permissions with its namespace filled in."""
    return tuple(permission.within(namespace) for permission in NODE_READER)
