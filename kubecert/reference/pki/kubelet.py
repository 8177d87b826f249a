"""The kubelet's folder of a kubeadm node (/var/lib/kubelet), in the states a first control-plane node goes through.

kubeadm writes config.yaml (0644, in a 0700 folder) with ``rotateCertificates: true``. ``kubeadm init``
signs the kubelet's first client certificate itself, with the cluster CA, as a kubeconfig client
(``CN=system:node:<node>``, ``O=system:nodes``, kubeadm's key type and leaf dates) and embeds it in
kubelet.conf. The states (``KUBELET_STATES``), as real kubeadm v1.28.7 was seen to leave them:

- ``fresh``: before the kubelet first runs: config.yaml only, no certificate folder.
- ``started``: the kubelet's certificate store has kept kubeadm's certificate and key (the same serial)
  in a dated ``kubelet-client-<time>.pem`` (0600) and points ``kubelet-client-current.pem`` at it with an
  absolute link into /var/lib/kubelet/pki; kubelet.conf still embeds the certificate.
- ``finalized``: init's kubelet-finalize phase has pointed kubelet.conf's client-certificate and
  client-key at kubelet-client-current.pem.
- ``rotated`` (the default): the kubelet has rotated: its client certificate comes from
  kube-controller-manager's CSR signer for an ECDSA P-256 key of its own, NotBefore five minutes back and
  valid exactly the signing duration (default 8760h), with keyUsage digitalSignature alone (client-go
  asks keyEncipherment only for RSA keys, since v1.27); the reference links it by the file's name, so a
  copy of the tree stays whole (kubecert reads either link as the copy's own file).

The serving certificate, once the kubelet has started and unless ``serverTLSBootstrap`` is set, is signed
at start-up by a throw-away CA of its own (client-go certutil: RSA-2048, NotBefore an hour back, a year
long, ``kubelet.crt`` holding the leaf then that CA, ``kubelet.key`` 0600); with ``serverTLSBootstrap`` it
is a dated ``kubelet-server-*.pem`` signed by the cluster CA for the node's name and address. kubeadm
never renews these files: the kubelet rotates its own client certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.files import CERT_MODE, KEY_MODE, TreeWriter, ensure_dir, replace_link, write_atomic
from kubecert.reference.pki.issue import CertTemplate, cert_pem, sign, utc
from kubecert.reference.pki.keys import KeyFactory, PrivateKey, load_private_key, private_key_pem, public_key_pem

KUBELET_FOLDER = "kubelet"  # below a node's root: what the node calls /var/lib/kubelet
FOLDER_MODE = 0o700  # kubeadm: os.MkdirAll(kubeletDir, 0700)
PKI_MODE = 0o755
CONFIG_MODE = 0o644  # kubeadm: os.WriteFile(config.yaml, 0644)
DATED_MODE = 0o600  # the certificate store writes certificate and key together
KUBELET_KEY_ALGORITHM = "ECDSA-P256"  # the key the kubelet makes for its CSRs
SELF_SIGNED_KEY_ALGORITHM = "RSA-2048"  # client-go certutil's, whatever kubeadm's encryptionAlgorithm
SIGNER_BACKDATE = dt.timedelta(minutes=5)  # kube-controller-manager's CSR signer
SELF_SIGNED_BACKDATE = dt.timedelta(hours=1)  # certutil: "valid an hour earlier to avoid flakes due to clock skew"
SELF_SIGNED_DAYS = 365
SIGNING_DURATION = dt.timedelta(hours=8760)  # --cluster-signing-duration's default

FRESH, STARTED, FINALIZED, ROTATED = "fresh", "started", "finalized", "rotated"
KUBELET_STATES: tuple[str, ...] = (FRESH, STARTED, FINALIZED, ROTATED)  # init's kubelet states, in order
EMBEDDING_STATES = frozenset({FRESH, STARTED})  # kubelet.conf embeds kubeadm's client certificate


def kubelet_config(*, dns_domain: str, cluster_dns: str, server_tls_bootstrap: bool = False) -> dict[str, Any]:
    """The KubeletConfiguration kubeadm writes, reduced to what concerns certificates and the node's PKI."""
    document: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"cacheTTL": "0s", "enabled": True},
            "x509": {"clientCAFile": f"{layout.NODE_PKI_DIR}/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "systemd",
        "clusterDNS": [cluster_dns],
        "clusterDomain": dns_domain,
        "kind": "KubeletConfiguration",
        "rotateCertificates": True,
        "staticPodPath": "/etc/kubernetes/manifests",
    }
    if server_tls_bootstrap:
        document["serverTLSBootstrap"] = True
    return document


