"""The reference cluster's Kubernetes API, free of HTTP: a request (method, target, headers that
matter, body, the authenticated identity) in, a status, body and content type out.

Routes: /version, /healthz, /readyz, /livez; discovery (/api, /api/v1, /apis, /apis/<group>[/<version>]) and
what kubectl's validation reads of /openapi/v3 (openapi.py);
nodes, namespaces, ConfigMaps, pods and events (get and list, also across namespaces); namespaces and pods
are created and pods deleted, their logs read (writes.py, and kubelet.py for what becomes of a pod); the
SpectroCluster custom object (get, list, and PATCH with a JSON merge patch of its annotations). Every
failure is a Status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from kubecert.reference.kube import discovery as disc
from kubecert.reference.kube import objects as obj
from kubecert.reference.kube import openapi
from kubecert.reference.kube.auth import Authorizer, Identity, authenticated
from kubecert.reference.kube.cluster import ReferenceCluster
from kubecert.reference.kube.exchange import ApiRequest, ApiResponse, json_response
from kubecert.reference.kube.paths import Location, locate
from kubecert.reference.kube.rbac import Rbac
from kubecert.reference.kube.selectors import field_selector, label_selector
from kubecert.reference.kube.spc_patch import MERGE_PATCH, annotation_changes
from kubecert.reference.kube.state import StaleResourceVersion
from kubecert.reference.kube.tables import Representation, negotiate, table_document
from kubecert.reference.kube.writes import Writes

_HEALTH = frozenset({"healthz", "readyz", "livez"})


def _no_route() -> obj.ApiError:
    return obj.ApiError(404, "the server could not find the requested resource")


class ServedNodes(Protocol):
    """What the server running the cluster's nodes shows of them (server.py): their static pods' mirror Pods,
    and where each node's kubelet is reached."""

    def mirror_pods(self) -> list[dict[str, Any]]: ...

    def node_endpoint(self, node: str) -> tuple[str, int] | None: ...


