"""What differs between the kubeadm releases the reference stands for: v1.28 and later.

From kubeadm's history (kubernetes/kubernetes), and as real kubeadm v1.28.7 was seen to write:

- v1.28: admin.conf, apiserver-kubelet-client, apiserver-etcd-client and etcd/healthcheck-client are
  ``O=system:masters`` and there is no super-admin.conf; v1.29 moved admin.conf and
  apiserver-kubelet-client to ``kubeadm:cluster-admins``, dropped the etcd clients' O and added
  super-admin.conf (``system:masters``) on the first control-plane node.
- Up to v1.30 a leaf's NotBefore is its CA's NotBefore (pkiutil.NewSignedCert), at issuance and at
  renewal, and only NotAfter follows the signing time; from v1.31 (PR #124652) NotBefore is the signing
  time − 5 minutes. Every supported release backdates a new CA 5 minutes (PR #118922, v1.28).
- Up to v1.30 the kubeconfigs' client keys are RSA-2048 whatever the cluster's key type (kubeadm issue
  3072, fixed in v1.31 by PR #125388), and the only key types are RSA-2048 and, through the
  PublicKeysECDSA feature gate, ECDSA-P256; v1.31's encryptionAlgorithm adds RSA-3072/4096 (and the
  reference accepts ECDSA-P384 there too, which kubeadm offers from v1.34).
- ``certs check-expiration -o json|yaml`` came with v1.30 (PR #123372); before, text only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError

DEFAULT_VERSION = "v1.31.0"
OLDEST_MINOR = 28
_VERSION = re.compile(r"v1\.(\d{1,3})\.(\d{1,4})")
_IMAGE = re.compile(rb"image: *registry\.k8s\.io/kube-apiserver:(v1\.\d{1,3}\.\d{1,4})\b")
_MANIFEST_BYTES = 64 * 1024  # a kube-apiserver manifest is a few KiB; the tag is read from its start only
_PRE_V131_KEYS = ("RSA-2048", "ECDSA-P256")


@dataclass(frozen=True)
class KubeadmVersion:
    """A kubeadm release, ``v1.<minor>.<patch>``, and what it writes."""

    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> KubeadmVersion:
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ReferenceUsageError(
                f"Kubernetes version {text!r} is not of the form v1.MINOR.PATCH (e.g. {DEFAULT_VERSION})")
        version = cls(int(match.group(1)), int(match.group(2)))
        if version.minor < OLDEST_MINOR:
            raise ReferenceUsageError(f"Kubernetes version {text!r} is older than the reference writes: "
                                      f"v1.{OLDEST_MINOR}.0 and later")
        return version

    @classmethod
    def of_tree(cls, root: Path) -> KubeadmVersion:
        """The version a tree was made by: its kube-apiserver manifest's image tag, else the default."""
        manifest = Path(root) / "manifests" / "kube-apiserver.yaml"
        try:
            with manifest.open("rb") as handle:
                head = handle.read(_MANIFEST_BYTES)
        except OSError:
            return cls.parse(DEFAULT_VERSION)
        match = _IMAGE.search(head)
        try:
            return cls.parse(match.group(1).decode()) if match else cls.parse(DEFAULT_VERSION)
        except ReferenceUsageError:
            return cls.parse(DEFAULT_VERSION)

    def __str__(self) -> str:
        return f"v1.{self.minor}.{self.patch}"

    @property
    def has_super_admin(self) -> bool:
        return self.minor >= 29

    @property
    def leaf_not_before_is_cas(self) -> bool:
        """Up to v1.30 a leaf starts when its CA does, however long after the CA it is signed."""
        return self.minor < 31

    @property
    def expiration_formats(self) -> tuple[str, ...]:
        """The ``-o`` values of ``certs check-expiration``."""
        return ("text", "json", "yaml") if self.minor >= 30 else ("text",)

    def orgs(self, name: str) -> tuple[str, ...]:
        """The subject's O of certificate or kubeconfig ``name`` in this release."""
        if self.minor < 29 and (name in layout.LEGACY_MASTERS_LEAVES or name == "admin.conf"):
            return (layout.SYSTEM_MASTERS,)
        spec = layout.KUBECONFIGS_BY_NAME.get(name)
        return spec.orgs if spec is not None else layout.CERTS_BY_NAME[name].orgs

    def key_algorithms(self, all_algorithms: tuple[str, ...]) -> tuple[str, ...]:
        return all_algorithms if self.minor >= 31 else _PRE_V131_KEYS

    def kubeconfig_key_algorithm(self, cluster_algorithm: str) -> str:
        """The type of a kubeconfig's client key: the cluster's from v1.31, RSA-2048 before."""
        return cluster_algorithm if self.minor >= 31 else "RSA-2048"

    def renewed(self, external_etcd: bool) -> tuple[str, ...]:
        """What ``certs renew all`` goes through, sorted by name: super-admin.conf from v1.29."""
        return tuple(
            name for name in layout.RENEWED
            if not (external_etcd and name in layout.CERTS_BY_NAME and layout.CERTS_BY_NAME[name].etcd)
            and (self.has_super_admin or name != "super-admin.conf")
        )
