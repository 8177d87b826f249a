"""The kubelet's folder of a kubeadm node (/var/lib/kubelet), as it is once the kubelet has bootstrapped.

kubeadm writes config.yaml (0644, in a 0700 folder) with ``rotateCertificates: true``. The kubelet's
client certificate comes from the cluster CA through kube-controller-manager's CSR signer: an ECDSA P-256
key of the kubelet's own, ``CN=system:node:<node>``, ``O=system:nodes``, clientAuth, NotBefore five
minutes back and valid exactly the signing duration (default 8760h). The kubelet's certificate store
keeps certificate and key in one dated file (0600) and points ``kubelet-client-current.pem`` at it. Its
serving certificate, unless ``serverTLSBootstrap`` is set, is signed at start-up by a throw-away CA of its
own (client-go certutil: RSA-2048, NotBefore an hour back, a year long, ``kubelet.crt`` holding the leaf
then that CA, ``kubelet.key`` 0600); with ``serverTLSBootstrap`` it is a dated ``kubelet-server-*.pem``
signed by the cluster CA for the node's name and address.

The kubelet links ``*-current.pem`` with an absolute path into /var/lib/kubelet/pki; the reference links
by the file's name, so a copy of the tree stays whole wherever it is put. kubeadm never renews these
files: the kubelet rotates its own client certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from kubecert import layout
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

    def current(self, kind: str) -> tuple[x509.Certificate, PrivateKey]:
        data = self.current_path(kind).read_bytes()
        return x509.load_pem_x509_certificate(data), load_private_key(data, validate=False)

    def write_dated(self, kind: str, cert: x509.Certificate, key: PrivateKey, *, at: dt.datetime,
                    current: bool = True, out: TreeWriter | None = None) -> Path:
        """Store ``cert`` and ``key`` as the certificate store does at ``at``, and point ``current`` at it."""
        ensure_dir(self.pki_dir, PKI_MODE)
        path = self.pki_dir / layout.dated_pem(kind, utc(at))
        self._write(path, combined_pem(cert, key), DATED_MODE, out)
        if current and out is not None:
            out.link(self.current_path(kind), path.name)
        elif current:
            replace_link(self.current_path(kind), path.name)
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
                         server_tls_bootstrap: bool = False) -> None:
    """The kubelet folder of the node at ``out.root`` once the kubelet has started and bootstrapped."""
    tree = KubeletTree(out.root)
    out.log.append(f'[kubelet-start] Writing kubelet configuration to file "{tree.config_path}"')
    tree.write_config(kubelet_config(dns_domain=dns_domain, cluster_dns=cluster_dns,
                                     server_tls_bootstrap=server_tls_bootstrap), out)
    ensure_dir(tree.pki_dir, PKI_MODE)
    key = keys.new_key(KUBELET_KEY_ALGORITHM)
    tree.write_dated("client", signed_by_cluster(ca, node=node, key=key, now=now), key, at=now, out=out)
    if server_tls_bootstrap:
        serving_key = keys.new_key(KUBELET_KEY_ALGORITHM)
        serving = signed_by_cluster(ca, node=node, key=serving_key, now=now, serving_address=address)
        tree.write_dated("server", serving, serving_key, at=now, out=out)
    else:
        tree.write_serving(*self_signed_serving(node, keys=keys, now=now), out=out)
