"""``reference``: kubecert's own reference platform, made fresh for the run and removed after it.

``reference`` stands for all its parts, ``reference:NAME`` for one: two control-plane nodes' kubeadm trees
(pki.py) and the Palette-like management API on loopback, renewing by repave and in place (palette.py).
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
    "palette": ("kubecert.targets.reference.palette:ReferencePaletteTarget", "reference"),
    "palette-in-place": ("kubecert.targets.reference.palette:ReferencePaletteInPlaceTarget", "reference"),
}


def _part(uri: str) -> str:
    part = uri.removeprefix("reference").removeprefix(":")
    if part not in PARTS:
        raise TargetError(f"{uri}: the reference platform's parts are {', '.join(f'reference:{p}' for p in PARTS)}")
    return part


def reference_target(uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> Target:
    module, _, name = PARTS[_part(uri)][0].partition(":")
    backend: Any = getattr(importlib.import_module(module), name)
    return backend(uri, profile, options, facts)  # type: ignore[no-any-return]


def reference_extra(uri: str) -> str | None:
    return PARTS[_part(uri)][1]


def expand_reference(uri: str) -> list[str]:
    return [f"reference:{part}" for part in PARTS] if uri == "reference" else [uri]
