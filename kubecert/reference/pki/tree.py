"""A kubeadm /etc/kubernetes tree on disk, addressed by kubeadm's names (``apiserver``, ``admin.conf``).

Reading and writing whole certificates, keys and kubeconfigs with kubeadm's modes; what faults and
renewal build on. Paths come from kubecert.layout, the one table of kubeadm's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509

from kubecert import layout
from kubecert.reference.pki.files import CERT_MODE, KEY_MODE, KUBECONFIG_MODE, write_atomic
from kubecert.reference.pki.issue import cert_pem
from kubecert.reference.pki.keys import PrivateKey, load_private_key, private_key_pem, public_key_pem
from kubecert.reference.pki.kubeconfig import (
    current_cluster,
    current_user,
    decode_data,
    parse_kubeconfig,
    render_kubeconfig,
)


class PkiTree:
    """The tree rooted at ``root`` (what a node calls /etc/kubernetes)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.pki_dir = self.root / "pki"
        self.manifests_dir = self.root / "manifests"

    # --- certificates and keys under pki/

    def cert_path(self, name: str) -> Path:
        return self.pki_dir / f"{layout.CERTS_BY_NAME[name].path}.crt"

    def key_path(self, name: str) -> Path:
        return self.pki_dir / f"{layout.CERTS_BY_NAME[name].path}.key"

    @property
    def sa_key_path(self) -> Path:
        return self.pki_dir / layout.SA_KEY

    @property
    def sa_pub_path(self) -> Path:
        return self.pki_dir / layout.SA_PUB

    def cert(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path(name).read_bytes())

    def key(self, name: str) -> PrivateKey:
        return load_private_key(self.key_path(name).read_bytes())

    def write_cert(self, name: str, cert: x509.Certificate) -> None:
        write_atomic(self.cert_path(name), cert_pem(cert), CERT_MODE)

    def write_key(self, name: str, key: PrivateKey) -> None:
        write_atomic(self.key_path(name), private_key_pem(key), KEY_MODE)

    # --- kubeconfigs beside pki/

    def kubeconfig_path(self, name: str) -> Path:
        return self.root / layout.KUBECONFIGS_BY_NAME[name].name

    def kubeconfig(self, name: str) -> dict[str, Any]:
        return parse_kubeconfig(self.kubeconfig_path(name).read_bytes())

    def write_kubeconfig(self, name: str, document: dict[str, Any]) -> None:
        write_atomic(self.kubeconfig_path(name), render_kubeconfig(document), KUBECONFIG_MODE)

    def kubeconfig_client(self, name: str, *, validate: bool = True) -> tuple[x509.Certificate, PrivateKey]:
        """The embedded client certificate and key of a kubeconfig's current user."""
        user = current_user(self.kubeconfig(name))
        cert = x509.load_pem_x509_certificate(decode_data(user["client-certificate-data"]))
        return cert, load_private_key(decode_data(user["client-key-data"]), validate=validate)

    def kubeconfig_ca(self, name: str) -> x509.Certificate:
        cluster = current_cluster(self.kubeconfig(name))
        return x509.load_pem_x509_certificate(decode_data(cluster["certificate-authority-data"]))

    # --- facts of the whole tree

    def node_name(self) -> str | None:
        """The node this tree belongs to, from kubelet.conf's user (``system:node:<node>``)."""
        try:
            document = self.kubeconfig("kubelet.conf")
            user = next(c["context"]["user"] for c in document["contexts"] if c["name"] == document["current-context"])
        except (OSError, KeyError, StopIteration, ValueError):
            return None
        return str(user).removeprefix("system:node:") if str(user).startswith("system:node:") else None

    def public_keys(self) -> set[bytes]:
        """The PEM public half of every private key in the tree: to draw a key that is not among them."""
        found: set[bytes] = set()
        for path in sorted(self.pki_dir.rglob("*.key")):
            try:
                found.add(public_key_pem(load_private_key(path.read_bytes(), validate=False)))
            except (OSError, ValueError):
                continue
        for spec in layout.KUBECONFIGS:
            try:
                found.add(public_key_pem(self.kubeconfig_client(spec.name, validate=False)[1]))
            except (OSError, KeyError, ValueError, TypeError):
                continue
        return found
