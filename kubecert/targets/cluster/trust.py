"""What a kubeconfig may make kubecert do beyond sending the data it holds: run its exec credential plugin,
read the files it names. Only an operator's own opt-in allows either, and only for a kubeconfig the operator
gave (``kubeconfig:PATH``, ``--palette-kubeconfig``); one taken from a node (kind's admin.conf) never.

Light on purpose: the registry lists these options when the command starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubecert.options import Kind, Option

ALLOW_EXEC = "allow-kubeconfig-exec"
ALLOW_FILES = "allow-kubeconfig-files"

OPTIONS: tuple[Option, ...] = (
    Option(ALLOW_EXEC, "kubeconfig:, --palette-kubeconfig: run the exec credential plugin (users[].user.exec) of "
           "a kubeconfig you give; never one taken from a node (kind:)", kind=Kind.FLAG),
    Option(ALLOW_FILES, "kubeconfig:, --palette-kubeconfig: read the files a kubeconfig you give names "
           "(certificate-authority, client-certificate, client-key, tokenFile); never for one taken from a node",
           kind=Kind.FLAG),
)


@dataclass(frozen=True)
class KubeconfigTrust:
    run_exec: bool = False
    read_files: bool = False
    from_node: bool = False  # taken from a node: what it names is the node's, never the operator's

    @classmethod
    def given(cls, options: Mapping[str, Any]) -> KubeconfigTrust:
        """The trust an operator's options give a kubeconfig the operator named."""
        return cls(run_exec=bool(options.get(ALLOW_EXEC)), read_files=bool(options.get(ALLOW_FILES)))


FROM_NODE = KubeconfigTrust(from_node=True)
