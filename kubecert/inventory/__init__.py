"""The inventory: a target's certificates, keys, kubeconfigs and files, observed once."""

from kubecert.inventory.load import Declarations, load_pki
from kubecert.inventory.model import (
    CertRecord,
    ClusterFacts,
    Declared,
    FileFacts,
    Inventory,
    KeyFacts,
    KubeconfigRecord,
    Problem,
    ProblemKind,
    PublicKeyFacts,
    Role,
    ServiceAccountKeys,
    isoformat,
)

__all__ = [
    "CertRecord",
    "ClusterFacts",
    "Declarations",
    "Declared",
    "FileFacts",
    "Inventory",
    "KeyFacts",
    "KubeconfigRecord",
    "Problem",
    "ProblemKind",
    "PublicKeyFacts",
    "Role",
    "ServiceAccountKeys",
    "isoformat",
    "load_pki",
]
