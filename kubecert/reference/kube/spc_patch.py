"""Reading a JSON merge patch (RFC 7386) of the SpectroCluster object, as ``kubectl annotate`` and the
Kubernetes clients send it: only ``metadata.annotations`` may change (a string sets, null removes);
``metadata.resourceVersion`` may name the version the change was made against.
"""

from __future__ import annotations

import json
from typing import Any

from kubecert.reference.kube.objects import ApiError, bounded

MERGE_PATCH = "application/merge-patch+json"
_MAX_ANNOTATION_BYTES = 256 * 1024  # kube-apiserver's limit on all annotations of one object


def annotation_changes(body: bytes) -> tuple[dict[str, str | None], int | None]:
    """The annotations the patch sets or removes, and the resourceVersion it requires (None: any)."""
    try:
        document: Any = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400, "the body of the request is not valid JSON") from None
    if not isinstance(document, dict):
        raise ApiError(422, "a merge patch of an object must be a JSON object")
    extra = sorted(set(document) - {"metadata", "apiVersion", "kind"})
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ApiError(422, "metadata must be an object")
    extra += sorted(f"metadata.{key}" for key in set(metadata) - {"annotations", "resourceVersion"})
    if extra:
        raise ApiError(422, f"only metadata.annotations can be changed here, not {bounded(extra[0])}")
    annotations = metadata.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ApiError(422, "metadata.annotations must be an object")
    for key, value in annotations.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(422, f"metadata.annotations.{bounded(key)} must be a string or null")
    if len(json.dumps(annotations)) > _MAX_ANNOTATION_BYTES:
        raise ApiError(422, "metadata.annotations: Too long: must have at most 262144 bytes")
    version = metadata.get("resourceVersion")
    if version is None:
        return annotations, None
    if not isinstance(version, str) or not version.isdigit():
        raise ApiError(400, "metadata.resourceVersion must be a resourceVersion this server gave")
    return annotations, int(version)
