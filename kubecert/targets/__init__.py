"""Targets: backends that observe one platform each (a node's PKI folder, a management API, the
reference) and may act on it. The public names are importable from here; each is loaded on first use,
so that importing the registry does not import every backend.
"""

from __future__ import annotations

from typing import Any

from kubecert.lazy_imports import public_name

_PUBLIC = {
    "ActsOnNode": "kubecert.targets.protocols",
    "BUILTIN_KINDS": "kubecert.targets.registry",
    "ManagementApi": "kubecert.targets.protocols",
    "NodeActions": "kubecert.targets.protocols",
    "PaletteTarget": "kubecert.targets.palette.target",
    "PkiTarget": "kubecert.targets.pki",
    "Progress": "kubecert.targets.base",
    "Registry": "kubecert.targets.registry",
    "Target": "kubecert.targets.base",
    "TargetError": "kubecert.targets.errors",
    "TargetFactory": "kubecert.targets.registry",
    "TargetKind": "kubecert.targets.registry",
    "TargetOption": "kubecert.targets.base",
    "TargetUnavailable": "kubecert.targets.errors",
    "split_uri": "kubecert.targets.base",
}

__all__ = [  # noqa: RUF022 - the same names as _PUBLIC, in its order
    "ActsOnNode",
    "BUILTIN_KINDS",
    "ManagementApi",
    "NodeActions",
    "PaletteTarget",
    "PkiTarget",
    "Progress",
    "Registry",
    "Target",
    "TargetError",
    "TargetFactory",
    "TargetKind",
    "TargetOption",
    "TargetUnavailable",
    "split_uri",
]


def __getattr__(name: str) -> Any:
    return public_name(__name__, _PUBLIC, name)
