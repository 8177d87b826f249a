"""The cluster's SpectroCluster object: the custom resource (CRD spectroclusters.cluster.spectrocloud.com, short
name spc) in namespace ``cluster-<uid>``, named after the cluster, that carries the control-plane-only
annotation. It lives in Kubernetes, not behind the Palette API (whose routes have no such object): kubecert
reads and annotates it as the Palette page does with ``kubectl annotate spc``, through the Kubernetes API that
``--palette-kubeconfig`` reaches, with the ``kubernetes`` client. Without that kubeconfig the target does not
offer the ``annotate`` capability, and KC-RPV-06 is skipped naming the option.

Every request has the cluster client's deadline; an answer is read to at most ``MAX_OBJECT_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubecert.inventory.safe_json import JsonError, loads_bounded
from kubecert.options import OptionsHint
from kubecert.targets.cluster import permissions as rbac
from kubecert.targets.cluster.client import TIMEOUT, ClusterClient, ReadProblem
from kubecert.targets.cluster.podapi import read_bounded
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.palette.api import PaletteApi

GROUP = "cluster.spectrocloud.com"
VERSIONS = ("v1", "v1alpha1")  # the SpectroCluster CRD: v1 in recent releases, v1alpha1 before
PLURAL = "spectroclusters"
MERGE_PATCH = "application/merge-patch+json"
MAX_OBJECT_BYTES = 1 << 20  # one object: its annotations alone may hold 256 KiB
OPTION = "--palette-kubeconfig"
REASON = OptionsHint(f"give {OPTION} FILE, a kubeconfig of the Kubernetes API that holds the cluster's SpectroCluster "
                     "object (what kubectl annotate spc uses), to let kubecert set and restore the control-plane-only "
                     "annotation", (OPTION,))


def read_annotation(target: PaletteApi, key: str) -> str | None:
    document = _object(target, "reading", "get", lambda api, version, namespace, name: api.get_namespaced_custom_object(
        GROUP, version, namespace, PLURAL, name, _preload_content=False, _request_timeout=TIMEOUT))
    annotations = (document.get("metadata") or {}).get("annotations") if isinstance(document, dict) else None
    value = annotations.get(key) if isinstance(annotations, dict) else None
    return None if value is None else str(value)


def write_annotation(target: PaletteApi, key: str, value: str | None) -> None:
    """Set (or, with None, remove) one annotation with a JSON merge patch, as ``kubectl annotate`` does."""
    body = {"metadata": {"annotations": {key: value}}}
    _object(target, "annotating", "patch", lambda api, version, namespace, name: api.patch_namespaced_custom_object(
        GROUP, version, namespace, PLURAL, name, body, _content_type=MERGE_PATCH, _preload_content=False,
        _request_timeout=TIMEOUT))


def _where(target: PaletteApi) -> tuple[str, str]:
    """(namespace, name) of the cluster's object: the name comes from the cluster object."""
    name = target.cluster_name()
    if not name:
        raise TargetUnavailable(f"{target.id}: the cluster object gives no metadata.name, so its SpectroCluster "
                                "object cannot be found")
    return f"cluster-{target.cluster_uid}", name


def _object(target: PaletteApi, doing: str, verb: str, call: Callable[[Any, str, str, str], Any]) -> dict[str, Any]:
    """The object as the API answered ``call``, at the first version of the CRD the API serves."""
    access = target.kubeconfig
    if access is None:
        raise TargetUnavailable(f"{target.id}: no {OPTION}: {REASON}")
    namespace, name = _where(target)
    permission = rbac.Permission(verb, PLURAL, GROUP, namespace=namespace)
    try:
        client = ClusterClient(access)  # built from what the kubeconfig holds, never from the file
    except TargetUnavailable as exc:
        raise TargetUnavailable(f"{target.id}: {OPTION}: {exc}") from None
    try:
        for version in VERSIONS:
            what = f"{doing} the SpectroCluster object {namespace}/{name} ({GROUP}/{version}) through {OPTION}"
            body = client.call(what, permission, lambda v=version, w=what: read_bounded(  # type: ignore[misc]
                call(client.custom, v, namespace, name), MAX_OBJECT_BYTES, w), missing_ok=True)
            if body is not None:
                return _document(target, what, body)
    except ReadProblem as exc:
        raise TargetUnavailable(f"{target.id}: {exc}") from None
    finally:
        client.close()
    raise TargetUnavailable(f"{target.id}: the SpectroCluster object {namespace}/{name} was not found through {OPTION} "
                            f"({GROUP} {' and '.join(VERSIONS)}): is it the Kubernetes API that holds the cluster's "
                            "SpectroCluster object?")


def _document(target: PaletteApi, what: str, body: bytes) -> dict[str, Any]:
    try:
        document = loads_bounded(body)
    except (JsonError, UnicodeDecodeError) as exc:
        raise TargetUnavailable(f"{target.id}: {what}: the answer is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise TargetUnavailable(f"{target.id}: {what}: the answer is not a JSON object")
    return document

