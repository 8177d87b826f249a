"""What changes the reference cluster's objects: creating them (namespaces, pods, service accounts, RBAC
roles and bindings), deleting them, and reading a pod's log, authorized as kube-apiserver authorizes them
and answered as it answers.

A created pod is handed to the cluster's stand-in scheduler and kubelets (kubelet.py), which decide at once
what becomes of it; the create itself answers with the pod as stored before that, Pending, as
kube-apiserver does. A deleted pod is gone at once (no grace period: nothing runs), its log with it.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kubecert.reference.kube import discovery as disc
from kubecert.reference.kube import objects as obj
from kubecert.reference.kube.admission import admitted, parsed
from kubecert.reference.kube.auth import Authorizer, Identity
from kubecert.reference.kube.cluster import ReferenceCluster
from kubecert.reference.kube.exchange import ApiRequest, ApiResponse, json_response
from kubecert.reference.kube.openapi import unknown_fields
from kubecert.reference.kube.state import MAX_STORED, AlreadyExists, StoreFull

TEXT = "text/plain"


class Writes:
    def __init__(self, cluster: ReferenceCluster, authorizer: Authorizer, clock: Callable[[], dt.datetime]) -> None:
        self.cluster = cluster
        self.authorizer = authorizer
        self.clock = clock

    def create(self, request: ApiRequest, identity: Identity, resource: disc.Resource, namespace: str | None,
               group_version: str = "v1") -> ApiResponse:
        self.authorizer.authorize(identity, "create", resource, name=None, namespace=namespace)
        if resource.namespaced:
            self._existing_namespace(namespace or "")
        if _field_validation(request) == "Strict":  # decoding comes first: an unknown field before an invalid one
            _strictly(resource, parsed(request.body), group_version)
        document = admitted(resource, request.body, namespace, group_version, self.clock())
        name = document["metadata"]["name"]
        taken = [d["metadata"]["name"] for d in self.cluster.store.stored(resource.name)
                 if d["metadata"].get("namespace") == document["metadata"].get("namespace")]
        if resource == disc.NAMESPACES:
            taken += self.cluster.namespaces()
        if name in taken:
            raise _exists(resource, name)
        answer = copy.deepcopy(document)
        if resource == disc.PODS:
            document = self.cluster.kubelets.start(document)
        try:
            stored = self.cluster.store.add(resource.name, document)
        except AlreadyExists:
            self.cluster.kubelets.forget(document)
            raise _exists(resource, name) from None
        except StoreFull:
            self.cluster.kubelets.forget(document)
            raise obj.ApiError(403, f'{resource.name} "{obj.shown_name(name)}" is forbidden: exceeded quota: the '
                                    f"reference cluster keeps at most {MAX_STORED} objects made by clients") from None
        answer["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
        if resource == disc.PODS:
            answer["status"] = {"phase": "Pending", "qosClass": "Burstable"}
        return json_response(201, answer)

    def delete(self, identity: Identity, resource: disc.Resource, namespace: str | None, name: str) -> ApiResponse:
        self.authorizer.authorize(identity, "delete", resource, name=name, namespace=namespace)
        removed = self.cluster.store.remove(resource.name, namespace, name)
        if removed is None:
            raise obj.not_found(resource, name)
        if resource == disc.PODS:
            self.cluster.kubelets.forget(removed)
            removed["metadata"].update({"deletionTimestamp": obj.timestamp(self.clock()),
                                        "deletionGracePeriodSeconds": 0})
            return json_response(200, removed)
        return json_response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                   "details": {"name": name, "kind": resource.name,
                                               "uid": removed["metadata"].get("uid")}})

    def log(self, identity: Identity, namespace: str, name: str, query: dict[str, str]) -> ApiResponse:
        """``GET .../pods/NAME/log[?container=C&limitBytes=N]``: what the pod's container printed, at most N bytes."""
        self.authorizer.authorize(identity, "get", disc.POD_LOGS, name=name, namespace=namespace)
        found = [d for d in self.cluster.store.stored(disc.PODS.name) if d["metadata"].get("namespace") == namespace
                 and d["metadata"]["name"] == name]
        if not found:
            raise obj.not_found(disc.PODS, name)
        pod = found[0]
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container") or containers[0]
        if container not in containers:
            raise obj.ApiError(400, f"container {obj.bounded(container, 64)} is not valid for pod {name}")
        limit = _limit(query.get("limitBytes"))
        log = self.cluster.kubelets.log(pod)
        if log is None:
            raise obj.ApiError(400, _not_started(pod, container))
        return ApiResponse(200, log[:limit] if limit is not None else log, TEXT)

    def _existing_namespace(self, namespace: str) -> None:
        if namespace not in self.cluster.namespaces():
            raise obj.not_found(disc.NAMESPACES, namespace)


def _exists(resource: disc.Resource, name: str) -> obj.ApiError:
    shown = obj.shown_name(name)
    return obj.ApiError(409, f'{resource.name} "{shown}" already exists', {"name": shown, "kind": resource.name},
                        reason="AlreadyExists")


def _limit(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise obj.ApiError(400, f"limitBytes: Invalid value: {obj.bounded(text, 32)}: must be greater than 0")
    return int(text)


def _not_started(pod: dict[str, Any], container: str) -> str:
    name = pod["metadata"]["name"]
    if not pod["spec"].get("nodeName"):
        return f"pod {name} does not have a host assigned"
    statuses = pod.get("status", {}).get("containerStatuses") or []
    waiting = statuses[0].get("state", {}).get("waiting", {}) if statuses else {}
    reason = waiting.get("reason") or "PodInitializing"
    said = "trying and failing to pull image" if reason == "ErrImagePull" else reason
    return f'container "{container}" in pod "{name}" is waiting to start: {said}'


def _field_validation(request: ApiRequest) -> str:
    values = parse_qs(urlsplit(request.target).query).get("fieldValidation", [])
    return values[-1] if values else ""


def _strictly(resource: disc.Resource, document: dict[str, Any], group_version: str) -> None:
    """``?fieldValidation=Strict``: a field the kind does not have is refused, as kube-apiserver does."""
    unknown = unknown_fields(resource.kind, document)
    if unknown:
        version = group_version.rpartition("/")[2]
        fields = ", ".join(f'unknown field "{obj.bounded(field, 64)}"' for field in unknown[:10])
        raise obj.ApiError(400, f'{resource.kind} in version "{version}" cannot be handled as a {resource.kind}: '
                                f"strict decoding error: {fields}")
