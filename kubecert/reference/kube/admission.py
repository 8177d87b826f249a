"""An object a client asks the reference cluster to create, as kube-apiserver admits it: the body must be
the resource's kind in the group version asked, in the namespace of the request, with a valid name; the
fields the reference reads are validated (422, naming the field) and the rest kept as sent; the server sets
the uid, the creation time and, for pods, the defaults kubectl shows.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any, NoReturn

from kubecert.reference.kube import rbac
from kubecert.reference.kube.discovery import NAMESPACES, PODS, RBAC_RESOURCES, Resource
from kubecert.reference.kube.objects import ApiError, bounded, timestamp
from kubecert.reference.kube.state import new_uid
from kubecert.reference.pki.options import is_dns_subdomain

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_GENERATED = 5  # random characters kube-apiserver appends to a generateName


def parsed(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"null")
    except (ValueError, RecursionError):
        raise ApiError(400, "the body of the request is not valid JSON") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the body of the request must be a JSON object")
    return document


def admitted(resource: Resource, body: bytes, namespace: str | None, group_version: str, now: Any
             ) -> dict[str, Any]:
    """The object to store from a create request's ``body`` (``namespace``: the request's)."""
    document = parsed(body)
    if document.get("kind", resource.kind) != resource.kind:
        raise ApiError(400, f"the kind of the object ({bounded(str(document.get('kind')))}) is not {resource.kind}")
    if document.get("apiVersion", group_version) != group_version:
        raise ApiError(400, f"the API version in the data ({bounded(str(document.get('apiVersion')))}) does not "
                            f"match the expected API version ({group_version})")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise ApiError(422, f"{resource.kind} is invalid: metadata: Required value")
    if metadata.get("namespace") not in (None, "", namespace) and resource.namespaced:
        raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
    name = _name(resource, metadata)
    for key in ("labels", "annotations"):
        value = metadata.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            _invalid(resource, name, f"metadata.{key}", "must be a map of strings")
    metadata.update({"name": name, "uid": new_uid(), "creationTimestamp": timestamp(now)})
    metadata.pop("generateName", None)
    metadata.pop("namespace", None)
    if resource.namespaced:
        metadata["namespace"] = namespace
    document.update({"kind": resource.kind, "apiVersion": group_version})
    if resource == PODS:
        _pod(document, name)
    elif resource in RBAC_RESOURCES:
        rbac.validate(resource, document)
    elif resource == NAMESPACES:
        document.update({"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    return document


def _name(resource: Resource, metadata: dict[str, Any]) -> str:
    name, generate = metadata.get("name"), metadata.get("generateName")
    if not name and isinstance(generate, str) and generate:
        name = generate + "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(_GENERATED))
    if not isinstance(name, str) or not name:
        _invalid(resource, "", "metadata.name", "Required value: name or generateName is required")
    if resource in RBAC_RESOURCES:  # RBAC names are path segments: system:kube-scheduler
        if name in (".", "..") or "/" in name or "%" in name or len(name) > 253:
            _invalid(resource, name, "metadata.name", f'Invalid value: "{bounded(name, 64)}": may not contain "/" '
                                                      'or "%", nor be "." or ".."')
        return name
    valid = _LABEL.fullmatch(name) if resource == NAMESPACES else is_dns_subdomain(name)
    if not valid:
        _invalid(resource, name, "metadata.name", f'Invalid value: "{bounded(name, 64)}": a lowercase RFC 1123 '
                                                  f"{'label' if resource == NAMESPACES else 'subdomain'} must consist "
                                                  "of lower case alphanumeric characters, '-' or '.'")
    return str(name)


def _invalid(resource: Resource, name: str, where: str, problem: str) -> NoReturn:
    shown = bounded(name, 64)
    raise ApiError(422, f'{resource.kind} "{shown}" is invalid: {where}: {problem}',
                   {"name": shown, "kind": resource.name})


def _pod(document: dict[str, Any], name: str) -> None:
    """What the reference reads of a pod, validated; kube-apiserver's defaults for the rest it shows."""
    spec = document.get("spec")
    if not isinstance(spec, dict):
        _invalid(PODS, name, "spec", "Required value")
    volumes = spec.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, dict) and isinstance(v.get("name"), str)
                                                 for v in volumes):
        _invalid(PODS, name, "spec.volumes", "Invalid value: each volume needs a name")
    _containers(spec.get("containers"), name, {v["name"] for v in volumes})
    checks = {"nodeName": str, "tolerations": list, "nodeSelector": dict, "activeDeadlineSeconds": int}
    for key, kind in checks.items():
        if key in spec and not isinstance(spec[key], kind):
            _invalid(PODS, name, f"spec.{key}", f"Invalid value: must be a {kind.__name__}")
    if not all(isinstance(t, dict) for t in spec.get("tolerations", [])):
        _invalid(PODS, name, "spec.tolerations", "Invalid value: each is an object")
    spec.setdefault("restartPolicy", "Always")
    if spec["restartPolicy"] not in _RESTART_POLICIES:
        _invalid(PODS, name, "spec.restartPolicy", f"Unsupported value: one of {', '.join(_RESTART_POLICIES)}")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)


def _containers(containers: Any, name: str, volume_names: set[str]) -> None:
    if not isinstance(containers, list) or not containers:
        _invalid(PODS, name, "spec.containers", "Required value")
    for index, container in enumerate(containers):
        where = f"spec.containers[{index}]"
        if not isinstance(container, dict) or not _LABEL.fullmatch(str(container.get("name", ""))):
            _invalid(PODS, name, f"{where}.name", "Required value: a lowercase RFC 1123 label")
        if not isinstance(container.get("image"), str) or not container["image"].strip():
            _invalid(PODS, name, f"{where}.image", "Required value")
        for key in ("command", "args"):
            words = container.get(key, [])
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                _invalid(PODS, name, f"{where}.{key}", "Invalid value: a list of strings")
        mounts = container.get("volumeMounts", [])
        if not isinstance(mounts, list) or not all(isinstance(m, dict) and m.get("name") in volume_names
                                                   and isinstance(m.get("mountPath"), str) for m in mounts):
            _invalid(PODS, name, f"{where}.volumeMounts", "Not found: each names a volume of the pod, and a path")
