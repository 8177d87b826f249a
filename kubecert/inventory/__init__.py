"""The inventory: a target's certificates, keys, kubeconfigs and files, observed once.

The names below are imported when first used: the node facts (facts.py) that profiles and the catalog read
need none of the certificate model's libraries (kubecert/lazy_imports.py says why).
"""

from typing import Any

from kubecert.lazy_imports import public_name

_PUBLIC = {
    "CertRecord": "kubecert.inventory.model",
    "FileFacts": "kubecert.inventory.model",
    "Inventory": "kubecert.inventory.model",
    "KeyFacts": "kubecert.inventory.model",
    "KubeconfigRecord": "kubecert.inventory.model",
    "KubeletFolder": "kubecert.inventory.model",
    "NodeFacts": "kubecert.inventory.facts",
    "Problem": "kubecert.inventory.model",
    "ProblemKind": "kubecert.inventory.model",
    "PublicKeyFacts": "kubecert.inventory.model",
    "Role": "kubecert.inventory.model",
    "ServiceAccountKeys": "kubecert.inventory.model",
    "default_kubelet_dir": "kubecert.inventory.kubelet",
    "isoformat": "kubecert.inventory.model",
    "load_pki": "kubecert.inventory.load",
}

__all__ = [
    "CertRecord",
    "FileFacts",
    "Inventory",
    "KeyFacts",
    "KubeconfigRecord",
    "KubeletFolder",
    "NodeFacts",
    "Problem",
    "ProblemKind",
    "PublicKeyFacts",
    "Role",
    "ServiceAccountKeys",
    "default_kubelet_dir",
    "isoformat",
    "load_pki",
]


def __getattr__(name: str) -> Any:
    return public_name(__name__, _PUBLIC, name)
