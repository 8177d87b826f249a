"""What kubeadm (v1.31+) puts in /etc/kubernetes, and what the kubelet keeps in /var/lib/kubelet: one table
read by the loader, the rules and the reference.

Sources: kubeadm's cmd/kubeadm/app/phases/certs (certlist.go) and phases/kubeconfig. Templated fields
use ``{node}`` for the node name. Names are kubeadm's own short names, as ``kubeadm certs
check-expiration`` prints them; ``palette_name`` is how Palette's API names the same certificate.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

SERVER_AUTH = "serverAuth"
CLIENT_AUTH = "clientAuth"

# kubeadm v1.29+ puts admin identities in this group; older clusters used system:masters.
CLUSTER_ADMINS = "kubeadm:cluster-admins"
SYSTEM_MASTERS = "system:masters"


@dataclass(frozen=True)
class CertSpec:
    """One certificate kubeadm manages: where it lives, who signs it, what it says."""

    name: str
    path: str  # below the pki folder, without the .crt/.key suffix
    ca: str | None  # issuing CA's name; None for a CA
    cn: str
    orgs: tuple[str, ...] = ()
    eku: tuple[str, ...] = ()
    palette_name: str = ""
    long_name: str = ""  # kubeadm's wording in `certs renew` output
    etcd: bool = False  # absent with external etcd

    @property
    def is_ca(self) -> bool:
        return self.ca is None

    def common_name(self, node: str) -> str:
        return self.cn.replace("{node}", node)


@dataclass(frozen=True)
class KubeconfigSpec:
    """One kubeconfig file kubeadm writes beside the pki folder."""

    name: str  # file name, e.g. admin.conf
    cn: str
    orgs: tuple[str, ...]
    legacy_orgs: tuple[str, ...] = ()  # accepted (and reported) for clusters made before v1.29
    required: bool = True
    embeds_client_cert: bool = True
    renewed: bool = True
    long_name: str = ""

    def common_name(self, node: str) -> str:
        return self.cn.replace("{node}", node)


CAS: tuple[CertSpec, ...] = (
    CertSpec("ca", "ca", None, "kubernetes", palette_name="ca"),
    CertSpec("front-proxy-ca", "front-proxy-ca", None, "front-proxy-ca", palette_name="front-proxy-ca"),
    CertSpec("etcd-ca", "etcd/ca", None, "etcd-ca", palette_name="etcd-ca", etcd=True),
)

LEAVES: tuple[CertSpec, ...] = (
    CertSpec(
        "apiserver", "apiserver", "ca", "kube-apiserver", (), (SERVER_AUTH,),
        "kube-apiserver", "certificate for serving the Kubernetes API",
    ),
    CertSpec(
        "apiserver-kubelet-client", "apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client",
        (CLUSTER_ADMINS,), (CLIENT_AUTH,),
        "kube-apiserver-kubelet-client", "certificate for the API server to connect to kubelet",
    ),
    CertSpec(
        "front-proxy-client", "front-proxy-client", "front-proxy-ca", "front-proxy-client", (),
        (CLIENT_AUTH,), "front-proxy-client", "certificate for the front proxy client",
    ),
    CertSpec(
        "apiserver-etcd-client", "apiserver-etcd-client", "etcd-ca", "kube-apiserver-etcd-client", (),
        (CLIENT_AUTH,), "kube-apiserver-etcd-client", "certificate the apiserver uses to access etcd",
        etcd=True,
    ),
    CertSpec(
        "etcd-healthcheck-client", "etcd/healthcheck-client", "etcd-ca", "kube-etcd-healthcheck-client",
        (), (CLIENT_AUTH,), "kube-etcd-healthcheck-client",
        "certificate for liveness probes to healthcheck etcd", etcd=True,
    ),
    CertSpec(
        "etcd-peer", "etcd/peer", "etcd-ca", "{node}", (), (SERVER_AUTH, CLIENT_AUTH), "kube-etcd-peer",
        "certificate for etcd nodes to communicate with each other", etcd=True,
    ),
    CertSpec(
        "etcd-server", "etcd/server", "etcd-ca", "{node}", (), (SERVER_AUTH, CLIENT_AUTH),
        "kube-etcd-server", "certificate for serving etcd", etcd=True,
    ),
)

# Leaves whose O was system:masters before kubeadm v1.29 (kubeadm's certlist.go history); accepted and reported.
LEGACY_MASTERS_LEAVES = frozenset({"apiserver-kubelet-client", "apiserver-etcd-client", "etcd-healthcheck-client"})

KUBECONFIGS: tuple[KubeconfigSpec, ...] = (
    KubeconfigSpec(
        "admin.conf", "kubernetes-admin", (CLUSTER_ADMINS,), (SYSTEM_MASTERS,),
        long_name="certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself",
    ),
    KubeconfigSpec(
        "super-admin.conf", "kubernetes-super-admin", (SYSTEM_MASTERS,), required=False,
        long_name="certificate embedded in the kubeconfig file for the super-admin",
    ),
    KubeconfigSpec(
        "controller-manager.conf", "system:kube-controller-manager", (),
        long_name="certificate embedded in the kubeconfig file for the controller manager to use",
    ),
    KubeconfigSpec(
        "scheduler.conf", "system:kube-scheduler", (),
        long_name="certificate embedded in the kubeconfig file for the scheduler manager to use",
    ),
    KubeconfigSpec(
        "kubelet.conf", "system:node:{node}", ("system:nodes",), embeds_client_cert=False, renewed=False,
    ),
)

SA_KEY = "sa.key"
SA_PUB = "sa.pub"
DEFAULT_DNS_DOMAIN = "cluster.local"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
NODE_PKI_DIR = "/etc/kubernetes/pki"  # where kubeadm keeps the PKI on a real node
# The static pod manifests kubeadm writes on a control-plane node only.
CONTROL_PLANE_MANIFESTS = ("etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml")

CERTS: tuple[CertSpec, ...] = CAS + LEAVES
CERTS_BY_NAME: dict[str, CertSpec] = {spec.name: spec for spec in CERTS}
KUBECONFIGS_BY_NAME: dict[str, KubeconfigSpec] = {spec.name: spec for spec in KUBECONFIGS}
PALETTE_TO_KUBEADM: dict[str, str] = {spec.palette_name: spec.name for spec in CERTS}


def leaves_of(ca: str) -> tuple[CertSpec, ...]:
    return tuple(spec for spec in LEAVES if spec.ca == ca)


def expected_certs(external_etcd: bool = False) -> tuple[CertSpec, ...]:
    return tuple(spec for spec in CERTS if not (external_etcd and spec.etcd))


# What `kubeadm certs renew` renews: every leaf and the kubeconfig client certificates, never a CA or
# kubelet.conf; in the order kubeadm's renewal manager lists them (sorted by name).
RENEWED: tuple[str, ...] = tuple(sorted([spec.name for spec in LEAVES] + [k.name for k in KUBECONFIGS if k.renewed]))


def issuer_of(name: str) -> str | None:
    """The CA that signs ``name`` (a leaf or a kubeconfig); None for a CA or an unknown name."""
    if name in KUBECONFIGS_BY_NAME:
        return "ca" if KUBECONFIGS_BY_NAME[name].embeds_client_cert else None
    spec = CERTS_BY_NAME.get(name)
    return spec.ca if spec is not None else None


def long_name_of(name: str) -> str:
    """kubeadm's wording for ``name`` in renew output."""
    if name in KUBECONFIGS_BY_NAME:
        return KUBECONFIGS_BY_NAME[name].long_name or name
    return CERTS_BY_NAME[name].long_name or name


