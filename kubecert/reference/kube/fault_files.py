"""The files the reference cluster's faults need beside the node trees, kept in the cluster's
``faults/`` folder so that every node tree stays exactly as kubeadm writes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from kubecert.reference.pki.files import CERT_MODE, KEY_MODE, write_atomic
from kubecert.reference.pki.issue import cert_pem, issue_ca, sign, template_of
from kubecert.reference.pki.join import shared_files
from kubecert.reference.pki.keys import KeyFactory, private_key_pem
from kubecert.reference.pki.kubelet import SELF_SIGNED_BACKDATE, KubeletTree, self_signed_serving
from kubecert.reference.pki.tree import PkiTree

_CLUSTER_CA_CN = "kubernetes"  # another CA named as kubeadm names the cluster CA: only its key tells it apart


class FaultFiles:
    def __init__(self, folder: Path, keys: KeyFactory, clock: Callable[[], dt.datetime]) -> None:
        self.folder = Path(folder)
        self.keys = keys
        self.clock = clock
        self._lock = threading.Lock()

    def other_ca_pem(self, key_algorithm: str, ca_days: int) -> bytes:
        """A CA that is not the cluster's, made on first use (its key is not kept: nothing signs with it)."""
        path = self.folder / "other-ca.crt"
        with self._lock:
            if not path.is_file():
                key = self.keys.new_key(key_algorithm)
                cert = issue_ca(cn=_CLUSTER_CA_CN, key=key, now=self.clock(), ca_days=ca_days)
                write_atomic(path, cert_pem(cert), CERT_MODE)
            return path.read_bytes()

    def served(self, node: str) -> tuple[Path, Path]:
        """The certificate and key a node's API server serves under served-cert-without-service-san."""
        folder = self.folder / "served" / node
        return folder / "apiserver.crt", folder / "apiserver.key"

    def refresh_served(self, trees: Mapping[str, Path]) -> None:
        """Remake each node's served copy from its apiserver.crt: same key, dates and issuer, without the
        in-cluster service name kubernetes.default.svc.<domain> among the DNS SANs."""
        with self._lock:
            for node, root in trees.items():
                tree = PkiTree(root)
                original = tree.cert("apiserver")
                template = template_of(original)
                dropped = tuple(name for name in template.dns if not name.startswith("kubernetes.default.svc."))
                template = dataclasses.replace(template, dns=dropped)
                key = tree.key("apiserver")
                cert = sign(template, public_key=key.public_key(), signer_key=tree.key("ca"), issuer=tree.cert("ca"))
                cert_path, key_path = self.served(node)
                write_atomic(key_path, tree.key_path("apiserver").read_bytes(), KEY_MODE)
                write_atomic(cert_path, cert_pem(cert), CERT_MODE)

    def stale_kubelet_serving(self, node: str, kubelet: KubeletTree) -> tuple[Path, Path]:
        """The serving certificate (and key) the node's kubelet made when it started, a day before the kubelet.crt
        on its disk: what it serves under kubelet-serves-old-certificate. Made on first use."""
        folder = self.folder / "kubelet" / node
        cert_path, key_path = folder / "kubelet.crt", folder / "kubelet.key"
        with self._lock:
            if not cert_path.is_file():
                started = kubelet.serving().not_valid_before_utc + SELF_SIGNED_BACKDATE  # when it made kubelet.crt
                cert, signer, key = self_signed_serving(node, keys=self.keys, now=started - dt.timedelta(days=1))
                write_atomic(key_path, private_key_pem(key), KEY_MODE)
                write_atomic(cert_path, cert_pem(cert) + cert_pem(signer), CERT_MODE)
        return cert_path, key_path

    @staticmethod
    def source_with_own_ca(first: Path, staging: Path, keys: KeyFactory, now: dt.datetime, *, key_algorithm: str,
                           ca_days: int) -> Path:
        """A copy of the first node's shared files whose cluster CA is replaced by a new one: what a node
        joined with under node-ca-differs copies. The caller removes ``staging``."""
        source, target = PkiTree(first), PkiTree(staging)
        if staging.exists():
            shutil.rmtree(staging)
        for path in shared_files(source, external_etcd=not source.cert_path("etcd-ca").exists()):
            write_atomic(target.root / path.relative_to(source.root), path.read_bytes(), KEY_MODE)
        key = keys.new_key(key_algorithm)
        target.write_key("ca", key)
        target.write_cert("ca", issue_ca(cn=_CLUSTER_CA_CN, key=key, now=now, ca_days=ca_days))
        return staging
