"""``reference``: kubecert's own reference platform, made fresh for the run and removed after it.

``reference`` stands for all its parts that pass every rule, ``reference:NAME`` for one: two control-plane nodes'
kubeadm trees and a worker's files (pki.py) and the Palette-like management API on loopback, renewing by repave
and in place (palette.py). ``reference:palette-approval``, a repave held for approval, is named on its own: the
renewal checks on it are errors by design (the repave waits for someone to approve it).
Each part's backend is imported when the part is opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubecert.targets.errors import TargetError

if TYPE_CHECKING:
    from kubecert.inventory.facts import NodeFacts
    from kubecert.profiles import Profile
    from kubecert.targets.base import Target

# part → (backend "module:class", the pip extra it needs)
PARTS: dict[str, tuple[str, str | None]] = {
    "pki": ("kubecert.targets.reference.pki:ReferencePkiTarget", None),
    "pki-external-ca": ("kubecert.targets.reference.pki:ReferenceExternalCaTarget", None),
    "worker": ("kubecert.targets.reference.pki:ReferenceWorkerTarget", None),
    "palette": ("kubecert.targets.reference.palette:ReferencePaletteTarget", "reference"),
    "palette-in-place": ("kubecert.targets.reference.palette:ReferencePaletteInPlaceTarget", "reference"),
    "cluster": ("kubecert.targets.reference.cluster:ReferenceClusterTarget", "cluster"),
}
# Parts only named on their own, not in ``reference``: their renewal checks err by design.
NAMED_PARTS: dict[str, tuple[str, str | None]] = {
    "palette-approval": ("kubecert.targets.reference.palette:ReferencePaletteApprovalTarget", "reference"),
}
NODE_PART = ("kubecert.targets.reference.cluster:ReferenceClusterNodeTarget", None)  # reference:cluster/cp-N
CLUSTER_NODES = 3


def _part(uri: str) -> tuple[str, str | None]:
    part = uri.removeprefix("reference").removeprefix(":")
    if part in PARTS or part in NAMED_PARTS:
        return PARTS.get(part) or NAMED_PARTS[part]
    if part.startswith("cluster/cp-") and part.removeprefix("cluster/cp-").isdigit() and \
            1 <= int(part.removeprefix("cluster/cp-")) <= CLUSTER_NODES:
        return NODE_PART
    known = [*(f"reference:{p}" for p in (*PARTS, *NAMED_PARTS)), f"reference:cluster/cp-1..{CLUSTER_NODES}"]
    raise TargetError(f"{uri}: the reference platform's parts are {', '.join(known)}")


def reference_target(uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> Target:
    module, _, name = _part(uri)[0].partition(":")
    backend: Any = getattr(importlib.import_module(module), name)
    return backend(uri, profile, options, facts)  # type: ignore[no-any-return]


def reference_extra(uri: str) -> str | None:
    return _part(uri)[1]


def expand_reference(uri: str) -> list[str]:
    """``reference`` stands for every part, ``reference:cluster`` for the cluster and its nodes."""
    if uri == "reference":
        return [concrete for part in PARTS for concrete in expand_reference(f"reference:{part}")]
    if uri == "reference:cluster":
        return [uri, *(f"{uri}/cp-{number}" for number in range(1, CLUSTER_NODES + 1))]
    return [uri]
