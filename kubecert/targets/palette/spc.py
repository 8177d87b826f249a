"""The cluster's SpectroCluster object (``spc``, in namespace ``cluster-<uid>``, named after the cluster):
read and annotate it, through the management API's Kubernetes-style route or, given a kubeconfig,
through the cluster's own API server with the ``kubernetes`` client. Changes are JSON merge patches.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.palette.api import PaletteApi

GROUP = "cluster.spectrocloud.com"
VERSIONS = ("v1", "v1alpha1")  # the SpectroCluster CRD: v1 in recent releases, v1alpha1 before
PLURAL = "spectroclusters"
MERGE_PATCH = "application/merge-patch+json"
_TIMEOUT = (10, 30)


def _where(target: PaletteApi) -> tuple[str, str]:
    """(namespace, name) of the cluster's object: the name comes from the cluster object."""
    name = target.cluster_name()
    if not name:
        raise TargetUnavailable(f"{target.id}: the cluster object gives no metadata.name, so its SpectroCluster "
                                "object cannot be found")
    return f"cluster-{target.cluster_uid}", name


def read_annotation(target: PaletteApi, key: str) -> str | None:
    document = _get(target)
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(key) if isinstance(annotations, dict) else None
    return None if value is None else str(value)


def write_annotation(target: PaletteApi, key: str, value: str | None) -> None:
    """Set (or, with None, remove) one annotation with a JSON merge patch."""
    _patch(target, {"metadata": {"annotations": {key: value}}})


def _get(target: PaletteApi) -> dict[str, Any]:
    if target.kubeconfig is not None:
        return _kube(target, lambda api, v, ns, name: api.get_namespaced_custom_object(
            GROUP, v, ns, PLURAL, name, _request_timeout=_TIMEOUT))
    return _route(target, "GET", None)


def _patch(target: PaletteApi, body: dict[str, Any]) -> dict[str, Any]:
    if target.kubeconfig is not None:
        return _kube(target, lambda api, v, ns, name: api.patch_namespaced_custom_object(
            GROUP, v, ns, PLURAL, name, body, _content_type=MERGE_PATCH, _request_timeout=_TIMEOUT))
    return _route(target, "PATCH", body)


def _route(target: PaletteApi, method: str, body: dict[str, Any] | None) -> dict[str, Any]:
    namespace, name = _where(target)
    last = None
    for version in VERSIONS:
        path = (f"/apis/{GROUP}/{version}/namespaces/{urllib.parse.quote(namespace, safe='')}/{PLURAL}/"
                f"{urllib.parse.quote(name, safe='')}")
        exchange = target.client().request(method, path, body=body, content_type=MERGE_PATCH if body else None)
        if exchange.status == 200 and isinstance(exchange.document, dict):
            return exchange.document
        last = exchange
        if exchange.status != 404:
            break
    assert last is not None
    raise TargetUnavailable(f"{target.id}: {method} of the SpectroCluster object {namespace}/{name} answered "
                            f"{last.status or last.error}")


def _kube(target: PaletteApi, call: Any) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException

    from kubecert.targets.cluster.client import ClusterClient

    namespace, name = _where(target)
    assert target.kubeconfig is not None
    try:
        cluster = ClusterClient(target.kubeconfig)  # built from what the kubeconfig holds, never from the file
    except TargetUnavailable as exc:
        raise TargetUnavailable(f"{target.id}: --palette-kubeconfig: {exc}") from None
    try:
        last: Exception | None = None
        for version in VERSIONS:
            try:
                document = call(cluster.custom, version, namespace, name)
            except ApiException as exc:
                last = exc
                if exc.status == 404:
                    continue
                break
            except Exception as exc:  # urllib3 transport errors: the cluster's API server is unreachable
                raise TargetUnavailable(f"{target.id}: the cluster's API server (from --palette-kubeconfig) "
                                        f"could not be reached: {type(exc).__name__}") from None
            return dict(document)
    finally:
        cluster.close()
    status = getattr(last, "status", None)
    raise TargetUnavailable(f"{target.id}: the SpectroCluster object {namespace}/{name} through the kubeconfig: "
                            f"{status} {getattr(last, 'reason', '')}".rstrip())
