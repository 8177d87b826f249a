"""docs/node-reader-rbac.yaml: it grants exactly the requests the node reader makes (permissions.py, which
every 403 names), no fewer and no more; the real kubectl applies it; and a user holding only what it grants
checks the whole cluster through pods, as the reference's RBAC authorizer evaluates the rules."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubecert.reference.kube import ClusterServer
from kubecert.targets.cluster import permissions
from kubecert.targets.cluster.permissions import Permission
from kubecert.targets.cluster.readerpod import DEFAULT_NAMESPACE

from reader_support import RBAC_MANIFEST, kubeconfig_as, rbac_documents, run_check
from support import statuses

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
SUBJECTS = ({"kind": "User", "name": "kubecert"},
            {"kind": "ServiceAccount", "name": "kubecert", "namespace": DEFAULT_NAMESPACE})
RBAC = "rbac.authorization.k8s.io"


def _granted(documents: list[dict[str, Any]], subject: dict[str, str]) -> set[Permission]:
    """Every (verb, resource, group, namespace, name) the manifest grants ``subject``, one Permission each."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in documents
             if d["kind"] in ("Role", "ClusterRole")}
    found: set[Permission] = set()
    for binding in (d for d in documents if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        named = [{k: v for k, v in s.items() if k != "apiGroup"} for s in binding["subjects"]]
        if subject not in named:
            continue
        ref, namespace = binding["roleRef"], binding["metadata"].get("namespace")
        assert ref["apiGroup"] == RBAC
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
        for rule in role["rules"]:
            names = rule.get("resourceNames") or [None]
            found |= {Permission(verb, resource, group, namespace, (name,) if name else ())
                      for verb in rule["verbs"] for resource in rule["resources"] for group in rule["apiGroups"]
                      for name in names}
    return found


def test_the_manifest_grants_exactly_what_the_reader_asks_for() -> None:
    documents = rbac_documents()
    assert [d["kind"] for d in documents].count("Namespace") == 1
    for document in documents:
        assert document["apiVersion"] in ("v1", f"{RBAC}/v1") and document["metadata"]["name"], document
    namespace = next(d for d in documents if d["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == DEFAULT_NAMESPACE
    # hostPath volumes are not allowed at the baseline Pod Security level
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    account = next(d for d in documents if d["kind"] == "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    needed = set(permissions.needed(DEFAULT_NAMESPACE))
    for subject in SUBJECTS:
        granted = _granted(documents, subject)
        assert granted - needed == set(), f"granted and never asked for: {granted - needed}"
        assert needed - granted == set(), f"asked for and not granted: {needed - granted}"
    assert not any("*" in str(rule) for d in documents for rule in d.get("rules", []))


def test_each_permission_names_itself_as_a_403_would() -> None:
    assert str(permissions.CREATE_POD.within("audit")) == "create on pods in audit"
    assert str(permissions.LIST_SPECTROCLUSTERS) == "list on spectroclusters.cluster.spectrocloud.com"
    assert permissions.LIST_NODES.within("audit") == permissions.LIST_NODES  # cluster-scoped: no namespace


def test_kubectl_applies_it_and_it_is_enough_for_a_whole_run(
        tmp_path: Path, kubectl: Kubectl, served: ClusterServer, https: Any) -> None:
    # as the README says it, with kubectl's strict validation on (the default): the server's OpenAPI v3 says so
    applied = kubectl(served.admin_kubeconfig, "apply", "-f", str(RBAC_MANIFEST))
    assert applied.stdout.splitlines() == [
        "namespace/kubecert created", "serviceaccount/kubecert created",
        f"role.{RBAC}/kubecert-node-reader created", f"rolebinding.{RBAC}/kubecert-node-reader created",
        f"clusterrole.{RBAC}/kubecert-cluster-reader created",
        f"clusterrolebinding.{RBAC}/kubecert-cluster-reader created",
        f"role.{RBAC}/kubecert-published-ca created", f"rolebinding.{RBAC}/kubecert-published-ca created",
        f"role.{RBAC}/kubecert-kubeadm-config created", f"rolebinding.{RBAC}/kubecert-kubeadm-config created",
        f"role.{RBAC}/kubecert-static-pods created", f"rolebinding.{RBAC}/kubecert-static-pods created"]
    again = kubectl(served.admin_kubeconfig, "apply", "--dry-run=client", "-f", str(RBAC_MANIFEST))
    assert all(line.endswith("(dry run)") for line in again.stdout.splitlines())
    kubeconfig = kubeconfig_as(served, https, tmp_path / "kubecert.conf", "kubecert")
    uri = f"kubeconfig:{kubeconfig}?nodes=pods"
    run, report = run_check(tmp_path, "--target", uri)
    assert run.returncode == 0, run.stdout + run.stderr
    whole = statuses(report, uri)
    assert whole["KC-CL-02"] == whole["KC-CL-03"] == whole["KC-HA-01"] == "passed", whole
    assert whole["KC-CL-05"] == whole["KC-CL-06"] == "passed", whole
    assert "error" not in {r["status"] for r in report["results"]}
    # and nothing beyond: the same user may list no pods elsewhere, read none, nor read another ConfigMap
    stranger = kubectl(kubeconfig, "get", "pods", "-n", "default", check=False)
    assert 'User "kubecert" cannot list resource "pods" in API group "" in the namespace "default"' in \
        stranger.stderr
    one = kubectl(kubeconfig, "get", "pod", "etcd-cp-1", "-n", "kube-system", check=False)
    assert 'cannot get resource "pods" in API group "" in the namespace "kube-system"' in one.stderr
    other = kubectl(kubeconfig, "get", "configmap", "kube-root-ca.crt", "-n", "kube-system", check=False)
    assert "forbidden" in other.stderr


def test_kubectl_validation_is_left_to_the_server_and_an_unknown_field_is_refused(
        tmp_path: Path, kubectl: Kubectl, served: ClusterServer) -> None:
    misspelled = tmp_path / "role.yaml"
    misspelled.write_text("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: misspelled, "
                          "namespace: default}\nrules:\n- apiGroups: ['']\n  resources: [pods]\n  verb: [get]\n")
    refused = kubectl(served.admin_kubeconfig, "apply", "-f", str(misspelled), check=False)
    assert refused.returncode != 0
    assert 'Role in version "v1" cannot be handled as a Role: strict decoding error: unknown field ' \
           '"rules[0].verb"' in refused.stderr, refused.stderr
    kept = kubectl(served.admin_kubeconfig, "get", "role", "misspelled", "-n", "default", check=False)
    assert "NotFound" in kept.stderr
