"""Telling a worker's folder from a control-plane node's by what is on the node.

A worker has the cluster CA's certificate, kubelet.conf and the kubelet's folder, nothing else of kubeadm's
PKI. Any file only a control-plane node has (a CA key, another CA's certificate, a control-plane
certificate or key, a control-plane kubeconfig, a control-plane manifest) makes it a control-plane node,
even when it is there but broken or other files are missing: a control-plane folder that lost its
apiserver.crt must still fail the inventory rules, not pass for a worker. Without kubelet.conf it is no
worker either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from kubecert import layout
from kubecert.capabilities import NodeRole


def control_plane_files(pki_dir: Path, kubeconfig_dir: Path, manifests_dir: Path) -> Iterator[Path]:
    """Every file that only a control-plane node holds."""
    for spec in layout.CERTS:
        yield pki_dir / f"{spec.path}.key"
        if spec.name != "ca":  # the cluster CA's certificate is on every node
            yield pki_dir / f"{spec.path}.crt"
    yield pki_dir / layout.SA_KEY
    yield pki_dir / layout.SA_PUB
    for kubeconfig in layout.KUBECONFIGS:
        if kubeconfig.name != "kubelet.conf":
            yield kubeconfig_dir / kubeconfig.name
    for manifest in layout.CONTROL_PLANE_MANIFESTS:
        yield manifests_dir / manifest


def recognise_role(pki_dir: Path, kubeconfig_dir: Path, manifests_dir: Path) -> tuple[str, str]:
    """The node's role (a NodeRole's value) and why: a worker only when kubelet.conf is there and nothing of
    a control plane is."""
    for path in control_plane_files(pki_dir, kubeconfig_dir, manifests_dir):
        if os.path.lexists(path):  # a dangling or unreadable file still says what the node is
            return NodeRole.CONTROL_PLANE.value, f"recognised by {path}"
    if os.path.lexists(kubeconfig_dir / "kubelet.conf"):
        return NodeRole.WORKER.value, ("recognised: kubelet.conf and no CA key, control-plane certificate, "
                                       "kubeconfig or manifest")
    return NodeRole.CONTROL_PLANE.value, "recognised: no kubelet.conf, so no worker"