class ClusterApi:
    """Answers requests about ``cluster``; ``server_url`` is where clients reach it (for cluster-info);
    ``served`` is what runs its nodes (None: nothing does, so there are no static pods to show)."""

    def __init__(self, cluster: ReferenceCluster, server_url: str, *, clock: Callable[[], dt.datetime] | None = None,
                 served: ServedNodes | None = None) -> None:
        self.cluster = cluster
        self.server_url = server_url
        self.served = served
        self.clock = clock or cluster.clock
        self.authorizer = Authorizer(Rbac(cluster.store.stored))
        self.writes = Writes(cluster, self.authorizer, self.clock)

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._route(request)
        except obj.ApiError as error:
            return json_response(error.code, error.status())

    def _route(self, request: ApiRequest) -> ApiResponse:
        identity = authenticated(request.identity)
        split = urlsplit(request.target)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        parts = [unquote(p) for p in split.path.split("/") if p]
        if parts in (["version"], *([h] for h in _HEALTH)):
            self._only(request, "GET")
            if parts == ["version"]:
                return json_response(200, obj.version_document(self.kubernetes_version()))
            return ApiResponse(200, b"ok", "text/plain; charset=utf-8")
        if parts[:2] == ["openapi", "v3"]:
            document = openapi.root_document() if len(parts) == 2 else openapi.group_version_document(
                "/".join(parts[2:]))
            if document is None:
                raise _no_route()
            return self._discovery(request, document)
        if parts[:1] == ["api"]:
            return self._core(request, identity, parts[1:], query)
        if parts[:1] == ["apis"]:
            return self._named_groups(request, identity, parts[1:], query)
        raise _no_route()

    # --- discovery and routing

    def _discovery(self, request: ApiRequest, document: dict[str, Any]) -> ApiResponse:
        self._only(request, "GET")
        negotiate(request.accept, tables=False)
        return json_response(200, document)

    def _core(self, request: ApiRequest, identity: Identity, parts: list[str], query: dict[str, str]) -> ApiResponse:
        if not parts:
            return self._discovery(request, disc.api_versions(urlsplit(self.server_url).netloc))
        if parts[0] != "v1":
            raise _no_route()
        if not parts[1:]:
            return self._discovery(request, disc.resource_list("v1", disc.CORE_RESOURCES))
        return self._serve(request, identity, locate(disc.CORE_RESOURCES, parts[1:]), query)

    def _serve(self, request: ApiRequest, identity: Identity, where: Location, query: dict[str, str],
               version: str = "v1") -> ApiResponse:
        """A request on a resource, by method."""
        resource, namespace, name = where.resource, where.namespace, where.name
        if where.subresource is not None:
            self._only(request, "GET")
            return self.writes.log(identity, namespace or "", name or "", query)
        if request.method == "POST" and name is None:
            self._verb(resource, "create")
            group_version = f"{resource.group}/{version}" if resource.group else version
            return self.writes.create(request, identity, resource, namespace, group_version)
        if request.method == "DELETE" and name is not None:
            self._verb(resource, "delete")
            return self.writes.delete(identity, resource, namespace, name)
        return self._read(request, identity, resource, namespace=namespace, name=name, query=query, version=version)

    def _named_groups(self, request: ApiRequest, identity: Identity, parts: list[str], query: dict[str, str]
                      ) -> ApiResponse:
        if not parts:
            return self._discovery(request, disc.api_group_list())
        group = parts[0]
        if group not in disc.GROUP_VERSIONS:
            raise _no_route()
        if len(parts) == 1:
            return self._discovery(request, disc.api_group(group))
        version, rest = parts[1], parts[2:]
        if version not in disc.GROUP_VERSIONS[group]:
            raise _no_route()
        resources = disc.RBAC_RESOURCES if group == disc.RBAC_GROUP else (disc.SPECTROCLUSTERS,)
        if not rest:
            return self._discovery(request, disc.resource_list(f"{group}/{version}", resources))
        where = locate(resources, rest)
        if where.resource == disc.SPECTROCLUSTERS and request.method == "PATCH" and where.name is not None:
            return self._patch_spc(request, identity, version, where.namespace or "", where.name)
        return self._serve(request, identity, where, query, version)

    @staticmethod
    def _only(request: ApiRequest, *methods: str) -> None:
        if request.method not in methods:
            raise obj.ApiError(405, f"the server does not allow this method on the requested resource "
                                    f"(allowed: {', '.join(methods)})")

    @staticmethod
    def _verb(resource: disc.Resource, verb: str) -> None:
        if verb not in resource.verbs:
            raise obj.ApiError(405, f"the server does not allow this method on the requested resource "
                                    f"({resource.qualified}: {', '.join(resource.verbs)})")

    # --- reading objects

    def _read(self, request: ApiRequest, identity: Identity, resource: disc.Resource, *, namespace: str | None,
              name: str | None, query: dict[str, str], version: str = "v1") -> ApiResponse:
        self._only(request, "GET")
        self.authorizer.authorize(identity, "get" if name else "list", resource, name=name, namespace=namespace)
        if query.get("watch", "false").lower() not in ("false", "0"):
            raise obj.ApiError(405, "watch is not served by the reference cluster; list instead")
        representation = negotiate(request.accept, tables=True)
        documents = self.objects(resource, namespace, version)
        if name is not None:
            found = [d for d in documents if d["metadata"]["name"] == name]
            if not found:
                raise obj.not_found(resource, name)
            return self._answer(representation, resource, found, query, single=True)
        selected = [d for d in documents
                    if label_selector(query.get("labelSelector", ""))(d)
                    and field_selector(query.get("fieldSelector", ""), resource.name)(d)]
        return self._answer(representation, resource, selected, query, single=False, version=version)

    def _answer(self, representation: Representation, resource: disc.Resource, documents: list[dict[str, Any]],
                query: dict[str, str], *, single: bool, version: str = "v1") -> ApiResponse:
        revision = self.cluster.store.revision
        if representation.table_version is not None:
            table = table_document(resource, documents, version=representation.table_version, revision=revision,
                                   now=self.clock(), include_object=query.get("includeObject",
                                                                              "PartialObjectMetadata"))
            return json_response(200, table, representation.content_type)
        if single:
            return json_response(200, documents[0])
        api_version = f"{resource.group}/{version}" if resource.group else "v1"
        return json_response(200, obj.list_document(f"{resource.kind}List", documents, revision, api_version))

    def objects(self, resource: disc.Resource, namespace: str | None, version: str = "v1") -> list[dict[str, Any]]:
        """Every object of ``resource`` (in ``namespace``, or all), as the API shows it."""
        info = self.cluster.info
        if resource == disc.NODES:
            kubelet = self.kubernetes_version()
            return [obj.node_document(node, kubelet, self.served.node_endpoint(node.name) if self.served else None)
                    for node in self.cluster.served_nodes()]
        if resource == disc.NAMESPACES:
            made = {d["metadata"]["name"]: d for d in self.cluster.store.stored(resource.name)}
            return [made.get(name) or obj.namespace_document(info, name) for name in self.cluster.namespaces()]
        if resource == disc.SPECTROCLUSTERS:
            if namespace not in (None, info.namespace):
                return []
            return [obj.spc_document(info, self.cluster.store.spectrocluster(), version)]
        if resource == disc.CONFIGMAPS:
            namespaces = self.cluster.namespaces()
            chosen = [namespace] if namespace is not None else namespaces
            return [document for ns in chosen if ns in namespaces for document in self._configmaps(ns)]
        found = self.cluster.kubelets.events() if resource == disc.EVENTS else self.cluster.store.stored(resource.name)
        if resource == disc.PODS and self.served is not None:  # in etcd's key order, as kube-apiserver lists
            found = sorted([*found, *self.served.mirror_pods()],
                           key=lambda d: (d["metadata"].get("namespace") or "", d["metadata"]["name"]))
        return [d for d in found if namespace in (None, d["metadata"].get("namespace"))]

    def _configmaps(self, namespace: str) -> list[dict[str, Any]]:
        info = self.cluster.info
        documents = []
        if namespace == "kube-public":
            kubeconfig = obj.cluster_info_kubeconfig(self.cluster.ca_pem(), self.server_url)
            documents.append(obj.configmap_document(info, namespace, "cluster-info", {"kubeconfig": kubeconfig}))
        root_ca = {"ca.crt": self.cluster.published_ca_pem().decode()}
        documents.append(obj.configmap_document(info, namespace, obj.ROOT_CA_CONFIGMAP, root_ca))
        if namespace == "kube-system":
            first = self.cluster.control_plane_nodes()[0]
            configuration = obj.cluster_configuration(self.cluster.node_options(first))
            documents.append(obj.configmap_document(info, namespace, "kubeadm-config",
                                                    {"ClusterConfiguration": configuration}))
        return sorted(documents, key=lambda d: str(d["metadata"]["name"]))

    def kubernetes_version(self) -> str:
        """The version the first node's kube-apiserver manifest runs (its image tag)."""
        first = self.cluster.control_plane_nodes()[0]
        manifest = self.cluster.node_root(first) / "manifests" / "kube-apiserver.yaml"
        try:
            image = yaml.safe_load(manifest.read_bytes())["spec"]["containers"][0]["image"]
            return str(image).rsplit(":", 1)[1]
        except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
            return self.cluster.info.kubernetes_version

    # --- the one write

    def _patch_spc(self, request: ApiRequest, identity: Identity, version: str, namespace: str, name: str
                   ) -> ApiResponse:
        self.authorizer.authorize(identity, "patch", disc.SPECTROCLUSTERS, name=name, namespace=namespace)
        info = self.cluster.info
        if namespace != info.namespace or name != info.name:
            raise obj.not_found(disc.SPECTROCLUSTERS, name)
        media = request.content_type.split(";")[0].strip().lower()
        if media != MERGE_PATCH:
            raise obj.ApiError(415, f"the body of the request was in an unknown format - accepted media types "
                                    f"include: {MERGE_PATCH}")
        changes, expected = annotation_changes(request.body)
        try:
            updated = self.cluster.store.patch_annotations(changes, if_resource_version=expected)
        except StaleResourceVersion:
            raise obj.ApiError(409, f'Operation cannot be fulfilled on {disc.SPECTROCLUSTERS.qualified} "{name}": the '
                                    "object has been modified; please apply your changes to the latest version and "
                                    "try again") from None
        return json_response(200, obj.spc_document(info, updated, version))
