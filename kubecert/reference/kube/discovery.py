"""The resources the reference cluster serves, and legacy (unaggregated) API discovery of them.

kubectl v1.26+ asks /api and /apis for aggregated discovery first (Accept
``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...,application/json``). client-go
decides by the answer's Content-Type: anything but the aggregated media type is read as the legacy
APIVersions / APIGroupList, after which it fetches each group version's APIResourceList. So these
documents go out as plain ``application/json`` and kubectl falls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubecert.reference.kube.objects import SPC_GROUP, SPC_VERSIONS


@dataclass(frozen=True)
class Resource:
    name: str  # plural, as in URLs and RBAC
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    group: str = ""  # "" is the core group

    @property
    def qualified(self) -> str:
        """How Kubernetes' messages name the resource: ``nodes``, ``spectroclusters.cluster.spectrocloud.com``."""
        return f"{self.name}.{self.group}" if self.group else self.name

    def api_resource(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "singularName": self.singular, "namespaced": self.namespaced,
                                    "kind": self.kind, "verbs": list(self.verbs)}
        if self.short_names:
            document["shortNames"] = list(self.short_names)
        return document


_STORED = ("create", "delete", "get", "list")  # what clients may do with the objects they make
NODES = Resource("nodes", "node", "Node", False, ("get", "list"), ("no",))
NAMESPACES = Resource("namespaces", "namespace", "Namespace", False, ("create", "get", "list"), ("ns",))
CONFIGMAPS = Resource("configmaps", "configmap", "ConfigMap", True, ("get", "list"), ("cm",))
PODS = Resource("pods", "pod", "Pod", True, ("create", "delete", "get", "list"), ("po",))
POD_LOGS = Resource("pods/log", "", "Pod", True, ("get",))
EVENTS = Resource("events", "event", "Event", True, ("get", "list"), ("ev",))
SERVICEACCOUNTS = Resource("serviceaccounts", "serviceaccount", "ServiceAccount", True, _STORED, ("sa",))
SPECTROCLUSTERS = Resource("spectroclusters", "spectrocluster", "SpectroCluster", True, ("get", "list", "patch"),
                           ("spc",), SPC_GROUP)
CORE_RESOURCES = (CONFIGMAPS, EVENTS, NAMESPACES, NODES, PODS, POD_LOGS, SERVICEACCOUNTS)
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_VERSION = "v1"
ROLES = Resource("roles", "role", "Role", True, _STORED, (), RBAC_GROUP)
ROLEBINDINGS = Resource("rolebindings", "rolebinding", "RoleBinding", True, _STORED, (), RBAC_GROUP)
CLUSTERROLES = Resource("clusterroles", "clusterrole", "ClusterRole", False, _STORED, (), RBAC_GROUP)
CLUSTERROLEBINDINGS = Resource("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", False, _STORED,
                               (), RBAC_GROUP)
RBAC_RESOURCES = (CLUSTERROLEBINDINGS, CLUSTERROLES, ROLEBINDINGS, ROLES)


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the core group's versions."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


GROUP_VERSIONS = {RBAC_GROUP: (RBAC_VERSION,), SPC_GROUP: SPC_VERSIONS}  # preferred version first


def api_group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{version}", "version": version} for version in GROUP_VERSIONS[group]]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    """``/apis``: every named group (RBAC's, and the SpectroCluster CRD's)."""
    groups = [api_group(group) for group in GROUP_VERSIONS]
    for group in groups:
        del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(group_version: str, resources: tuple[Resource, ...]) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [resource.api_resource() for resource in resources]}
