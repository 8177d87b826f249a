"""The first control-plane node of a real kubeadm cluster, made in code with explicit dates, as FACTS.md's "Real
kubeadm v1.28.7, observed" describes it (and as v1.31 makes it), at each state the kubelet's client certificate
goes through:

- ``started``: kubeadm signed kubelet.conf's client certificate with the cluster CA and embedded it; the kubelet
  stored that same certificate (same serial) as ``kubelet-client-<time>.pem`` with its key, and linked
  ``kubelet-client-current.pem`` to it by an ABSOLUTE path into /var/lib/kubelet/pki;
- ``finalized``: ``kubeadm init phase kubelet-finalize`` pointed kubelet.conf's client-certificate and client-key at
  kubelet-client-current.pem;
- ``rotated``: the kubelet has since rotated through the controller-manager's CSR signer (the reference's own
  kubelet certificate, exactly the signing duration long), and the link moved to that newer file.

Dates by version. v1.28-v1.30 (pkiutil.NewSignedCert): a leaf's NotBefore is its CA's NotBefore (the CA backdated
5 minutes since v1.28), NotAfter the leaf's signing time + 365 d, here a few seconds after the CA's. v1.31+
(certlist.go with kubeadmutil.StartTimeUTC): every certificate of one ``kubeadm init`` has NotBefore = start - 5 min
and NotAfter = start + 365 d. v1.28 also has O=system:masters on admin.conf and three leaves, and no
super-admin.conf. kubeadm's keys are RSA-2048 (its default encryptionAlgorithm).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

from cryptography import x509

from kubecert import layout
from kubecert.reference.pki import InitOptions, KeyPool, init_pki
from kubecert.reference.pki.files import write_atomic
from kubecert.reference.pki.issue import BACKDATE, CertTemplate, cert_pem, sign, template_of
from kubecert.reference.pki.keys import PrivateKey, load_private_key, private_key_pem
from kubecert.reference.pki.kubeconfig import current_user, encode_data
from kubecert.reference.pki.kubelet import DATED_MODE, KubeletTree, combined_pem, signed_by_cluster
from kubecert.reference.pki.tree import PkiTree

Version = Literal["v1.28", "v1.31"]
KubeletState = Literal["started", "finalized", "rotated"]
LEAF_DAYS = dt.timedelta(days=365)
CA_TO_LEAF = dt.timedelta(seconds=3)  # v1.28: the leaves are signed a few seconds after their CA
KUBEADM_KEY = "RSA-2048"


def _v128_leaf(template: CertTemplate, ca: x509.Certificate, made: dt.datetime,
               orgs: tuple[str, ...] | None = None) -> CertTemplate:
    """pkiutil.NewSignedCert up to v1.30: the CA's NotBefore, NotAfter from the signing time."""
    return CertTemplate(cn=template.cn, orgs=template.orgs if orgs is None else orgs, dns=template.dns,
                        ips=template.ips, eku=template.eku, not_before=ca.not_valid_before_utc,
                        not_after=made + CA_TO_LEAF + LEAF_DAYS)


def _as_v128(tree: PkiTree, made: dt.datetime) -> None:
    """Re-sign every leaf and kubeconfig client (their own keys kept) with v1.28's dates and subjects."""
    for spec in layout.LEAVES:
        current, ca = tree.cert(spec.name), tree.cert(spec.ca or "")
        orgs = (layout.SYSTEM_MASTERS,) if spec.name in layout.LEGACY_MASTERS_LEAVES else None
        template = _v128_leaf(template_of(current), ca, made, orgs)
        tree.write_cert(spec.name, sign(template, public_key=current.public_key(),  # type: ignore[arg-type]
                                        signer_key=tree.key(spec.ca or ""), issuer=ca))
    ca = tree.cert("ca")
    for name in ("admin.conf", "controller-manager.conf", "scheduler.conf"):
        cert, _ = tree.kubeconfig_client(name)
        orgs = (layout.SYSTEM_MASTERS,) if name == "admin.conf" else None
        client = sign(_v128_leaf(template_of(cert), ca, made, orgs), public_key=cert.public_key(),  # type: ignore[arg-type]
                      signer_key=tree.key("ca"), issuer=ca)
        document = tree.kubeconfig(name)
        current_user(document)["client-certificate-data"] = encode_data(cert_pem(client))
        tree.write_kubeconfig(name, document)


