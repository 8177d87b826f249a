"""``kubeadm init``'s certs, kubeconfig, etcd and control-plane phases: a node's /etc/kubernetes tree, and
the kubelet's folder beside it as it is once the kubelet has started (kubelet.py).

The files, their order, subjects, SANs, usages, dates, PEM formats and modes are kubeadm v1.31+'s
(kubeadm's phases/certs); the output lines are kubeadm's. Two modes kubeadm supports change the result:
external CA (the CA's key is not on the node) and external etcd (no etcd CA or etcd certificates). The same
phases write a control-plane node joining an existing cluster (join.py) when given the cluster's CAs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.files import (
    CERT_MODE,
    KEY_MODE,
    KUBECONFIG_MODE,
    MANIFEST_DIR_MODE,
    MANIFEST_MODE,
    TreeWriter,
    ensure_dir,
)
from kubecert.reference.pki.issue import cert_pem, issue_ca, issue_leaf, normalized_dns, normalized_ips, utc
from kubecert.reference.pki.keys import KeyFactory, PrivateKey, private_key_pem, public_key_pem
from kubecert.reference.pki.kubeconfig import kubeconfig_document, render_kubeconfig
from kubecert.reference.pki.kubelet import write_kubelet_folder
from kubecert.reference.pki.manifests import (
    apiserver_manifest,
    controller_manager_manifest,
    etcd_manifest,
    render_manifest,
    scheduler_manifest,
)
from kubecert.reference.pki.options import InitOptions
from kubecert.reference.pki.tree import PkiTree

# The order kubeadm's certs phase generates in (certlist.go): each CA, then the leaves it signs.
GENERATION_ORDER: tuple[str, ...] = (
    "ca", "apiserver", "apiserver-kubelet-client",
    "front-proxy-ca", "front-proxy-client",
    "etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client",
)
# The order of kubeadm's kubeconfig phase.
KUBECONFIG_ORDER: tuple[str, ...] = (
    "admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf",
)
# controller-manager and scheduler talk to their own node's API server, the rest to the endpoint.
_LOCAL_KUBECONFIGS = frozenset({"controller-manager.conf", "scheduler.conf"})


@dataclass(frozen=True)
class InitResult:
    """What ``init_pki`` wrote."""

    root: Path
    options: InitOptions
    now: dt.datetime  # the start time every certificate's dates derive from
    written: tuple[Path, ...]  # files present after init, relative to root, in the order written
    log: tuple[str, ...] = field(default=())  # kubeadm's output lines

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def tree(self) -> PkiTree:
        return PkiTree(self.root)


def init_pki(root: Path, options: InitOptions | None = None, *, keys: KeyFactory, now: dt.datetime) -> InitResult:
    """Write a control-plane node's /etc/kubernetes tree below ``root`` (which must be empty or absent)."""
    return write_node_tree(root, options or InitOptions(), keys=keys, now=now)


def write_node_tree(
    root: Path, options: InitOptions, *, keys: KeyFactory, now: dt.datetime, cluster_pki: PkiTree | None = None,
) -> InitResult:
    """init's certs, kubeconfig and manifest phases below ``root`` (which must be empty or absent).

    With ``cluster_pki`` the CAs and the service-account key pair are copied from that tree byte for
    byte instead of generated, as on a control-plane node joining with the cluster's certificates.
    """
    options.validate()
    start = utc(now)
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ReferenceUsageError(f"{root} exists and is not an empty directory; init writes a new tree")
    ensure_dir(root)
    tree = PkiTree(root)
    out = TreeWriter(root)

    issued = _certs_phase(tree, out, options, keys, start, cluster_pki=cluster_pki)
    _kubeconfig_phase(tree, out, options, keys=keys, start=start, ca=issued["ca"])
    _manifests_phase(tree, out, options)
    write_kubelet_folder(out, issued["ca"], node=options.node_name, address=options.advertise_address,
                         dns_domain=options.dns_domain, cluster_dns=str(options.cluster_dns), keys=keys, now=start,
                         server_tls_bootstrap=options.server_tls_bootstrap)
    out.log.append('[kubelet-finalize] Updating "/etc/kubernetes/kubelet.conf" to point to a rotatable kubelet '
                   "client certificate and key")
    for name in options.external_ca:
        out.remove(tree.key_path(name))
        out.log.append(f'[certs] External CA mode: "{name}" key removed; its certificates are managed outside kubeadm')
    return InitResult(root=root, options=options, now=start, written=tuple(out.written), log=tuple(out.log))


