"""``kubeadm certs renew all|NAME``: new certificates for old ones, signed by the same CAs.

As kubeadm v1.31's renewal manager (cmd/kubeadm/app/phases/certs/renewal/manager.go, readwriter.go)
and its command (cmd/kubeadm/app/cmd/certs.go):

- Every leaf and the client certificates embedded in admin.conf, super-admin.conf,
  controller-manager.conf and scheduler.conf can be renewed; CAs and kubelet.conf never are.
  ``renew all`` goes through them sorted by name; etcd's are left out with external etcd.
- A renewal copies CN, O, DNS SANs, IP SANs and extended key usage from the certificate on disk
  (certToConfig), makes a new private key and a new serial, recomputes key usage, and signs with the
  CA certificate and key on disk: the CA is never changed. Dates are those of a new issuance: up to
  v1.30 NotBefore stays the CA's and only NotAfter moves (versions.py); the release is read from the
  tree's kube-apiserver manifest.
- A kubeconfig keeps everything but its current user's client certificate and key, and its current
  cluster's certificate-authority-data, which is refreshed from ca.crt on disk.
- Output, one line per certificate: ``<long name> renewed``; ``MISSING! <long name>`` when its file
  is absent; ``Detected external <CA path>, <long name> can't be renewed`` when its CA's key is absent.
  ``renew all`` ends with an empty line and the reminder to restart the control plane.

kubeadm takes the key type from the cluster's configuration (encryptionAlgorithm); the reference has
none stored, so it keeps the type of the key being replaced, which is what that configuration made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki import renewal_faults as faults
from kubecert.reference.pki.issue import (
    BACKDATE,
    LEAF_DAYS,
    CertTemplate,
    cert_pem,
    issue_ca,
    issue_leaf,
    sign,
    template_of,
    utc,
    validity,
)
from kubecert.reference.pki.keys import (
    DEFAULT_KEY_ALGORITHM,
    KeyFactory,
    PrivateKey,
    algorithm_of,
    private_key_pem,
)
from kubecert.reference.pki.kubeconfig import current_cluster, current_user, decode_data, encode_data
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.versions import DEFAULT_VERSION, KubeadmVersion

RENEWED = "renewed"
EXTERNAL = "external"
MISSING = "missing"

DONE = (
    "Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler "
    "and etcd, so that they can use the new certificates."
)


@dataclass(frozen=True)
class RenewResult:
    outcomes: tuple[tuple[str, str], ...]  # (certificate, renewed|external|missing), in order
    log: tuple[str, ...]  # kubeadm's output lines

    @property
    def renewed(self) -> tuple[str, ...]:
        return tuple(name for name, outcome in self.outcomes if outcome == RENEWED)


def local_etcd(root: Path) -> bool:
    """kubeadm writes manifests/etcd.yaml only for local (stacked) etcd; without it, etcd is external."""
    return (Path(root) / "manifests" / "etcd.yaml").exists()


def renewable_names(external_etcd: bool, version: KubeadmVersion | None = None) -> tuple[str, ...]:
    return (version or KubeadmVersion.parse(DEFAULT_VERSION)).renewed(external_etcd)


class Renewer:
    """Renews single certificates of one tree with the tree's own CAs: what renew and upgrade share."""

    def __init__(
        self, root: Path, *, keys: KeyFactory, now: dt.datetime, leaf_days: int = LEAF_DAYS,
        backdate: dt.timedelta = BACKDATE, fault: str | None = None, version: KubeadmVersion | None = None,
    ) -> None:
        self.tree = PkiTree(Path(root))
        if not self.tree.pki_dir.is_dir():
            raise ReferenceUsageError(f"{root} holds no pki folder; give the folder that contains pki/")
        self.version = version or KubeadmVersion.of_tree(self.tree.root)
        self.keys = keys
        self.now = utc(now)
        self.leaf_days = leaf_days
        self.backdate = backdate
        self.fault = fault
        self._signers: dict[str, tuple[x509.Certificate, PrivateKey]] = {}

    # --- what kubeadm asks before renewing

    def exists(self, name: str) -> bool:
        return exists(self.tree, name)

    def ca_is_external(self, ca: str) -> bool:
        """kubeadm's external-CA test: the CA certificate is there and its key is not."""
        return self.tree.cert_path(ca).is_file() and not self.tree.key_path(ca).exists()

    # --- renewing

    def renew(self, name: str) -> str:
        """Renew ``name``; RENEWED, or EXTERNAL / MISSING when kubeadm would not renew it."""
        if not self.exists(name):
            return MISSING
        ca = layout.issuer_of(name)
        if ca is None:
            raise ReferenceUsageError(f"{name} is not a certificate kubeadm renews")
        external = self.ca_is_external(ca)
        if external and self.fault != faults.EXTERNAL_LEAVES_RENEWED:
            return EXTERNAL
        old = current_certificate(self.tree, name)
        key = self.tree.key(name) if self.fault == faults.KEY_REUSED and name == "etcd-server" else (
            new_key_like(self.keys, old))
        ca_cert, ca_key = self._stand_in(ca) if external else self._signer(ca)
        cert = sign(self._template(name, old, ca_cert), public_key=key.public_key(), signer_key=ca_key,
                    issuer=ca_cert)
        self._write(name, cert, key, ca_cert)
        return RENEWED

    def _template(self, name: str, old: x509.Certificate, ca_cert: x509.Certificate) -> CertTemplate:
        """certToConfig: CN, O, DNS and IP SANs and EKU of the certificate on disk; the dates of a new one."""
        source = template_of(old)
        if not source.eku:
            raise ReferenceUsageError(f"cannot renew {name}: its certificate has no extended key usage, "
                                      "and kubeadm signs none without one")
        not_before, not_after = validity(self.now, self.leaf_days, self.backdate)
        if self.version.leaf_not_before_is_cas:
            not_before = ca_cert.not_valid_before_utc
        dns = source.dns
        if self.fault == faults.SAN_DROPPED and name == "apiserver":
            dns = tuple(n for n in dns if n != "kubernetes.default")
        if self.fault == faults.OLD_EXPIRY_KEPT and name == "apiserver-kubelet-client":
            not_after = old.not_valid_after_utc
        # Key usage, basic constraints and key identifiers are not copied: sign() recomputes them as for
        # any new leaf, as kubeadm does.
        return CertTemplate(cn=source.cn, orgs=source.orgs, dns=dns, ips=source.ips, eku=source.eku,
                            not_before=not_before, not_after=not_after)

    def _signer(self, ca: str) -> tuple[x509.Certificate, PrivateKey]:
        if ca not in self._signers:
            if not self.tree.cert_path(ca).is_file():
                raise ReferenceUsageError(f"cannot renew: the CA certificate {self.tree.cert_path(ca)} is missing")
            try:
                self._signers[ca] = (self.tree.cert(ca), self.tree.key(ca))
            except ValueError as exc:
                raise ReferenceUsageError(f"cannot renew: the CA {ca} cannot be loaded ({exc})") from None
            if self.fault == faults.CA_ROTATED and ca == "front-proxy-ca":
                self._signers[ca] = self._rotate(ca)
        return self._signers[ca]

    def _rotate(self, ca: str) -> tuple[x509.Certificate, PrivateKey]:
        """The ca-rotated fault: a new CA of the same name and lifetime replaces the one on disk."""
        old, old_key = self._signers[ca]
        lifetime = old.not_valid_after_utc - old.not_valid_before_utc - self.backdate
        key = self.keys.new_key(algorithm_of(old_key))
        cert = issue_ca(cn=_common_name(old), key=key, now=self.now, ca_days=lifetime.days, backdate=self.backdate)
        self.tree.write_key(ca, key)
        self.tree.write_cert(ca, cert)
        return cert, key

    def _stand_in(self, ca: str) -> tuple[x509.Certificate, PrivateKey]:
        """The external-ca-leaves-renewed fault: a CA named like the external one, with a key of its own."""
        if ca not in self._signers:
            real = self.tree.cert(ca)
            key = self.keys.new_key(algorithm_of(real.public_key()))  # type: ignore[arg-type]
            self._signers[ca] = (issue_ca(cn=_common_name(real), key=key, now=self.now), key)
        return self._signers[ca]

    def _write(self, name: str, cert: x509.Certificate, key: PrivateKey, ca_cert: x509.Certificate) -> None:
        if name not in layout.KUBECONFIGS_BY_NAME:
            # pkiutil.WriteCertAndKey: the key first, then the certificate.
            self.tree.write_key(name, key)
            self.tree.write_cert(name, cert)
            return
        document = self.tree.kubeconfig(name)
        current_cluster(document)["certificate-authority-data"] = encode_data(cert_pem(ca_cert))
        user = current_user(document)
        user["client-certificate-data"] = encode_data(cert_pem(cert))
        user["client-key-data"] = encode_data(private_key_pem(key))
        self.tree.write_kubeconfig(name, document)

    def rewrite_kubelet_conf(self) -> None:
        """The kubelet-conf-rewritten fault: kubelet.conf gets an embedded client certificate and key."""
        if self.ca_is_external("ca") or not self.tree.kubeconfig_path("kubelet.conf").is_file():
            return
        ca_cert, ca_key = self._signer("ca")
        spec = layout.KUBECONFIGS_BY_NAME["kubelet.conf"]
        key = self.keys.new_key(algorithm_of(ca_key))
        cert = issue_leaf(ca_cert, ca_key, cn=spec.common_name(self.tree.node_name() or "node"), orgs=spec.orgs,
                          eku=(layout.CLIENT_AUTH,), key=key, now=self.now, leaf_days=self.leaf_days)
        document = self.tree.kubeconfig("kubelet.conf")
        user = current_user(document)
        user.clear()
        user["client-certificate-data"] = encode_data(cert_pem(cert))
        user["client-key-data"] = encode_data(private_key_pem(key))
        self.tree.write_kubeconfig("kubelet.conf", document)


