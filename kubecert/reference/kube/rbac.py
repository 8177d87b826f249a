"""RBAC in the reference cluster: the Roles, ClusterRoles and bindings clients create (``kubectl apply``),
validated as kube-apiserver validates them and evaluated as its RBAC authorizer evaluates them.

A request is allowed when a binding names the user, one of its groups, or the service account the user is
(``system:serviceaccount:NS:NAME``), and the role it binds has a rule whose verbs, API groups, resources (a
subresource as ``pods/log``) and, when it has them, resource names cover it. A RoleBinding grants only in
its own namespace; a ClusterRoleBinding everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from kubecert.reference.kube.discovery import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    RBAC_GROUP,
    ROLEBINDINGS,
    ROLES,
    Resource,
)
from kubecert.reference.kube.objects import ApiError, bounded

AUTHENTICATED = "system:authenticated"
_RULE_LISTS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
_SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def validate(resource: Resource, document: dict[str, Any]) -> None:
    """422 for a role or binding kube-apiserver would refuse, naming the field."""
    name = document["metadata"]["name"]

    def invalid(where: str, problem: str) -> NoReturn:
        raise ApiError(422, f'{resource.kind} "{bounded(name, 64)}" is invalid: {where}: {problem}',
                       {"name": bounded(name, 64), "group": RBAC_GROUP, "kind": resource.name})

    if resource in (ROLES, CLUSTERROLES):
        rules = document.get("rules") or []
        if not isinstance(rules, list):
            invalid("rules", "Invalid value: a list of rules")
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or set(rule) - set(_RULE_LISTS):
                invalid(f"rules[{index}]", f"Invalid value: a rule has only {', '.join(_RULE_LISTS)}")
            for key in _RULE_LISTS:
                if not isinstance(rule.get(key, []), list) or not all(isinstance(v, str) for v in rule.get(key, [])):
                    invalid(f"rules[{index}].{key}", "Invalid value: a list of strings")
            if not rule.get("verbs"):
                invalid(f"rules[{index}].verbs", "Required value: verbs must contain at least one value")
        return
    ref = document.get("roleRef")
    if not isinstance(ref, dict) or ref.get("apiGroup") != RBAC_GROUP or not ref.get("name") or \
            ref.get("kind") not in ("ClusterRole", *(("Role",) if resource == ROLEBINDINGS else ())):
        invalid("roleRef", f"Invalid value: a Role or ClusterRole of {RBAC_GROUP}, by name")
    for index, subject in enumerate(document.get("subjects") or []):
        if not isinstance(subject, dict) or subject.get("kind") not in _SUBJECT_KINDS or not subject.get("name"):
            invalid(f"subjects[{index}]", f"Invalid value: a {', '.join(_SUBJECT_KINDS)} by name")
        if subject["kind"] == "ServiceAccount" and not (subject.get("namespace") or resource == ROLEBINDINGS):
            invalid(f"subjects[{index}].namespace", "Required value")


def _covers(values: list[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def _rule_allows(rule: dict[str, Any], verb: str, resource: Resource, name: str | None) -> bool:
    parent = resource.name.split("/")[0]
    resources = rule.get("resources") or []
    names = rule.get("resourceNames") or []
    return (_covers(rule.get("verbs") or [], verb) and _covers(rule.get("apiGroups") or [], resource.group)
            and (_covers(resources, resource.name) or (resource.name != parent and f"{parent}/*" in resources))
            and (not names or name in names))


def _names(subject: dict[str, Any], user: str, groups: tuple[str, ...], namespace: str | None) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user)
    if kind == "Group":
        return name in (*groups, AUTHENTICATED)
    return user == f"system:serviceaccount:{subject.get('namespace') or namespace}:{name}"


class Rbac:
    """The authorizer over the RBAC objects ``stored`` returns (by resource name)."""

    def __init__(self, stored: Callable[[str], list[dict[str, Any]]]) -> None:
        self.stored = stored

    def allows(self, user: str, groups: tuple[str, ...], verb: str, resource: Resource, *, namespace: str | None,
               name: str | None) -> bool:
        return any(_rule_allows(rule, verb, resource, name) for rule in self._rules(user, groups, namespace))

    def _rules(self, user: str, groups: tuple[str, ...], namespace: str | None) -> Iterator[dict[str, Any]]:
        cluster_roles = {d["metadata"]["name"]: d for d in self.stored(CLUSTERROLES.name)}
        for binding in self.stored(CLUSTERROLEBINDINGS.name):
            if any(_names(s, user, groups, None) for s in binding.get("subjects") or []):
                yield from cluster_roles.get(binding["roleRef"]["name"], {}).get("rules") or []
        if namespace is None:
            return
        roles = {d["metadata"]["name"]: d for d in self.stored(ROLES.name) if d["metadata"]["namespace"] == namespace}
        for binding in self.stored(ROLEBINDINGS.name):
            if binding["metadata"]["namespace"] != namespace:
                continue
            if any(_names(s, user, groups, namespace) for s in binding.get("subjects") or []):
                ref = binding["roleRef"]
                role = (roles if ref["kind"] == "Role" else cluster_roles).get(ref["name"], {})
                yield from role.get("rules") or []