def signed_by_cluster(ca: tuple[x509.Certificate, PrivateKey], *, node: str, key: PrivateKey, now: dt.datetime,
                      serving_address: str | None = None, duration: dt.timedelta = SIGNING_DURATION
                      ) -> x509.Certificate:
    """A kubelet certificate as the CSR signer issues it: the client one, or with ``serving_address`` the
    serving one (signer kubelet-serving: the node's name and address as SANs). Never past the CA's end."""
    ca_cert, ca_key = ca
    start = utc(now)
    not_after = min(start + duration - SIGNER_BACKDATE, ca_cert.not_valid_after_utc)
    serving = serving_address is not None
    template = CertTemplate(
        cn=f"{layout.NODE_USER_PREFIX}{node}", orgs=(layout.NODES_GROUP,), not_before=start - SIGNER_BACKDATE,
        not_after=not_after, eku=(layout.SERVER_AUTH,) if serving else (layout.CLIENT_AUTH,),
        dns=(node,) if serving else (), ips=(ipaddress.ip_address(serving_address),) if serving_address else (),
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),  # the usages the kubelet's CSR asks for
    )
    return sign(template, public_key=key.public_key(), signer_key=ca_key, issuer=ca_cert)


def self_signed_serving(host: str, *, keys: KeyFactory, now: dt.datetime, days: int = SELF_SIGNED_DAYS
                        ) -> tuple[x509.Certificate, x509.Certificate, PrivateKey]:
    """The serving certificate the kubelet signs itself at start-up, the throw-away CA that signed it, and the
    certificate's key (the CA's key is thrown away)."""
    start = utc(now) - SELF_SIGNED_BACKDATE
    end = start + dt.timedelta(days=days)
    stamp = int(utc(now).timestamp())
    ca_key, key = keys.new_key(SELF_SIGNED_KEY_ALGORITHM), keys.new_key(SELF_SIGNED_KEY_ALGORITHM)
    ca_template = CertTemplate(cn=f"{host}-ca@{stamp}", not_before=start, not_after=end, is_ca=True, serial=1)
    ca = sign(ca_template, public_key=ca_key.public_key(), signer_key=ca_key)
    try:
        names: dict[str, Any] = {"ips": (ipaddress.ip_address(host),)}
    except ValueError:
        names = {"dns": (host,)}
    template = CertTemplate(cn=f"{host}@{stamp}", not_before=start, not_after=end, eku=(layout.SERVER_AUTH,),
                            serial=2, **names)
    return sign(template, public_key=key.public_key(), signer_key=ca_key, issuer=ca), ca, key


def combined_pem(cert: x509.Certificate, key: PrivateKey) -> bytes:
    """A certificate store file: the certificate, then its key."""
    return cert_pem(cert) + private_key_pem(key)


