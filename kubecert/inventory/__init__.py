"""The inventory: a target's certificates, keys, kubeconfigs and files, observed once."""

from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.kubelet import default_kubelet_dir
from kubecert.inventory.load import load_pki
from kubecert.inventory.model import (
    CertRecord,
    FileFacts,
    Inventory,
    KeyFacts,
    KubeconfigRecord,
    KubeletFolder,
    Problem,
    ProblemKind,
    PublicKeyFacts,
    Role,
    ServiceAccountKeys,
    isoformat,
)

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
