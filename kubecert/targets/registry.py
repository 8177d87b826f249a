"""The target registry: URI scheme → the backend that observes that kind of platform, with its options.

A kind's backend is imported only when a target of that kind is opened, so listing kinds and their
options (``kubecert check --help``) costs nothing. Other plugins add kinds through the
``pytest_kubecert_target_kinds`` hook (kubecert/pytest_plugin/hookspecs.py) or, for the command too,
the ``kubecert.target_kinds`` entry point group.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from kubecert.extras import MissingExtra, missing, require_all
from kubecert.options import Option
from kubecert.targets.cluster.trust import OPTIONS as KUBECONFIG_OPTIONS
from kubecert.targets.commands import ACTION_OPTIONS
from kubecert.targets.errors import TargetError
from kubecert.targets.palette import OPTIONS as PALETTE_OPTIONS
from kubecert.targets.reference import expand_reference, reference_extra
from kubecert.text import escaped

if TYPE_CHECKING:
    from kubecert.inventory.facts import NodeFacts
    from kubecert.profiles import Profile
    from kubecert.targets.base import Target

TargetFactory = Callable[["str", "Profile", Mapping[str, Any], "NodeFacts"], "Target"]
ENTRY_POINT_GROUP = "kubecert.target_kinds"


@dataclass(frozen=True)
class TargetKind:
    scheme: str
    factory: TargetFactory | str  # the backend, or "module:attribute" to import it when first needed
    default_profile: str
    summary: str
    disruptive_by_default: bool = False  # targets that exist only to be checked may be changed
    expand: Callable[[str], list[str]] | None = None  # a URI that stands for several targets
    options: tuple[Option, ...] = ()  # what the user may tell targets of this kind
    pip_extra: Callable[[str], str | None] | str | None = None  # the pip extra a URI of this kind needs
    # Instead of expand, for a kind whose expansion depends on the options too (the API asked as they allow).
    expand_with_options: Callable[[str, Mapping[str, Any]], list[str]] | None = None

    def concrete(self, uri: str, options: Mapping[str, Any] | None = None) -> list[str]:
        if isinstance(self.pip_extra, str) and missing(self.pip_extra):
            return [uri]  # expanding asks through what the extra brings; opening it says the extra is missing
        if self.expand_with_options is not None:
            return self.expand_with_options(uri, options or {})
        return self.expand(uri) if self.expand is not None else [uri]

    def backend(self) -> TargetFactory:
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]

    def needed_extra(self, uri: str) -> str | None:
        return self.pip_extra(uri) if callable(self.pip_extra) else self.pip_extra


def _expand_kind(uri: str) -> list[str]:
    from kubecert.targets.cluster.kind import expand_kind  # asks the container engine: only for kind: URIs

    return expand_kind(uri)


def _expand_kubeconfig(uri: str, options: Mapping[str, Any]) -> list[str]:
    if "nodes=" not in uri.partition("?")[2]:
        return [uri]  # the plain target: nothing to ask, nothing to import
    from kubecert.targets.cluster.podtargets import expand_kubeconfig  # asks the cluster for its nodes

    return expand_kubeconfig(uri, options)


BUILTIN_KINDS: tuple[TargetKind, ...] = (
    TargetKind("pki", "kubecert.targets.pki:PkiTarget", "kubeadm",
               "a node's kubeadm PKI folder: pki:/etc/kubernetes/pki", options=ACTION_OPTIONS),
    TargetKind("reference", "kubecert.targets.reference:reference_target", "palette",
               "kubecert's reference platform, made fresh for the run (the default)", True, expand_reference,
               pip_extra=reference_extra),
    TargetKind("palette", "kubecert.targets.palette.target:PaletteTarget", "palette",
               "a cluster through a Palette-like management API: palette:https://HOST?cluster=UID&project=UID",
               options=(*PALETTE_OPTIONS, *KUBECONFIG_OPTIONS)),
    TargetKind("kubeconfig", "kubecert.targets.cluster.podtargets:kubeconfig_target", "kubeadm",
               "a live cluster as a kubeconfig reaches it: kubeconfig:PATH[?context=NAME]; with &nodes=pods (and "
               "&namespace=NS&image=IMAGE&timeout=SECONDS) also each control-plane node's files, read through a pod",
               expand_with_options=_expand_kubeconfig, options=KUBECONFIG_OPTIONS, pip_extra="cluster"),
    TargetKind("kind", "kubecert.targets.cluster.kind:kind_target", "kubeadm",
               "a kind cluster and each of its control-plane nodes, through docker or podman: "
               "kind:NAME[?runtime=podman]", expand=_expand_kind, options=ACTION_OPTIONS[-1:], pip_extra="cluster"),
)


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

    def options(self) -> list[Option]:
        """Every kind's options, each once."""
        seen: dict[str, Option] = {}
        for kind in self._kinds.values():
            for option in kind.options:
                seen.setdefault(option.name, option)
        return list(seen.values())

    def kind_of(self, uri: str) -> TargetKind:
        scheme, colon, _ = uri.partition(":")
        if scheme not in self._kinds:
            known = ", ".join(self._kinds)
            if not colon:  # a bare path or name: the kind was left out
                raise TargetError(f"{uri!r} names no target kind (known: {known}){_kind_hint(uri)}")
            near = difflib.get_close_matches(scheme, list(self._kinds), n=1)
            hint = f": did you mean {near[0]}:?" if near else ""
            raise TargetError(f"{uri!r}: unknown target kind {scheme!r} (known: {known}){hint}")
        return self._kinds[scheme]

    def expand(self, uris: Iterable[str], options: Mapping[str, Any] | None = None) -> list[str]:
        """The concrete target ids, in order, each once (``reference`` stands for all its parts); ``options`` are
        the targets' (a kind may need them to ask what a URI stands for)."""
        seen: dict[str, None] = {}
        for uri in uris:
            if escaped(uri) != uri:
                raise TargetError(f"{escaped(uri)!r}: a target URI cannot hold control characters")
            for concrete in self.kind_of(uri).concrete(uri, options):
                seen.setdefault(concrete, None)
        return list(seen)

    def require_extras(self, uris: Iterable[str]) -> None:
        """A TargetError naming every pip extra these targets need and lack, with what needs each, at once: a
        run asked for several kinds is told everything to install in one message, not one extra a run."""
        needs: dict[str, list[str]] = {}
        for uri in uris:
            extra = self.kind_of(uri).needed_extra(uri)
            if extra:
                needs.setdefault(extra, []).append(uri)
        try:
            require_all(needs)
        except MissingExtra as exc:
            raise TargetError(str(exc)) from None

    def open(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> Target:
        self.require_extras([uri])
        return self.kind_of(uri).backend()(uri, profile, options, facts)


@cache
def entry_point_kinds() -> tuple[TargetKind, ...]:
    """Kinds that installed packages declare in the ``kubecert.target_kinds`` entry point group: each entry
    names a callable returning a list of TargetKind. Looked up once a process: reading every installed
    package's entry points takes milliseconds, and the command and the plugin both ask."""
    from importlib.metadata import entry_points

    found: list[TargetKind] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.extend(entry.load()())
    return tuple(found)


def _kind_hint(uri: str) -> str:
    """What a bare word most likely meant: a folder is a pki: target, a file a kubeconfig: one."""
    if uri.endswith((".conf", ".kubeconfig", ".yaml")):
        return f"; for a kubeconfig file: --target kubeconfig:{uri}"
    if "/" in uri or uri in (".", ".."):
        return f"; for a PKI folder: --target pki:{uri}"
    return ""