def _certs_phase(
    tree: PkiTree, out: TreeWriter, options: InitOptions, keys: KeyFactory, start: dt.datetime, *,
    cluster_pki: PkiTree | None = None,
) -> dict[str, tuple[x509.Certificate, PrivateKey]]:
    ensure_dir(tree.pki_dir)
    out.log.append(f'[certs] Using certificateDir folder "{tree.pki_dir}"')
    issued: dict[str, tuple[x509.Certificate, PrivateKey]] = {}
    for name in GENERATION_ORDER:
        spec = layout.CERTS_BY_NAME[name]
        if spec.etcd and options.external_etcd:
            continue
        if spec.ca is None and cluster_pki is not None:
            out.log.append(f"[certs] Using existing {spec.path} certificate authority")
            _copy(out, cluster_pki.key_path(name), tree.key_path(name), KEY_MODE)
            _copy(out, cluster_pki.cert_path(name), tree.cert_path(name), CERT_MODE)
            issued[name] = (tree.cert(name), tree.key(name))
            continue
        out.log.append(f'[certs] Generating "{spec.path}" certificate and key')
        key = keys.new_key(options.key_algorithm)
        if spec.ca is None:
            cert = issue_ca(cn=spec.cn, key=key, now=start, ca_days=options.ca_days, backdate=options.backdate)
        else:
            dns, ips = _sans(name, options, out)
            ca_cert, ca_key = issued[spec.ca]
            cert = issue_leaf(
                ca_cert, ca_key, cn=spec.common_name(options.node_name), orgs=spec.orgs, dns=dns, ips=ips,
                eku=spec.eku, key=key, now=start, leaf_days=options.leaf_days, backdate=options.backdate,
            )
            if dns or ips:
                out.log.append(
                    f"[certs] {spec.path} serving cert is signed for DNS names [{' '.join(normalized_dns(dns))}]"
                    f" and IPs [{' '.join(str(ip) for ip in normalized_ips(ips))}]"
                )
        # kubeadm writes the key before the certificate (WriteCertAndKey).
        out.write(tree.key_path(name), private_key_pem(key), KEY_MODE)
        out.write(tree.cert_path(name), cert_pem(cert), CERT_MODE)
        issued[name] = (cert, key)
    if cluster_pki is not None:
        out.log.append('[certs] Using the existing "sa" key')
        _copy(out, cluster_pki.sa_key_path, tree.sa_key_path, KEY_MODE)
        _copy(out, cluster_pki.sa_pub_path, tree.sa_pub_path, KEY_MODE)
        return issued
    out.log.append('[certs] Generating "sa" key and public key')
    sa_key = keys.new_key(options.key_algorithm)
    out.write(tree.sa_key_path, private_key_pem(sa_key), KEY_MODE)
    out.write(tree.sa_pub_path, public_key_pem(sa_key), KEY_MODE)
    return issued


def _copy(out: TreeWriter, source: Path, target: Path, mode: int) -> None:
    out.write(target, source.read_bytes(), mode)


def _sans(name: str, options: InitOptions, out: TreeWriter) -> tuple[list[str], list[str]]:
    if name == "apiserver":
        dns, ips, skipped = options.apiserver_sans()
        for san in skipped:
            out.log.append(
                f"[certificates] WARNING: '{san}' was not added to the 'apiserver' SAN, because it is not a valid"
                " IP or RFC-1123 compliant DNS entry"
            )
        return dns, ips
    if name in ("etcd-server", "etcd-peer"):
        return options.etcd_sans()
    return [], []


def _kubeconfig_phase(
    tree: PkiTree, out: TreeWriter, options: InitOptions, *, keys: KeyFactory, start: dt.datetime,
    ca: tuple[x509.Certificate, PrivateKey],
) -> None:
    ca_cert, ca_key = ca
    out.log.append(f'[kubeconfig] Using kubeconfig folder "{tree.root}"')
    for name in KUBECONFIG_ORDER:
        spec = layout.KUBECONFIGS_BY_NAME[name]
        if name == "super-admin.conf" and not options.super_admin:
            continue
        out.log.append(f'[kubeconfig] Writing "{name}" kubeconfig file')
        user = spec.common_name(options.node_name)
        server = options.local_url() if name in _LOCAL_KUBECONFIGS else options.endpoint_url()
        if spec.embeds_client_cert:
            key = keys.new_key(options.key_algorithm)
            cert = issue_leaf(
                ca_cert, ca_key, cn=user, orgs=spec.orgs, eku=(layout.CLIENT_AUTH,), key=key, now=start,
                leaf_days=options.leaf_days, backdate=options.backdate,
            )
            document = kubeconfig_document(
                server=server, ca_pem=cert_pem(ca_cert), user=user,
                client_cert_pem=cert_pem(cert), client_key_pem=private_key_pem(key),
            )
        else:
            # kubelet.conf as it is after init's kubelet-finalize phase: the kubelet rotates its own cert.
            document = kubeconfig_document(
                server=server, ca_pem=cert_pem(ca_cert), user=user,
                client_cert_path=layout.KUBELET_ROTATED_CLIENT, client_key_path=layout.KUBELET_ROTATED_CLIENT,
            )
        out.write(tree.kubeconfig_path(name), render_kubeconfig(document), KUBECONFIG_MODE)


def _manifests_phase(tree: PkiTree, out: TreeWriter, options: InitOptions) -> None:
    ensure_dir(tree.manifests_dir, MANIFEST_DIR_MODE)
    if not options.external_etcd:
        out.log.append(f'[etcd] Creating static Pod manifest for local etcd in "{tree.manifests_dir}"')
        etcd = etcd_manifest(node_name=options.node_name, advertise_address=options.advertise_address)
        out.write(tree.manifests_dir / "etcd.yaml", render_manifest(etcd), MANIFEST_MODE)
    out.log.append(f'[control-plane] Using manifest folder "{tree.manifests_dir}"')
    out.log.append('[control-plane] Creating static Pod manifest for "kube-apiserver"')
    apiserver = apiserver_manifest(
        advertise_address=options.advertise_address, service_cidr=options.service_cidr,
        dns_domain=options.dns_domain, kubernetes_version=options.kubernetes_version,
        external_etcd=options.external_etcd,
    )
    out.write(tree.manifests_dir / "kube-apiserver.yaml", render_manifest(apiserver), MANIFEST_MODE)
    out.log.append('[control-plane] Creating static Pod manifest for "kube-controller-manager"')
    controller_manager = controller_manager_manifest(service_cidr=options.service_cidr,
                                                     kubernetes_version=options.kubernetes_version)
    out.write(tree.manifests_dir / "kube-controller-manager.yaml", render_manifest(controller_manager), MANIFEST_MODE)
    out.log.append('[control-plane] Creating static Pod manifest for "kube-scheduler"')
    scheduler = scheduler_manifest(kubernetes_version=options.kubernetes_version)
    out.write(tree.manifests_dir / "kube-scheduler.yaml", render_manifest(scheduler), MANIFEST_MODE)