def kubeadm_kubelet_certificate(tree: PkiTree, key: PrivateKey, node: str, version: Version,
                                made: dt.datetime, *, days: dt.timedelta = LEAF_DAYS) -> x509.Certificate:
    """kubelet.conf's client certificate as kubeadm init signs it (kubeconfig phase, with the cluster CA)."""
    ca = tree.cert("ca")
    if version == "v1.28":
        not_before, not_after = ca.not_valid_before_utc, made + CA_TO_LEAF + days
    else:
        not_before, not_after = made - BACKDATE, made + days
    template = CertTemplate(cn=f"{layout.NODE_USER_PREFIX}{node}", orgs=(layout.NODES_GROUP,),
                            eku=(layout.CLIENT_AUTH,), not_before=not_before, not_after=not_after)
    return sign(template, public_key=key.public_key(), signer_key=tree.key("ca"), issuer=ca)


def store_as_kubelet(root: Path, cert: x509.Certificate, key: PrivateKey, at: dt.datetime) -> str:
    """The kubelet's certificate store keeping ``cert`` at ``at``, linked absolutely as the kubelet links it;
    the dated file's name."""
    kubelet = KubeletTree(root)
    dated = kubelet.pki_dir / layout.dated_pem("client", at)
    write_atomic(dated, combined_pem(cert, key), DATED_MODE)
    current = kubelet.current_path("client")
    current.unlink(missing_ok=True)
    os.symlink(f"{layout.KUBELET_CERT_DIR}/{dated.name}", current)
    return dated.name


def stored(root: Path) -> tuple[x509.Certificate, PrivateKey]:
    """The certificate and key of the file kubelet-client-current.pem names (its absolute link read as the
    copy's own file)."""
    kubelet = KubeletTree(root)
    data = (kubelet.pki_dir / Path(os.readlink(kubelet.current_path("client"))).name).read_bytes()
    return x509.load_pem_x509_certificate(data), load_private_key(data, validate=False)


def embed_in_kubelet_conf(tree: PkiTree, cert: x509.Certificate | None, key: PrivateKey | None) -> None:
    """kubelet.conf as kubeadm's kubeconfig phase writes it (``cert`` embedded), or, with None, as kubelet-finalize
    leaves it (pointing at the rotating file)."""
    document = tree.kubeconfig("kubelet.conf")
    user = current_user(document)
    user.clear()
    if cert is not None and key is not None:
        user.update({"client-certificate-data": encode_data(cert_pem(cert)),
                     "client-key-data": encode_data(private_key_pem(key))})
    else:
        user.update({"client-certificate": layout.KUBELET_ROTATED_CLIENT, "client-key": layout.KUBELET_ROTATED_CLIENT})
    tree.write_kubeconfig("kubelet.conf", document)


def first_control_plane(root: Path, keys: KeyPool, *, version: Version, state: KubeletState,
                        made: dt.datetime, rotated_at: dt.datetime | None = None) -> Path:
    """The first control-plane node ``kubeadm init`` made at ``made`` below ``root``, its kubelet in ``state``."""
    v128 = version == "v1.28"
    init_pki(root, InitOptions(ca_days=3650, super_admin=not v128,
                               kubernetes_version="v1.28.7" if v128 else "v1.31.0"), keys=keys, now=made)
    tree, kubelet = PkiTree(root), KubeletTree(root)
    _, signer_key = kubelet.current("client")  # the key the kubelet makes for its CSRs: the rotated state's
    if v128:
        _as_v128(tree, made)
    for path in kubelet.pki_dir.glob("kubelet-client-*"):
        path.unlink()
    key = keys.new_key(KUBEADM_KEY)
    kubeadm_cert = kubeadm_kubelet_certificate(tree, key, "cp-1", version, made)
    store_as_kubelet(root, kubeadm_cert, key, made + dt.timedelta(seconds=20))
    embed_in_kubelet_conf(tree, kubeadm_cert if state == "started" else None, key)
    if state == "rotated":
        assert rotated_at is not None, "a rotated kubelet rotated at some time"
        rotated = signed_by_cluster((tree.cert("ca"), tree.key("ca")), node="cp-1", key=signer_key, now=rotated_at)
        store_as_kubelet(root, rotated, signer_key, rotated_at)
    return root
