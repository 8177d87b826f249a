"""The target registry: URI scheme → the backend that observes that kind of platform.

Other plugins add kinds through the ``pytest_kubecert_target_kinds`` hook (see plugins/hookspecs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubecert.plugins.targets.actions import ACTION_OPTIONS
from kubecert.plugins.targets.base import (
    CAPABILITIES,
    Observable,
    Target,
    TargetError,
    TargetOption,
    TargetUnavailable,
    split_uri,
)
from kubecert.plugins.targets.palette import OPTIONS as PALETTE_OPTIONS
from kubecert.plugins.targets.palette import PaletteTarget
from kubecert.plugins.targets.pki import PkiTarget
from kubecert.plugins.targets.reference import expand_reference, reference_target
from kubecert.rules.profiles import Profile

TargetFactory = Callable[[str, Profile, Mapping[str, Any]], Target]


@dataclass(frozen=True)
class TargetKind:
    scheme: str
    factory: TargetFactory
    default_profile: str
    summary: str
    disruptive_by_default: bool = False  # targets that exist only to be checked may be changed
    expand: Callable[[str], list[str]] | None = None  # a URI that stands for several targets
    options: tuple[TargetOption, ...] = ()  # what the user may tell targets of this kind

    def concrete(self, uri: str) -> list[str]:
        return self.expand(uri) if self.expand is not None else [uri]


BUILTIN_KINDS: tuple[TargetKind, ...] = (
    TargetKind("pki", PkiTarget, "kubeadm", "a node's kubeadm PKI folder: pki:/etc/kubernetes/pki",
               options=ACTION_OPTIONS),
    TargetKind("reference", reference_target, "palette",
               "kubecert's reference platform, made fresh for the run (the default)", True, expand_reference),
    TargetKind("palette", PaletteTarget, "palette",
               "a cluster through a Palette-like management API: palette:https://HOST?cluster=UID&project=UID",
               options=PALETTE_OPTIONS),
)


def builtin_options() -> list[TargetOption]:
    """The options of the built-in kinds, each once (kinds may share one, e.g. the reference and pki)."""
    seen: dict[str, TargetOption] = {}
    for kind in BUILTIN_KINDS:
        for option in kind.options:
            seen.setdefault(option.name, option)
    return list(seen.values())


class Registry:
    def __init__(self, kinds: Iterable[TargetKind] = BUILTIN_KINDS) -> None:
        self._kinds: dict[str, TargetKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: TargetKind) -> None:
        if kind.scheme in self._kinds:
            raise ValueError(f"target scheme {kind.scheme!r} is registered twice")
        self._kinds[kind.scheme] = kind

    def kinds(self) -> list[TargetKind]:
        return list(self._kinds.values())

    def kind_of(self, uri: str) -> TargetKind:
        scheme = uri.split(":", 1)[0]
        if scheme not in self._kinds:
            known = ", ".join(self._kinds)
            raise TargetError(f"{uri!r}: unknown target kind {scheme!r} (known: {known})")
        return self._kinds[scheme]

    def expand(self, uris: Iterable[str]) -> list[str]:
        """The concrete target ids, in order, each once (``reference`` stands for all its parts)."""
        seen: dict[str, None] = {}
        for uri in uris:
            for concrete in self.kind_of(uri).concrete(uri):
                seen.setdefault(concrete, None)
        return list(seen)

    def open(self, uri: str, profile: Profile, options: Mapping[str, Any]) -> Target:
        return self.kind_of(uri).factory(uri, profile, options)


__all__ = [
    "BUILTIN_KINDS",
    "CAPABILITIES",
    "Observable",
    "PaletteTarget",
    "PkiTarget",
    "Registry",
    "Target",
    "TargetError",
    "TargetFactory",
    "TargetKind",
    "TargetOption",
    "TargetUnavailable",
    "builtin_options",
    "split_uri",
]
