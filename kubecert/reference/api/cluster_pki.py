"""The credentials of the reference's Kubernetes-style API (cluster_api.py): a CA of its own, a serving
certificate for the loopback names and a cluster-admin client certificate, kept beside the state (made on
first use, reused after a restart), and the kubeconfig that reaches the API with them, embedded, as
``kubectl config view --raw --flatten`` writes one (so kubecert needs no opt-in to read files it names).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kubecert.layout import CLUSTER_ADMINS
from kubecert.reference.api.tls import DEFAULT_NAMES, is_ip
from kubecert.reference.pki.files import CERT_MODE, KEY_MODE, KUBECONFIG_MODE, ensure_dir, write_atomic
from kubecert.reference.pki.issue import CertTemplate, cert_pem, sign
from kubecert.reference.pki.keys import load_private_key, private_key_pem
from kubecert.reference.pki.kubeconfig import kubeconfig_document, render_kubeconfig

ADMIN_USER = "kubernetes-admin"
_DAYS = 3650


@dataclass(frozen=True)
class ClusterPki:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def serving(self) -> tuple[Path, Path]:
        return self.folder / "apiserver.crt", self.folder / "apiserver.key"

    @property
    def admin(self) -> tuple[Path, Path]:
        return self.folder / "admin.crt", self.folder / "admin.key"

    def kubeconfig(self, server: str) -> bytes:
        """A kubeconfig of the cluster-admin for ``server``, with every credential embedded."""
        cert, key = self.admin
        document = kubeconfig_document(server=server, ca_pem=self.ca.read_bytes(), user=ADMIN_USER,
                                       client_cert_pem=cert.read_bytes(), client_key_pem=key.read_bytes())
        return render_kubeconfig(document)

    def write_kubeconfig(self, path: Path, server: str) -> Path:
        write_atomic(path, self.kubeconfig(server), KUBECONFIG_MODE)
        return path


def cluster_pki(folder: Path, *, now: dt.datetime | None = None) -> ClusterPki:
    """The files in ``folder`` (0700), made once."""
    ensure_dir(folder, 0o700)
    pki = ClusterPki(folder)
    ca_key_file = folder / "ca.key"
    if all(p.exists() for p in (pki.ca, ca_key_file, *pki.serving, *pki.admin)):
        return pki
    moment = now or dt.datetime.now(dt.UTC)
    start, end = moment - dt.timedelta(minutes=5), moment + dt.timedelta(days=_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = sign(CertTemplate(cn="kubernetes", not_before=start, not_after=end, dns=("kubernetes",), is_ca=True),
              public_key=ca_key.public_key(), signer_key=ca_key)
    write_atomic(ca_key_file, private_key_pem(ca_key), KEY_MODE)
    write_atomic(pki.ca, cert_pem(ca), CERT_MODE)
    names = tuple(n for n in DEFAULT_NAMES if not is_ip(n))
    ips = tuple(ipaddress.ip_address(n) for n in DEFAULT_NAMES if is_ip(n))
    _leaf(pki.serving, CertTemplate(cn="kube-apiserver", not_before=start, not_after=end, dns=names, ips=ips,
                                    eku=("serverAuth",)), ca, folder)
    _leaf(pki.admin, CertTemplate(cn=ADMIN_USER, not_before=start, not_after=end, orgs=(CLUSTER_ADMINS,),
                                  eku=("clientAuth",)), ca, folder)
    return pki


def _leaf(files: tuple[Path, Path], template: CertTemplate, ca: x509.Certificate, folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = load_private_key((folder / "ca.key").read_bytes())
    write_atomic(files[1], private_key_pem(key), KEY_MODE)
    write_atomic(files[0], cert_pem(sign(template, public_key=key.public_key(), signer_key=signer, issuer=ca)),
                 CERT_MODE)

