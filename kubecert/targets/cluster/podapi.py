"""The node reader's requests on pods in one namespace: create, read, read the log, list events, delete.

Answers are read raw and bounded here, whatever the server says about their size: a pod or an event
list is a small document, and a log is read to one byte past its bound, never further, even from a
server that ignores ``limitBytes``. Each request runs within the client's wall-clock deadline and fails
as a ReadProblem that names the permission a 403 refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubecert.inventory.safe_json import JsonError, loads_bounded
from kubecert.targets.cluster import permissions as rbac
from kubecert.targets.cluster.client import DEADLINE_S, TIMEOUT, ClusterClient, ReadProblem
from kubecert.targets.cluster.readerpod import CONTAINER

MAX_DOCUMENT_BYTES = 1 << 20
DELETE_DEADLINE_S = 10.0  # a delete is one short request; it must not hold up a stopping run
_CHUNK = 1 << 16


class TooLarge(ReadProblem):
    """An answer longer than its bound; it was not read further."""


def read_bounded(response: Any, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of a urllib3 response; TooLarge (and the connection dropped) past that."""
    chunks, size = [], 0
    try:
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{what}: the answer is longer than {limit} bytes; not read further")
            chunks.append(chunk)
    finally:
        response.close()
    return b"".join(chunks)


class PodApi:
    """Pods of ``namespace`` as ``client`` reaches them."""

    def __init__(self, client: ClusterClient, namespace: str) -> None:
        self.client = client
        self.core = client.core
        self.namespace = namespace

    def _call(self, what: str, permission: rbac.Permission, call: Callable[[], bytes], *, missing_ok: bool = False,
              deadline_s: float = DEADLINE_S) -> bytes | None:
        try:
            return self.client.call(what, permission.within(self.namespace), call, missing_ok=missing_ok,
                                    deadline_s=deadline_s)
        except ReadProblem as exc:
            if exc.status == 403:
                raise ReadProblem(f"{exc} ({rbac.RBAC_MANIFEST} grants what the node reader needs)", 403) from None
            raise

    def _document(self, what: str, permission: rbac.Permission, request: Callable[[], Any]) -> dict[str, Any]:
        body = self._call(what, permission, lambda: read_bounded(request(), MAX_DOCUMENT_BYTES, what)) or b""
        try:
            document = loads_bounded(body)
        except (JsonError, UnicodeDecodeError) as exc:
            raise ReadProblem(f"{what}: the answer is not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise ReadProblem(f"{what}: the answer is not a JSON object")
        return document

    def create(self, manifest: dict[str, Any], node: str) -> dict[str, Any]:
        from kubernetes.client import V1Pod

        name, pod = manifest["metadata"]["name"], V1Pod.from_dict(manifest)  # it serializes back to the manifest
        assert pod is not None
        return self._document(f"creating the reader pod {self.namespace}/{name} on {node}", rbac.CREATE_POD,
                              lambda: self.core.create_namespaced_pod(self.namespace, pod, _preload_content=False,
                                                                      _request_timeout=TIMEOUT))

    def read(self, name: str) -> dict[str, Any]:
        return self._document(f"reading the pod {self.namespace}/{name}", rbac.GET_POD,
                              lambda: self.core.read_namespaced_pod(name, self.namespace, _preload_content=False,
                                                                    _request_timeout=TIMEOUT))

    def log(self, name: str, limit: int) -> bytes:
        """The container's log, at most ``limit`` bytes (TooLarge when there is more)."""
        what = f"reading the log of {self.namespace}/{name}"
        return self._call(what, rbac.GET_POD_LOG, lambda: read_bounded(self.core.read_namespaced_pod_log(
            name, self.namespace, container=CONTAINER, limit_bytes=limit + 1, _preload_content=False,
            _request_timeout=TIMEOUT), limit, what)) or b""

    def events(self, name: str) -> list[Any]:
        """The events about the pod; [] when they cannot be had (they only explain, they are not needed)."""
        selector = f"involvedObject.kind=Pod,involvedObject.name={name}"
        try:
            found = self._document(f"listing the events of {self.namespace}/{name}", rbac.LIST_EVENTS,
                                   lambda: self.core.list_namespaced_event(self.namespace, field_selector=selector,
                                                                           _preload_content=False,
                                                                           _request_timeout=TIMEOUT))
        except ReadProblem:
            return []
        items = found.get("items")
        return items if isinstance(items, list) else []

    def delete(self, name: str) -> bool:
        """Delete the pod at once (no grace period); False when it was already gone."""
        what = f"deleting the pod {self.namespace}/{name}"
        found = self._call(what, rbac.DELETE_POD, lambda: read_bounded(self.core.delete_namespaced_pod(
            name, self.namespace, grace_period_seconds=0, _preload_content=False,
            _request_timeout=(TIMEOUT[0], DELETE_DEADLINE_S)), MAX_DOCUMENT_BYTES, what),
            missing_ok=True, deadline_s=DELETE_DEADLINE_S)
        return found is not None
