"""What the node reader's tests share: its RBAC manifest, creating objects as the admin does, a kubeconfig of
another user, and ``kubecert check`` run as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kubecert.reference.kube import ClusterServer
from kubecert.reference.pki.kubeconfig import current_user, encode_data, parse_kubeconfig, render_kubeconfig

import support

# Where kube-apiserver takes each kind of object the node reader's RBAC manifest holds.
_COLLECTIONS = {
    "Namespace": "/api/v1/namespaces", "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
}
RBAC_MANIFEST = Path(__file__).resolve().parents[2] / "docs" / "node-reader-rbac.yaml"


def create_all(https: Any, url: str, documents: list[dict[str, Any]]) -> None:
    """Create each document as the cluster's admin (what ``kubectl create -f`` does), in order."""
    for document in documents:
        path = _COLLECTIONS[document["kind"]].format(ns=document["metadata"].get("namespace"))
        reply = https.call(url, path, client=https.admin(), method="POST", body=json.dumps(document).encode(),
                           headers={"Content-Type": "application/json"})
        assert reply.status == 201, reply.body


def kubeconfig_as(served: ClusterServer, https: Any, path: Path, cn: str, orgs: tuple[str, ...] = ()) -> Path:
    """The admin kubeconfig the server wrote, with a client certificate of ``cn``/``orgs`` instead."""
    cert, key = https.identity(cn, orgs)
    document = parse_kubeconfig(served.admin_kubeconfig.read_bytes())
    user = current_user(document)
    user["client-certificate-data"] = encode_data(cert.read_bytes())
    user["client-key-data"] = encode_data(key.read_bytes())
    path.write_bytes(render_kubeconfig(document))
    path.chmod(0o600)
    return path


def run_check(folder: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess[str],
                                                                       dict[str, Any]]:
    """``kubecert check`` with the palette profile (the reference's), in ``folder``; its validated report."""
    return support.run_check(folder, "--profile", "palette", *args, timeout=timeout)


def rbac_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC_MANIFEST.read_text()) if d]
