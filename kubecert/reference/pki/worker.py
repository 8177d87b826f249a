"""``kubeadm join`` of a worker: the node's /etc/kubernetes and /var/lib/kubelet once the kubelet has bootstrapped.

A worker holds the cluster CA's certificate (``pki/ca.crt``, the kubelet's client CA), ``kubelet.conf``
pointing at the kubelet's rotating client certificate, and the kubelet's folder; no CA key, no
control-plane certificate, kubeconfig or manifest. Given a control-plane node's tree, the worker joins
that cluster (its CA signs the kubelet); without one, a CA is made for the worker alone and its key is
thrown away, as a worker never has it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.files import CERT_MODE, KUBECONFIG_MODE, TreeWriter, ensure_dir
from kubecert.reference.pki.init import InitResult
from kubecert.reference.pki.issue import cert_pem, issue_ca, utc
from kubecert.reference.pki.keys import KeyFactory
from kubecert.reference.pki.kubeconfig import kubeconfig_document, render_kubeconfig
from kubecert.reference.pki.kubelet import ROTATED, write_kubelet_folder
from kubecert.reference.pki.options import InitOptions
from kubecert.reference.pki.tree import PkiTree

DEFAULT_NODE_NAME = "worker-1"
DEFAULT_ADDRESS = "10.0.0.20"
DEFAULT_ENDPOINT = "10.0.0.10:6443"  # the reference control plane's address, when the worker is told none


def join_worker(root: Path, options: InitOptions, *, keys: KeyFactory, now: dt.datetime,
                cluster_pki: PkiTree | None = None) -> InitResult:
    """Write a worker's tree below ``root`` (which must be empty or absent): ``options`` describe the worker
    (its name and address, the control-plane endpoint it joins, the CA's key type and validity)."""
    if not options.control_plane_endpoint:
        options = dataclasses.replace(options, control_plane_endpoint=DEFAULT_ENDPOINT)
    options.validate()
    if options.kubelet_state != ROTATED:
        raise ReferenceUsageError(f"a worker's kubelet bootstraps through the cluster's CSR signer: its state is "
                                  f"{ROTATED}, not {options.kubelet_state}")
    start = utc(now)
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ReferenceUsageError(f"{root} exists and is not an empty directory; join writes a new node")
    if cluster_pki is not None and not cluster_pki.key_path("ca").is_file():
        raise ReferenceUsageError(f"{cluster_pki.root} holds no ca.key: the cluster's CA cannot sign the kubelet")
    ensure_dir(root)
    tree = PkiTree(root)
    out = TreeWriter(root)
    if cluster_pki is not None:
        ca = cluster_pki.cert("ca"), cluster_pki.key("ca")
    else:
        ca_key = keys.new_key(options.key_algorithm)
        ca_cert = issue_ca(cn="kubernetes", key=ca_key, now=start, ca_days=options.ca_days, backdate=options.backdate)
        ca = ca_cert, ca_key
    ensure_dir(tree.pki_dir)
    out.log.append("[preflight] Running pre-flight checks")
    out.write(tree.cert_path("ca"), cert_pem(ca[0]), CERT_MODE)
    user = f"{layout.NODE_USER_PREFIX}{options.node_name}"
    kubelet_conf = kubeconfig_document(
        server=options.endpoint_url(), ca_pem=cert_pem(ca[0]), user=user,
        client_cert_path=layout.KUBELET_ROTATED_CLIENT, client_key_path=layout.KUBELET_ROTATED_CLIENT,
    )
    write_kubelet_folder(out, ca, node=options.node_name, address=options.advertise_address,
                         dns_domain=options.dns_domain, cluster_dns=str(options.cluster_dns), keys=keys, now=start,
                         server_tls_bootstrap=options.server_tls_bootstrap)
    out.log.append("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    out.write(tree.kubeconfig_path("kubelet.conf"), render_kubeconfig(kubelet_conf), KUBECONFIG_MODE)
    out.log.append("This node has joined the cluster")
    return InitResult(root=root, options=options, now=start, written=tuple(out.written), log=tuple(out.log))
