"""The JSON shapes the reference cluster's API answers with, as kube-apiserver writes them: Status,
lists, Node, Namespace, ConfigMap, the SpectroCluster object, and the documents kubeadm stores in
ConfigMaps (ClusterConfiguration, cluster-info).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import yaml

from kubecert.reference.kube.state import ClusterInfo, NodeRecord, SpcRecord
from kubecert.reference.pki.kubeconfig import encode_data
from kubecert.reference.pki.manifests import NODE_PKI
from kubecert.reference.pki.options import InitOptions, is_dns_subdomain

SPC_GROUP = "cluster.spectrocloud.com"
SPC_VERSIONS = ("v1", "v1alpha1")  # preferred first, as discovery lists them
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
KUBELET_PORT = 10250
# kube-controller-manager's root-ca-cert-publisher writes this description on every kube-root-ca.crt.
_ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
    "clusters."
)
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            406: "NotAcceptable", 409: "Conflict", 411: "BadRequest", 413: "RequestEntityTooLarge",
            415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError"}


def bounded(text: str, limit: int = 100) -> str:
    """Client-sent text as an answer may repeat it: at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "..."


class ApiError(Exception):
    """An answer other than success, carried as a Kubernetes Status."""

    def __init__(self, code: int, message: str, details: Mapping[str, Any] | None = None, *,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.reason = reason  # when the code's usual reason is not the one (409 AlreadyExists)

    def status(self) -> dict[str, Any]:
        return status_document(self.code, self.message, self.details, reason=self.reason)


def shown_name(name: str) -> str:
    """A name from the request, as an answer repeats it: whole when it is a valid name, else cut short."""
    return name if is_dns_subdomain(name) else bounded(name, 64)


def not_found(resource: Any, name: str) -> ApiError:
    """kube-apiserver's 404 for an object of ``resource`` (a discovery Resource) that does not exist."""
    shown = shown_name(name)
    details = {"name": shown, "group": resource.group, "kind": resource.name.split("/")[0]}
    return ApiError(404, f'{resource.qualified.split("/")[0]} "{shown}" not found',
                    {key: value for key, value in details.items() if value})


def status_document(code: int, message: str, details: Mapping[str, Any] | None = None, *,
                    reason: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
        "reason": reason or _REASONS.get(code, "InternalError" if code >= 500 else "BadRequest"),
    }
    if details:
        document["details"] = dict(details)
    document["code"] = code
    return document


def timestamp(moment: dt.datetime) -> str:
    """metav1.Time: RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def derived_uid(info: ClusterInfo, *parts: str) -> str:
    """A stable uid for an object the cluster derives rather than stores (namespaces, ConfigMaps)."""
    return str(uuid.uuid5(uuid.UUID(info.uid), "/".join(parts)))


def list_document(kind: str, items: list[dict[str, Any]], revision: int, api_version: str = "v1") -> dict[str, Any]:
    # List items carry no kind or apiVersion of their own, as kube-apiserver writes them.
    bare = [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items]
    return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": str(revision)}, "items": bare}


def version_document(git_version: str) -> dict[str, str]:
    major, minor, *_ = [*git_version.removeprefix("v").split("."), "0", "0"]
    return {"major": major, "minor": minor, "gitVersion": git_version, "gitCommit": "", "gitTreeState": "clean",
            "buildDate": "", "goVersion": "", "compiler": "gc", "platform": "linux/amd64"}


def node_document(node: NodeRecord, kubelet_version: str, served_at: tuple[str, int] | None = None) -> dict[str, Any]:
    """The Node object; ``served_at`` is (address, port) where the node's kubelet is served, when it is: its
    InternalIP is then that address (the reference's nodes are reached on loopback), else its own."""
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux"}
    spec: dict[str, Any] = {}
    if node.control_plane:
        labels[CONTROL_PLANE_LABEL] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    if node.all_taints():
        spec["taints"] = [taint.document() for taint in node.all_taints()]
    since = timestamp(node.created_at)
    conditions = [
        _condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
                   since),
        _condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", since),
        _condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", since),
        _condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", since),
    ]
    machine = uuid.UUID(node.uid).hex
    return {
        "kind": "Node", "apiVersion": "v1",
        "metadata": {
            "name": node.name, "uid": node.uid, "resourceVersion": str(node.resource_version),
            "creationTimestamp": since, "labels": labels,
            "annotations": {"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                            "node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": served_at[0] if served_at else node.address},
                          {"type": "Hostname", "address": node.name}],
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": served_at[1] if served_at else KUBELET_PORT}},
            "nodeInfo": {
                "architecture": "amd64", "bootID": machine, "containerRuntimeVersion": "containerd://1.7.22",
                "kernelVersion": "6.8.0-45-generic", "kubeProxyVersion": kubelet_version,
                "kubeletVersion": kubelet_version, "machineID": machine, "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.5 LTS", "systemUUID": node.uid,
            },
        },
    }


def _condition(kind: str, status: str, reason: str, message: str, since: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": since, "lastTransitionTime": since}


def node_roles(node: Mapping[str, Any]) -> list[str]:
    """The roles kubectl shows: every node-role.kubernetes.io/<role> label."""
    labels = node["metadata"].get("labels", {})
    return sorted(key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/"))


def namespace_document(info: ClusterInfo, name: str) -> dict[str, Any]:
    return {
        "kind": "Namespace", "apiVersion": "v1",
        "metadata": {"name": name, "uid": derived_uid(info, "namespaces", name), "resourceVersion": "1",
                     "creationTimestamp": timestamp(info.created_at),
                     "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def configmap_document(info: ClusterInfo, namespace: str, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace,
                                "uid": derived_uid(info, "configmaps", namespace, name), "resourceVersion": "1",
                                "creationTimestamp": timestamp(info.created_at)}
    if name == ROOT_CA_CONFIGMAP:
        metadata["annotations"] = {"kubernetes.io/description": _ROOT_CA_DESCRIPTION}
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": metadata, "data": dict(data)}


def spc_document(info: ClusterInfo, spc: SpcRecord, version: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{SPC_GROUP}/{version}", "kind": "SpectroCluster",
        "metadata": {"name": info.name, "namespace": info.namespace, "uid": spc.uid,
                     "annotations": dict(spc.annotations), "creationTimestamp": timestamp(info.created_at),
                     "generation": spc.generation, "resourceVersion": str(spc.resource_version)},
        "spec": {"clusterUid": info.uid},
    }


def _go_hours(days: int) -> str:
    return f"{days * 24}h0m0s"  # Go's time.Duration.String() of whole days


def cluster_configuration(options: InitOptions) -> str:
    """ClusterConfiguration as ``kubeadm init`` uploads it to the kubeadm-config ConfigMap (keys sorted)."""
    document: dict[str, Any] = {
        "apiServer": {"certSANs": list(options.cert_sans)} if options.cert_sans else {},
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "caCertificateValidityPeriod": _go_hours(options.ca_days),
        "certificateValidityPeriod": _go_hours(options.leaf_days),
        "certificatesDir": NODE_PKI,
        "clusterName": "kubernetes",
        "controlPlaneEndpoint": options.control_plane_endpoint or "",
        "controllerManager": {},
        "dns": {},
        "encryptionAlgorithm": options.key_algorithm,
        "etcd": {"local": {"dataDir": "/var/lib/etcd"}},
        "imageRepository": "registry.k8s.io",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": options.kubernetes_version,
        "networking": {"dnsDomain": options.dns_domain, "serviceSubnet": options.service_cidr},
        "proxy": {},
        "scheduler": {},
    }
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=True)


def cluster_info_kubeconfig(ca_pem: bytes, server: str) -> str:
    """The kubeconfig of kube-public/cluster-info: the cluster's CA and endpoint, no user (bootstrap reads it)."""
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": encode_data(ca_pem), "server": server}, "name": ""}],
        "contexts": None, "current-context": "", "kind": "Config", "preferences": {}, "users": None,
    }
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=False)
