"""``pki:PATH``: a node's kubeadm PKI folder, with the kubeconfigs and manifests beside it.

Query options: ``kubeconfigs=DIR`` (default: the pki folder's parent), ``manifests=DIR`` (default:
``<kubeconfigs>/manifests``), ``kubelet=DIR`` (the kubelet's folder; default: the host's /var/lib/kubelet
for the host's own /etc/kubernetes/pki, else a ``kubelet`` folder beside the kubeconfigs, else none),
``role=control-plane|worker`` (default: recognised from the files), ``machine=NAME`` (a name for the
node in reports).

Read-only unless the user gives commands that act on the node (``--renew-command`` and the others of
kubecert.targets.commands): each one adds the capability its checks need.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.kubelet import default_kubelet_dir
from kubecert.inventory.load import load_pki
from kubecert.inventory.model import Inventory
from kubecert.profiles import Profile
from kubecert.targets.base import Target, split_uri
from kubecert.targets.commands import CommandActions, capability_reasons
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.targets.protocols import NodeActions

_QUERY_KEYS = ("kubeconfigs", "manifests", "kubelet", "role", "machine")
_NO_KUBELET = "no kubelet folder was given: add ?kubelet=DIR (the node's /var/lib/kubelet, or a copy of it)"


class PkiTarget(Target):
    scheme = "pki"
    reads_one_node = True
    _actions: NodeActions | None = None  # set when the user gave commands that act on the node
    kubelet_dir: Path | None = None  # the kubelet's folder, when the user named one (kubelet=DIR)
    _default_kubelet: tuple[Path | None] | None = None  # the one found when none was named, once looked for

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        super().__init__(uri, profile, options, facts)
        path, query = split_uri(uri, self.scheme, _QUERY_KEYS)
        if not path:
            raise TargetError(f"{uri}: give the PKI folder, e.g. pki:/etc/kubernetes/pki")
        self.pki_dir = Path(path)
        self.kubeconfig_dir = Path(query["kubeconfigs"]) if "kubeconfigs" in query else self.pki_dir.parent
        self.manifests_dir = Path(query["manifests"]) if "manifests" in query else self.kubeconfig_dir / "manifests"
        self.kubelet_dir = Path(query["kubelet"]) if query.get("kubelet") else None
        if "role" in query:
            try:
                role = NodeFacts.declared({"role": query["role"]}, where=uri, source="declared in the target URI")
            except ValueError as exc:
                raise TargetError(str(exc)) from None
            self.declared = role.over(self.declared)
        self.machine = query.get("machine")
        self._actions = CommandActions.from_options(options, pki_dir=self.pki_dir, kubeconfig_dir=self.kubeconfig_dir)
        if isinstance(self._actions, CommandActions):
            self._actions.interrupted = self._stopped_midway

    @property
    def capabilities(self) -> frozenset[str]:
        acting = self._actions.capabilities if isinstance(self._actions, CommandActions) else frozenset()
        kubelet = frozenset({"kubelet"}) if self.kubelet_folder() is not None else frozenset()
        return frozenset({"certificates", "x509", "expiry", "files", "owners", "kubeconfigs"}) | acting | kubelet

    def capability_reasons(self) -> dict[str, str]:
        return {**capability_reasons(), "kubelet": _NO_KUBELET}

    def kubelet_folder(self) -> Path | None:
        """The kubelet's folder this node is read with: the one the user named, else the default."""
        if self.kubelet_dir is not None:
            return self.kubelet_dir
        if self._default_kubelet is None:  # looked up once: every check asks for it through the capabilities
            self._default_kubelet = (default_kubelet_dir(self.pki_dir, self.kubeconfig_dir),)
        return self._default_kubelet[0]

    def node_actions(self) -> NodeActions | None:
        """How checks act on this node: the user's commands, or None when none were given."""
        return self._actions

    @property
    def identity(self) -> str:
        return f"pki:{os.path.realpath(self.pki_dir)}"

    def _stopped_midway(self, what: str) -> None:
        note = f"{self.id}: {what}"
        self.notes.append(note)
        self.progress(note)

    def location(self) -> dict[str, str]:
        found = {"pki": str(self.pki_dir), "kubeconfigs": str(self.kubeconfig_dir),
                 "manifests": str(self.manifests_dir)}
        kubelet = self.kubelet_folder()
        return found if kubelet is None else {**found, "kubelet": str(kubelet)}

    def _observe(self, now: dt.datetime) -> Inventory:
        if not self.pki_dir.exists():
            raise TargetUnavailable(f"{self.id}: the folder {self.pki_dir} does not exist")
        if not self.pki_dir.is_dir():
            raise TargetUnavailable(f"{self.id}: {self.pki_dir} is not a folder")
        if not os.access(self.pki_dir, os.R_OK | os.X_OK):
            raise TargetUnavailable(f"{self.id}: cannot list {self.pki_dir} (permission denied; run as root)")
        inner = self.pki_dir / "pki"
        if not (self.pki_dir / "ca.crt").exists() and (inner / "ca.crt").exists():
            # the node's folder (/etc/kubernetes) given for its pki/: one hint instead of every file "missing"
            raise TargetUnavailable(f"{self.id}: {self.pki_dir} holds no ca.crt but its pki/ folder does; a pki: "
                                    f"target names the PKI folder itself: --target pki:{inner}")
        return load_pki(
            self.pki_dir, kubeconfig_dir=self.kubeconfig_dir, manifests_dir=self.manifests_dir,
            kubelet_dir=self.kubelet_folder(), declared=self.declared, target=self.id, observed_at=now,
            machine=self.machine,
        )

