"""``kubeadm join --control-plane``: a further control-plane node's /etc/kubernetes tree.

Once the cluster's certificates are on the joining node (copied by hand or downloaded from the
kubeadm-certs Secret), kubeadm keeps the CAs and the service-account key pair exactly as they are and
issues everything else for the node's own name and address: its leaves, admin.conf,
controller-manager.conf, scheduler.conf and kubelet.conf, and its static pod manifests. Only the node
that ran ``kubeadm init`` has super-admin.conf.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.init import InitResult, write_node_tree
from kubecert.reference.pki.keys import KeyFactory
from kubecert.reference.pki.options import InitOptions
from kubecert.reference.pki.tree import PkiTree


def shared_files(source: PkiTree, *, external_etcd: bool) -> tuple[Path, ...]:
    """The files a joining control-plane node copies from ``source``: each CA's certificate and key, sa.key, sa.pub."""
    files: list[Path] = []
    for spec in layout.CAS:
        if spec.etcd and external_etcd:
            continue
        files += [source.cert_path(spec.name), source.key_path(spec.name)]
    return (*files, source.sa_key_path, source.sa_pub_path)


def join_control_plane(
    root: Path, source_root: Path, options: InitOptions, *, keys: KeyFactory, now: dt.datetime
) -> InitResult:
    """Write the tree of a control-plane node joining the cluster whose first node's tree is ``source_root``.

    ``options`` describe the joining node (its name and address; the cluster's endpoint, SANs and
    key type). The node never gets super-admin.conf, whatever ``options.super_admin`` says.
    """
    source = PkiTree(Path(source_root))
    missing = [path for path in shared_files(source, external_etcd=options.external_etcd) if not path.is_file()]
    if missing:
        # kubeadm join refuses the same way: without the CA keys it cannot sign the node's certificates.
        raise ReferenceUsageError(
            f"{source_root} lacks {missing[0].relative_to(source.root)}; a control-plane node joins with the "
            "cluster's CA certificates and keys and its service-account key pair"
        )
    joining = dataclasses.replace(options, super_admin=False)
    return write_node_tree(root, joining, keys=keys, now=now, cluster_pki=source)
