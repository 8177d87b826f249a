"""``kubeadm certs generate-csr --cert-dir D/pki --kubeconfig-dir D`` (kubeadm v1.23+), in its own layout.

What kubeadm writes (phases/certs CreateDefaultKeysAndCSRFiles, phases/kubeconfig
CreateDefaultKubeConfigsAndCSRFiles), as real kubeadm v1.28.7 was seen to write it:

- for each leaf, in the PKI layout: ``D/pki/<path>.key`` then ``D/pki/<path>.csr`` (apiserver,
  apiserver-kubelet-client, front-proxy-client, etcd/server, etcd/peer, etcd/healthcheck-client,
  apiserver-etcd-client); no CA;
- for each kubeconfig (admin, super-admin from v1.29, kubelet, controller-manager, scheduler):
  ``D/<name>.conf``, a partial kubeconfig whose user holds only ``client-key-data`` and whose cluster only
  its server, then ``D/<name>.conf.csr`` beside it.

Files are 0600 and folders 0755, both less the process umask: the key writer makes a missing folder 0755
before the CSR writer's 0700 would apply. Requests carry CN, O and DNS/IP SANs and no usages. Nothing is
written when any of these files is already there. Each section prints ``generating keys and CSRs in
<folder>`` and one indented name per request; kubeadm walks Go maps there, so its order varies from run to
run, and the reference keeps kubeadm's certificate-list order.

kubeadm takes the requests' contents from its configuration; the reference takes them from the tree the
configuration made: subjects as kubeadm's release writes them for the tree's node, SANs from the tree's
certificates, servers from its kubeconfigs, key types from its CA (kubeconfigs' from the release's rule).
With external etcd (no etcd CA in the tree) the etcd requests are left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki import renewal_faults as faults
from kubecert.reference.pki.csr import CsrResult, csr_request
from kubecert.reference.pki.files import make_dirs, write_new
from kubecert.reference.pki.init import GENERATION_ORDER, KUBECONFIG_ORDER
from kubecert.reference.pki.issue import template_of
from kubecert.reference.pki.keys import DEFAULT_KEY_ALGORITHM, KeyFactory, algorithm_of, private_key_pem
from kubecert.reference.pki.kubeconfig import current_cluster, kubeconfig_document, render_kubeconfig
from kubecert.reference.pki.renew import local_etcd
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.versions import KubeadmVersion

FILE_MODE = 0o600  # keys, CSRs and partial kubeconfigs, less the umask
FOLDER_MODE = 0o755  # what the key writer asks for a missing folder, less the umask


def generate_kubeadm_csrs(root: Path, cert_dir: Path, kubeconfig_dir: Path, *, keys: KeyFactory,
                          fault: str | None = None) -> CsrResult:
    """Write what ``certs generate-csr`` writes for the cluster of the tree at ``root``."""
    fault = faults.check_renewal_fault(fault, "generate-csr")
    tree = PkiTree(Path(root))
    if not tree.pki_dir.is_dir():
        raise ReferenceUsageError(f"{root} holds no pki folder; give the folder that contains pki/")
    cert_dir, kubeconfig_dir = Path(cert_dir), Path(kubeconfig_dir)
    version = KubeadmVersion.of_tree(tree.root)
    node = tree.node_name()
    if node is None:
        raise ReferenceUsageError(f"{tree.kubeconfig_path('kubelet.conf')} names no system:node user; "
                                  "the requests need the node's name")
    cluster_key = _cluster_key_algorithm(tree)
    etcd = local_etcd(root)
    leaves = [name for name in GENERATION_ORDER
              if not layout.CERTS_BY_NAME[name].is_ca and (etcd or not layout.CERTS_BY_NAME[name].etcd)]
    if fault == faults.CSR_FOR_CA:
        leaves.append("ca")
    kubeconfigs = [name for name in KUBECONFIG_ORDER if name != "super-admin.conf" or version.has_super_admin]
    leaf_files = [cert_dir / f"{layout.CERTS_BY_NAME[name].path}{suffix}" for name in leaves
                  for suffix in (".key", ".csr")]
    kubeconfig_files = [kubeconfig_dir / f"{name}{suffix}" for name in kubeconfigs for suffix in ("", ".csr", ".key")]
    taken = [path for path in leaf_files + kubeconfig_files if os.path.lexists(path)]
    if taken:
        raise ReferenceUsageError(f"{taken[0]}: a kubeconfig, key or CSR is already there; generate-csr never "
                                  "overwrites one")
    mode = 0o644 if fault == faults.CSR_LOOSE_MODES else FILE_MODE
    log = [f"generating keys and CSRs in {cert_dir}"]
    for name in leaves:
        spec = layout.CERTS_BY_NAME[name]
        key = keys.new_key(cluster_key)
        dns, ips = _sans(tree, name)
        cn = spec.common_name(node)
        request = csr_request(cn, version.orgs(name) if not spec.is_ca else (), dns, ips, key)
        # pkiutil.WriteKey, then WriteCSR: the key's writer makes the folder.
        path = cert_dir / spec.path
        make_dirs(path.parent, FOLDER_MODE)
        write_new(path.with_name(f"{path.name}.key"), private_key_pem(key), mode)
        write_new(path.with_name(f"{path.name}.csr"), request.public_bytes(serialization.Encoding.PEM), mode)
        log.append(f"  {spec.path}")
    log.append(f"generating keys and CSRs in {kubeconfig_dir}")
    for name in kubeconfigs:
        key = keys.new_key(version.kubeconfig_key_algorithm(cluster_key))
        user = layout.KUBECONFIGS_BY_NAME[name].common_name(node)
        partial = kubeconfig_document(server=_server(tree, name), ca_pem=None, user=user,
                                      client_key_pem=private_key_pem(key))
        request = csr_request(user, version.orgs(name), (), (), key)
        make_dirs(kubeconfig_dir, FOLDER_MODE)  # clientcmd's writer: MkdirAll 0755
        write_new(kubeconfig_dir / name, render_kubeconfig(partial), mode)
        write_new(kubeconfig_dir / f"{name}.csr", request.public_bytes(serialization.Encoding.PEM), mode)
        log.append(f"  {name}")
    if fault == faults.CSR_LOOSE_MODES:
        for folder in {cert_dir, kubeconfig_dir, *(path.parent for path in leaf_files)}:
            os.chmod(folder, 0o755)  # noqa: S103 - the fault's point
    return CsrResult(csr_dir=kubeconfig_dir, written=tuple(leaves + kubeconfigs), log=tuple(log))


def _cluster_key_algorithm(tree: PkiTree) -> str:
    """The cluster's encryptionAlgorithm, as its CA's key shows it."""
    try:
        public = tree.cert("ca").public_key()
        return algorithm_of(public)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_KEY_ALGORITHM


def _sans(tree: PkiTree, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The DNS and IP SANs the configuration gave ``name``: those of its certificate in the tree."""
    if name not in ("apiserver", "etcd-server", "etcd-peer"):
        return (), ()
    try:
        source = template_of(tree.cert(name))
    except (OSError, ValueError) as exc:
        raise ReferenceUsageError(f"{tree.cert_path(name)} cannot be read ({exc}); its request needs its SANs") \
            from None
    return source.dns, tuple(str(ip) for ip in source.ips)


def _server(tree: PkiTree, name: str) -> str:
    """The API server the kubeconfig ``name`` names: its own in the tree, else admin.conf's."""
    for source in (name, "admin.conf"):
        try:
            return str(current_cluster(tree.kubeconfig(source))["server"])
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
            continue
    raise ReferenceUsageError(f"no kubeconfig in {tree.root} names the API server the requests are for")

