"""``labelSelector`` and ``fieldSelector`` of list requests: the equality-based forms.

Label requirements ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``; fields with ``=``,
``==`` or ``!=``: ``metadata.name`` and ``metadata.namespace`` of every resource, and those kube-apiserver
selects pods (``spec.nodeName``, ``status.phase``) and events (``involvedObject.*``, ``reason``, ``type``)
by. Set-based selectors (``in``, ``notin``) are refused with 400 rather than ignored: a list that ignores its
selector answers a question nobody asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubecert.reference.kube.objects import ApiError, bounded

Predicate = Callable[[dict[str, Any]], bool]
_FIELDS = ("metadata.name", "metadata.namespace")
_RESOURCE_FIELDS = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "status.phase"),
    "events": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
               "reason", "type"),
}


def _split(requirement: str) -> tuple[str, str, str] | None:
    for operator in ("!=", "==", "="):
        if operator in requirement:
            key, _, value = requirement.partition(operator)
            return key.strip(), "!=" if operator == "!=" else "=", value.strip()
    return None


def label_selector(text: str) -> Predicate:
    checks: list[Predicate] = []
    for requirement in filter(None, (part.strip() for part in text.split(","))):
        if "(" in requirement or " in " in requirement or " notin " in requirement:
            raise ApiError(400, f"unable to parse requirement: set-based selectors are not supported: "
                                f"{bounded(requirement)}")
        split = _split(requirement)
        if split is None:
            checks.append(_label_present(requirement.removeprefix("!").strip(), not requirement.startswith("!")))
        else:
            key, operator, value = split
            checks.append(_label_equals(key, value, operator == "="))
    return _all(checks)


def field_selector(text: str, resource: str = "") -> Predicate:
    checks: list[Predicate] = []
    fields = (*_FIELDS, *_RESOURCE_FIELDS.get(resource, ()))
    for requirement in filter(None, (part.strip() for part in text.split(","))):
        split = _split(requirement)
        if split is None or split[0] not in fields:
            raise ApiError(400, f"field label not supported: {bounded(split[0] if split else requirement)}")
        field, operator, value = split
        checks.append(_field_equals(field, value, operator == "="))
    return _all(checks)


def _all(checks: list[Predicate]) -> Predicate:
    return lambda document: all(check(document) for check in checks)


def _label_present(key: str, present: bool) -> Predicate:
    return lambda document: (key in _labels(document)) == present


def _label_equals(key: str, value: str, equal: bool) -> Predicate:
    return lambda document: (_labels(document).get(key) == value) == equal


def _field_equals(path: str, value: str, equal: bool) -> Predicate:
    return lambda document: (_field(document, path) == value) == equal


def _field(document: dict[str, Any], path: str) -> str:
    found: Any = document
    for key in path.split("."):
        found = found.get(key) if isinstance(found, dict) else None
    return "" if found is None else str(found)


def _labels(document: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = document["metadata"].get("labels") or {}
    return labels
