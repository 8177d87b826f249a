"""What ``kubeadm init`` is told about the node, and the names and addresses that follow from it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.issue import BACKDATE, KUBEADM_CA_DAYS, LEAF_DAYS, IPAddress
from kubecert.reference.pki.keys import DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS
from kubecert.reference.pki.kubelet import KUBELET_STATES, ROTATED
from kubecert.reference.pki.manifests import APISERVER_PORT, url
from kubecert.reference.pki.versions import DEFAULT_VERSION, KubeadmVersion

# ca_days of the kubeadm and palette profiles: kubeadm's constant and Palette's documented figure.
PROFILE_CA_DAYS: dict[str, int] = {"kubeadm": KUBEADM_CA_DAYS, "palette": 3652}
DEFAULT_PROFILE = "palette"  # the reference platform's nodes follow the palette profile
# What `kubecert reference pki init` writes unless told: a kubeadm tree, as kubeadm init writes it, so that
# `kubecert check --target pki:...` (whose auto profile for a folder is kubeadm) passes it as it is.
INIT_COMMAND_PROFILE = "kubeadm"
CA_NAMES: tuple[str, ...] = tuple(spec.name for spec in layout.CAS)

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_WILDCARD = re.compile(rf"\*\.{_LABEL}(\.{_LABEL})*")


def ca_days_for_profile(profile: str) -> int:
    try:
        return PROFILE_CA_DAYS[profile]
    except KeyError:
        raise ReferenceUsageError(
            f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILE_CA_DAYS))}"
        ) from None


def is_dns_subdomain(name: str) -> bool:
    """RFC 1123 subdomain, as Kubernetes validates names (validation.IsDNS1123Subdomain)."""
    return len(name) <= 253 and _SUBDOMAIN.fullmatch(name) is not None


def _ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class InitOptions:
    """kubeadm init's InitConfiguration/ClusterConfiguration, reduced to what shapes the PKI."""

    node_name: str = "cp-1"
    advertise_address: str = "10.0.0.10"
    dns_domain: str = layout.DEFAULT_DNS_DOMAIN
    service_cidr: str = layout.DEFAULT_SERVICE_CIDR
    control_plane_endpoint: str | None = None  # "host" or "host:port"; IPv6 as "[addr]:port"
    cert_sans: tuple[str, ...] = ()  # apiServer.certSANs
    key_algorithm: str = DEFAULT_KEY_ALGORITHM  # encryptionAlgorithm
    ca_days: int = PROFILE_CA_DAYS[DEFAULT_PROFILE]
    leaf_days: int = LEAF_DAYS
    backdate: dt.timedelta = BACKDATE
    external_ca: tuple[str, ...] = ()  # CAs whose key is removed after init (external-CA mode)
    external_etcd: bool = False  # no etcd CA, no etcd leaves, no apiserver-etcd-client
    super_admin: bool = True  # only the first control-plane node has super-admin.conf (v1.29+)
    kubernetes_version: str = DEFAULT_VERSION  # the kubeadm release whose files are written (versions.py)
    server_tls_bootstrap: bool = False  # the kubelet's serving certificate from the cluster CA, not self-signed
    kubelet_state: str = ROTATED  # how far the kubelet has come (kubelet.py): fresh, started, finalized, rotated

    def validate(self) -> None:
        """Raise ReferenceUsageError naming the first option kubeadm would refuse."""
        if not is_dns_subdomain(self.node_name):
            raise ReferenceUsageError(f"node name {self.node_name!r} is not a valid RFC 1123 subdomain")
        if _ip(self.advertise_address) is None:
            raise ReferenceUsageError(f"advertise address {self.advertise_address!r} is not an IP address")
        if not is_dns_subdomain(self.dns_domain):
            raise ReferenceUsageError(f"DNS domain {self.dns_domain!r} is not a valid RFC 1123 subdomain")
        for cidr in self.service_cidr.split(","):
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                raise ReferenceUsageError(f"service CIDR {cidr!r} is not a network (e.g. 10.96.0.0/12)") from None
        self.endpoint()  # raises on a malformed control-plane endpoint
        version = self.version  # raises on a malformed or unsupported version
        if self.key_algorithm not in KEY_ALGORITHMS:
            raise ReferenceUsageError(
                f"unknown encryption algorithm {self.key_algorithm!r}; expected one of {', '.join(KEY_ALGORITHMS)}"
            )
        if self.key_algorithm not in version.key_algorithms(KEY_ALGORITHMS):
            raise ReferenceUsageError(f"kubeadm {version} cannot make {self.key_algorithm} keys; it makes "
                                      f"{', '.join(version.key_algorithms(KEY_ALGORITHMS))}")
        if self.kubelet_state not in KUBELET_STATES:
            raise ReferenceUsageError(
                f"unknown kubelet state {self.kubelet_state!r}; expected one of {', '.join(KUBELET_STATES)}")
        if self.ca_days <= 0 or self.leaf_days <= 0 or self.backdate < dt.timedelta(0):
            raise ReferenceUsageError("validity periods must be positive and the backdate not negative")
        for name in self.external_ca:
            if name not in CA_NAMES:
                known = ", ".join(CA_NAMES)
                raise ReferenceUsageError(f"unknown CA {name!r} for external-CA mode; expected one of {known}")
            if name == "etcd-ca" and self.external_etcd:
                raise ReferenceUsageError("etcd-ca cannot be external together with external etcd: there is no etcd CA")

    @property
    def version(self) -> KubeadmVersion:
        return KubeadmVersion.parse(self.kubernetes_version)

    @property
    def writes_super_admin(self) -> bool:
        return self.super_admin and self.version.has_super_admin

    def endpoint(self) -> tuple[str, int]:
        """The control-plane endpoint's host and port; the advertise address when none is set."""
        if not self.control_plane_endpoint:
            return self.advertise_address, APISERVER_PORT
        text = self.control_plane_endpoint
        host, port_text = text, ""
        if text.startswith("["):  # [IPv6]:port
            host, _, rest = text[1:].partition("]")
            port_text = rest.removeprefix(":")
        elif text.count(":") == 1:
            host, port_text = text.split(":")
        port = APISERVER_PORT
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ReferenceUsageError(f"control-plane endpoint {text!r} has an invalid port")
            port = int(port_text)
        if _ip(host) is None and not is_dns_subdomain(host):
            raise ReferenceUsageError(f"control-plane endpoint {text!r} is neither an IP address nor a DNS name")
        return host, port

    @property
    def first_service_ip(self) -> IPAddress:
        network = ipaddress.ip_network(self.service_cidr.split(",")[0].strip(), strict=False)
        return network.network_address + 1

    @property
    def cluster_dns(self) -> IPAddress:
        """kubeadm's DNS service address, the kubelet's clusterDNS: the service range's tenth address."""
        network = ipaddress.ip_network(self.service_cidr.split(",")[0].strip(), strict=False)
        return network.network_address + 10

    def endpoint_url(self) -> str:
        return url("https", *self.endpoint())

    def local_url(self) -> str:
        return url("https", self.advertise_address, APISERVER_PORT)

    def apiserver_sans(self) -> tuple[list[str], list[str], list[str]]:
        """DNS names, IPs (as given, in kubeadm's order) and skipped certSANs of the apiserver certificate."""
        dns = [self.node_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
               f"kubernetes.default.svc.{self.dns_domain}"]
        ips = [str(self.first_service_ip), self.advertise_address]
        if self.control_plane_endpoint:
            host, _ = self.endpoint()
            (ips if _ip(host) is not None else dns).append(host)
        skipped = []
        for san in self.cert_sans:
            if _ip(san) is not None:
                ips.append(san)
            elif is_dns_subdomain(san) or _WILDCARD.fullmatch(san):
                dns.append(san)
            else:
                skipped.append(san)
        return dns, ips, skipped

    def etcd_sans(self) -> tuple[list[str], list[str]]:
        """etcd server and peer: the node name and localhost; the node's address and both loopbacks."""
        return [self.node_name, "localhost"], [self.advertise_address, "127.0.0.1", "::1"]