class KubeletTree:
    """The kubelet folder below a node's root, addressed as the kubelet names its files."""

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / KUBELET_FOLDER
        self.pki_dir = self.folder / "pki"
        self.config_path = self.folder / layout.KUBELET_CONFIG
        self.serving_cert_path = self.pki_dir / layout.KUBELET_SERVING_CERT
        self.serving_key_path = self.pki_dir / layout.KUBELET_SERVING_KEY

    def config(self) -> dict[str, Any]:
        document = yaml.safe_load(self.config_path.read_bytes())
        if not isinstance(document, dict):
            raise ValueError(f"{self.config_path} is not a KubeletConfiguration")
        return document

    def write_config(self, document: dict[str, Any], out: TreeWriter | None = None) -> None:
        data = yaml.safe_dump(document, default_flow_style=False, sort_keys=False).encode()
        ensure_dir(self.folder, FOLDER_MODE)
        self._write(self.config_path, data, CONFIG_MODE, out)

    def current_path(self, kind: str) -> Path:
        """``kubelet-<kind>-current.pem`` (kind: client, server)."""
        return self.pki_dir / f"kubelet-{kind}-current.pem"

    def current_file(self, kind: str) -> Path:
        """The file in this folder that ``kubelet-<kind>-current.pem`` stands for. The kubelet's absolute link
        into /var/lib/kubelet/pki names the file of that name here: the machine's own folder is never read."""
        link = self.current_path(kind)
        if not link.is_symlink():
            return link
        target = PurePosixPath(os.readlink(link))
        if target.is_absolute() and target.parent != PurePosixPath(layout.KUBELET_CERT_DIR):
            raise ReferenceUsageError(f"{link} links to {target}, outside {layout.KUBELET_CERT_DIR}")
        if not target.is_absolute() and len(target.parts) != 1:
            raise ReferenceUsageError(f"{link} links to {target}, not to a file beside it")
        return self.pki_dir / target.name

    def current(self, kind: str) -> tuple[x509.Certificate, PrivateKey]:
        data = self.current_file(kind).read_bytes()
        return x509.load_pem_x509_certificate(data), load_private_key(data, validate=False)

    def write_dated(self, kind: str, cert: x509.Certificate, key: PrivateKey, *, at: dt.datetime,
                    current: bool = True, absolute: bool | None = None, out: TreeWriter | None = None) -> Path:
        """Store ``cert`` and ``key`` as the certificate store does at ``at``, and point ``current`` at it: by
        an absolute path into /var/lib/kubelet/pki as the kubelet does, or by name; ``absolute`` None keeps
        the way the link there already points."""
        ensure_dir(self.pki_dir, PKI_MODE)
        path = self.pki_dir / layout.dated_pem(kind, utc(at))
        self._write(path, combined_pem(cert, key), DATED_MODE, out)
        link = self.current_path(kind)
        if absolute is None:
            absolute = link.is_symlink() and os.readlink(link).startswith("/")
        target = f"{layout.KUBELET_CERT_DIR}/{path.name}" if absolute else path.name
        if current and out is not None:
            out.link(link, target)
        elif current:
            replace_link(link, target)
        return path

    def write_serving(self, cert: x509.Certificate, signer: x509.Certificate, key: PrivateKey,
                      out: TreeWriter | None = None) -> None:
        ensure_dir(self.pki_dir, PKI_MODE)
        self._write(self.serving_cert_path, cert_pem(cert) + cert_pem(signer), CERT_MODE, out)
        self._write(self.serving_key_path, private_key_pem(key), KEY_MODE, out)

    def serving(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.serving_cert_path.read_bytes())

    def public_keys(self) -> set[bytes]:
        """The PEM public half of every private key in the folder: to draw a key that is not among them."""
        found: set[bytes] = set()
        for path in sorted(self.pki_dir.glob("*")) if self.pki_dir.is_dir() else []:
            if path.is_symlink() or not path.is_file():
                continue
            try:
                found.add(public_key_pem(load_private_key(path.read_bytes(), validate=False)))
            except (OSError, ValueError):
                continue  # a certificate alone, or no key at all
        return found

    @staticmethod
    def _write(path: Path, data: bytes, mode: int, out: TreeWriter | None) -> None:
        if out is not None:
            out.write(path, data, mode)
        else:
            write_atomic(path, data, mode)


def write_kubelet_folder(out: TreeWriter, ca: tuple[x509.Certificate, PrivateKey], *, node: str, address: str,
                         dns_domain: str, cluster_dns: str, keys: KeyFactory, now: dt.datetime,
                         server_tls_bootstrap: bool = False, state: str = ROTATED,
                         kubeadm_client: tuple[x509.Certificate, PrivateKey] | None = None) -> None:
    """The kubelet folder of the node at ``out.root`` in ``state``; ``kubeadm_client`` is the client certificate
    and key kubeadm embedded in kubelet.conf, which the kubelet keeps until it first rotates."""
    tree = KubeletTree(out.root)
    out.log.append(f'[kubelet-start] Writing kubelet configuration to file "{tree.config_path}"')
    tree.write_config(kubelet_config(dns_domain=dns_domain, cluster_dns=cluster_dns,
                                     server_tls_bootstrap=server_tls_bootstrap), out)
    if state == FRESH:
        return  # the kubelet has not run: it makes its certificate folder when it starts
    ensure_dir(tree.pki_dir, PKI_MODE)
    if state == ROTATED:
        key = keys.new_key(KUBELET_KEY_ALGORITHM)
        tree.write_dated("client", signed_by_cluster(ca, node=node, key=key, now=now), key, at=now, out=out)
    elif kubeadm_client is None:
        raise ValueError(f"the kubelet state {state!r} keeps kubeadm's client certificate: give kubeadm_client")
    else:
        tree.write_dated("client", *kubeadm_client, at=now, absolute=True, out=out)
    if server_tls_bootstrap:
        serving_key = keys.new_key(KUBELET_KEY_ALGORITHM)
        serving = signed_by_cluster(ca, node=node, key=serving_key, now=now, serving_address=address)
        tree.write_dated("server", serving, serving_key, at=now, out=out)
    else:
        tree.write_serving(*self_signed_serving(node, keys=keys, now=now), out=out)