# `kubeadm upgrade apply|node` with certificate renewal on (cmd/kubeadm/app/phases/upgrade/staticpods.go,
# renewCertsByComponent): each component's certificates before its static pod is replaced, etcd first and
# only for local etcd, then admin.conf. super-admin.conf and kubelet.conf are not renewed by an upgrade.
UPGRADE_COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("etcd", ("etcd-server", "etcd-peer", "etcd-healthcheck-client")),
    ("kube-apiserver", ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client")),
    ("kube-controller-manager", ("controller-manager.conf",)),
    ("kube-scheduler", ("scheduler.conf",)),
)
UPGRADE_RENEWS_AFTER_COMPONENTS: tuple[str, ...] = ("admin.conf",)


def upgrade_renews(external_etcd: bool = False) -> tuple[str, ...]:
    """Every certificate an upgrade with certificate renewal renews, in kubeadm's order."""
    names = [name for _, names in UPGRADE_COMPONENTS for name in names]
    names += UPGRADE_RENEWS_AFTER_COMPONENTS
    return tuple(n for n in names if not (external_etcd and n in CERTS_BY_NAME and CERTS_BY_NAME[n].etcd))


# --- the kubelet's folder on every node (its --root-dir and --cert-dir; kubeadm writes config.yaml there)

KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CERT_DIR = f"{KUBELET_DIR}/pki"
KUBELET_CONFIG = "config.yaml"
KUBELET_CLIENT_CURRENT = "kubelet-client-current.pem"  # a symlink to the newest dated client file
KUBELET_SERVER_CURRENT = "kubelet-server-current.pem"  # the same for the serving certificate with serverTLSBootstrap
KUBELET_SERVING_CERT = "kubelet.crt"  # self-signed by the kubelet when it starts without one
KUBELET_SERVING_KEY = "kubelet.key"
KUBELET_ROTATED_CLIENT = f"{KUBELET_CERT_DIR}/{KUBELET_CLIENT_CURRENT}"
# The names the kubelet's certificates go by in reports.
KUBELET_CLIENT = "kubelet-client"
KUBELET_SERVING = "kubelet-serving"
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
# The kubelet's certificate store writes kubelet-<client|server>-<Go time 2006-01-02-15-04-05>.pem.
DATED_PEM = re.compile(r"kubelet-(client|server)-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})\.pem")
DATED_PEM_TIME = "%Y-%m-%d-%H-%M-%S"
# kube-controller-manager --cluster-signing-duration's default, as its --help prints it: how long the CSR
# signer makes the kubelet's certificates (365 days).
CLUSTER_SIGNING_DURATION = "8760h0m0s"


def dated_pem(kind: str, moment: dt.datetime) -> str:
    """The file name the kubelet's certificate store gives a certificate of ``kind`` (client, server) written
    at ``moment`` (its local time; nodes run in UTC)."""
    return f"kubelet-{kind}-{moment.strftime(DATED_PEM_TIME)}.pem"
