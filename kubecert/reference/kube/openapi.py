"""What kubectl's validation reads of the reference cluster's OpenAPI v3, and the strict field validation it
then leaves to the server.

kubectl (v1.27 and later, ``--validate=strict`` by default) fetches ``/openapi/v3``, then the document of the
object's group version, and looks for the kind's PATCH operation (``x-kubernetes-group-version-kind``)
with a ``fieldValidation`` query parameter; found, it sends ``?fieldValidation=Strict`` and validates
nothing itself. Without these documents it refuses to apply anything ("failed to download openapi") unless
told ``--validate=false``. So each group version's document declares, for every kind clients may create,
that operation and nothing else: the reference publishes no schemas, and a PATCH of those kinds is still
answered 405 as before. Strict validation is done here for the fields the reference knows: the top level
and metadata of every kind, and RBAC's rules, subjects and roleRef; a pod's spec is kept as sent.
"""

from __future__ import annotations

from typing import Any

from kubecert.reference.kube import discovery as disc

ROOT = "/openapi/v3"
_METADATA = frozenset({"name", "generateName", "namespace", "labels", "annotations", "uid", "resourceVersion",
                       "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds",
                       "ownerReferences", "finalizers", "managedFields", "selfLink"})
_RULE = frozenset({"apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"})
_SUBJECT = frozenset({"kind", "apiGroup", "name", "namespace"})
_ROLE_REF = frozenset({"apiGroup", "kind", "name"})
_BINDING: dict[str, frozenset[str] | None] = {"subjects": _SUBJECT, "roleRef": _ROLE_REF}
# Each kind's top-level fields beside apiVersion, kind and metadata, and the known fields of those that hold
# objects or lists of objects (None: kept as sent).
_FIELDS: dict[str, dict[str, frozenset[str] | None]] = {
    "Role": {"rules": _RULE},
    "ClusterRole": {"rules": _RULE, "aggregationRule": None},
    "RoleBinding": _BINDING,
    "ClusterRoleBinding": _BINDING,
    "Namespace": {"spec": None, "status": None},
    "ServiceAccount": {"secrets": None, "imagePullSecrets": None, "automountServiceAccountToken": None},
    "Pod": {"spec": None, "status": None},
}
FIELD_VALIDATION = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True},
                    "description": "Ignore, Warn or Strict: how the server treats fields it does not know"}


def _creatable(group: str) -> tuple[disc.Resource, ...]:
    resources = disc.RBAC_RESOURCES if group == disc.RBAC_GROUP else disc.CORE_RESOURCES
    return tuple(r for r in resources if "create" in r.verbs and "/" not in r.name)


def _group_versions() -> dict[str, tuple[str, str]]:
    """The documents, by path below ROOT: (group, version), for the groups whose kinds clients create."""
    return {"api/v1": ("", "v1"), f"apis/{disc.RBAC_GROUP}/{disc.RBAC_VERSION}": (disc.RBAC_GROUP, disc.RBAC_VERSION)}


def root_document() -> dict[str, Any]:
    return {"paths": {path: {"serverRelativeURL": f"{ROOT}/{path}"} for path in _group_versions()}}


def group_version_document(path: str) -> dict[str, Any] | None:
    """The document at ``ROOT/path``, or None when there is none."""
    found = _group_versions().get(path)
    if found is None:
        return None
    group, version = found
    paths = {}
    for resource in _creatable(group):
        where = f"/{path}/namespaces/{{namespace}}/{resource.name}/{{name}}" if resource.namespaced \
            else f"/{path}/{resource.name}/{{name}}"
        gvk = {"group": group, "version": version, "kind": resource.kind}
        paths[where] = {"patch": {"operationId": f"patch{resource.kind}", "parameters": [FIELD_VALIDATION],
                                  "x-kubernetes-group-version-kind": gvk, "responses": {}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "paths": paths,
            "components": {"schemas": {}}}


def unknown_fields(kind: str, document: dict[str, Any]) -> list[str]:
    """The fields of ``document`` (a ``kind`` object a client sent) that its kind does not have, as
    kube-apiserver's strict decoding names them: ``rules[0].verb``."""
    known = _FIELDS.get(kind, {})
    unknown = [key for key in document if key not in {"apiVersion", "kind", "metadata", *known}]
    metadata = document.get("metadata")
    if isinstance(metadata, dict):
        unknown += [f"metadata.{key}" for key in metadata if key not in _METADATA]
    for field, fields in known.items():
        value = document.get(field)
        if fields is None or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{field}[{index}]" if isinstance(value, list) else field
            if isinstance(item, dict):
                unknown += [f"{where}.{key}" for key in item if key not in fields]
    return unknown
