"""Kubeconfig files in the exact shape kubeadm writes them (client-go's clientcmd.Write).

clientcmd serializes through JSON, so keys come out sorted: apiVersion, clusters, contexts,
current-context, kind, preferences, users. One cluster named ``kubernetes``, one context
``<user>@kubernetes``.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

CLUSTER_NAME = "kubernetes"


def kubeconfig_document(
    *,
    server: str,
    ca_pem: bytes | None,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    client_cert_path: str | None = None,
    client_key_path: str | None = None,
) -> dict[str, Any]:
    """A kubeadm kubeconfig: embedded credentials (``*_pem``) or file references (``*_path``); without
    ``ca_pem`` the cluster has only its server, as in the partial kubeconfig of ``certs generate-csr``."""
    credentials: dict[str, str] = {}
    if client_cert_path is not None:
        credentials["client-certificate"] = client_cert_path
    if client_cert_pem is not None:
        credentials["client-certificate-data"] = encode_data(client_cert_pem)
    if client_key_path is not None:
        credentials["client-key"] = client_key_path
    if client_key_pem is not None:
        credentials["client-key-data"] = encode_data(client_key_pem)
    context = f"{user}@{CLUSTER_NAME}"
    cluster = {"server": server} if ca_pem is None else {"certificate-authority-data": encode_data(ca_pem),
                                                         "server": server}
    return {
        "apiVersion": "v1",
        "clusters": [{"cluster": cluster, "name": CLUSTER_NAME}],
        "contexts": [{"context": {"cluster": CLUSTER_NAME, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": user, "user": credentials}],
    }


def render_kubeconfig(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=False).encode()


def parse_kubeconfig(data: bytes) -> dict[str, Any]:
    document = yaml.safe_load(data)
    if not isinstance(document, dict):
        raise ValueError("not a kubeconfig: the YAML is not a mapping")
    return document


def current_user(document: dict[str, Any]) -> dict[str, Any]:
    """The credentials of the current context's user (kubeadm writes exactly one)."""
    context_name = document.get("current-context")
    contexts = {entry["name"]: entry["context"] for entry in document.get("contexts", [])}
    user_name = contexts[context_name]["user"]
    for entry in document.get("users", []):
        if entry.get("name") == user_name:
            credentials: dict[str, Any] = entry["user"]
            return credentials
    raise ValueError(f"kubeconfig has no user {user_name!r}")


def current_cluster(document: dict[str, Any]) -> dict[str, Any]:
    context_name = document.get("current-context")
    contexts = {entry["name"]: entry["context"] for entry in document.get("contexts", [])}
    cluster_name = contexts[context_name]["cluster"]
    for entry in document.get("clusters", []):
        if entry.get("name") == cluster_name:
            cluster: dict[str, Any] = entry["cluster"]
            return cluster
    raise ValueError(f"kubeconfig has no cluster {cluster_name!r}")


def encode_data(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_data(value: str) -> bytes:
    return base64.b64decode(value, validate=True)