def exists(tree: PkiTree, name: str) -> bool:
    path = tree.kubeconfig_path(name) if name in layout.KUBECONFIGS_BY_NAME else tree.cert_path(name)
    return path.is_file()


def current_certificate(tree: PkiTree, name: str) -> x509.Certificate:
    """The certificate renewal starts from: the file under pki/, or the kubeconfig's embedded client."""
    try:
        if name not in layout.KUBECONFIGS_BY_NAME:
            return tree.cert(name)
        path = tree.kubeconfig_path(name)
        data = current_user(tree.kubeconfig(name)).get("client-certificate-data")
        if not data:
            raise ReferenceUsageError(f"kubeConfig file {path} does not have an embedded client certificate")
        return x509.load_pem_x509_certificate(decode_data(data))
    except (ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        where = tree.kubeconfig_path(name) if name in layout.KUBECONFIGS_BY_NAME else tree.cert_path(name)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReferenceUsageError(f"cannot renew {name}: {where} cannot be read ({reason})") from None


def new_key_like(keys: KeyFactory, old: x509.Certificate) -> PrivateKey:
    """A new key of the type of ``old``'s (kubeadm: the configured encryptionAlgorithm)."""
    try:
        algorithm = algorithm_of(old.public_key())  # type: ignore[arg-type]
    except (AttributeError, TypeError, ValueError):  # a key type kubeadm would not make: its default
        algorithm = DEFAULT_KEY_ALGORITHM
    return keys.new_key(algorithm)


def _common_name(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def line_for(name: str, outcome: str) -> str:
    """kubeadm's output line for one certificate's outcome (cmd/certs.go renewCert)."""
    long_name = layout.long_name_of(name)
    if outcome == MISSING:
        return f"MISSING! {long_name}"
    if outcome == EXTERNAL:
        ca = layout.issuer_of(name) or "ca"
        return f"Detected external {layout.CERTS_BY_NAME[ca].path}, {long_name} can't be renewed"
    return f"{long_name} renewed"


def renew(
    root: Path, which: str = "all", *, keys: KeyFactory, now: dt.datetime, leaf_days: int = LEAF_DAYS,
    backdate: dt.timedelta = BACKDATE, fault: str | None = None, external_etcd: bool | None = None,
) -> RenewResult:
    """``kubeadm certs renew all`` (``which="all"``) or ``kubeadm certs renew NAME`` on the tree at ``root``."""
    fault = faults.check_renewal_fault(fault, "renew")
    if external_etcd is None:
        external_etcd = not local_etcd(root)
    renewer = Renewer(root, keys=keys, now=now, leaf_days=leaf_days, backdate=backdate, fault=fault)
    known = renewable_names(external_etcd, renewer.version)
    if which != "all" and which not in known:
        raise ReferenceUsageError(f"unknown certificate {which!r}; expected all or one of: {', '.join(known)}")
    names: Iterable[str] = known if which == "all" else (which,)
    outcomes = [(name, renewer.renew(name)) for name in names]
    log = [line_for(name, outcome) for name, outcome in outcomes]
    if fault == faults.OTHER_CERT_TOUCHED and which != "all":
        renewer.renew("apiserver" if which == "front-proxy-client" else "front-proxy-client")  # silently
    if fault == faults.KUBELET_CONF_REWRITTEN:
        renewer.rewrite_kubelet_conf()
    if which == "all":
        log += ["", DONE]
    return RenewResult(outcomes=tuple(outcomes), log=tuple(log))
