"""Observing a kubeadm node (the pki folder, the kubeconfigs and manifests beside it, the kubelet's folder
when given) as an Inventory.

Every file is read and parsed once here; rules only read the records. Whatever cannot be read becomes
a Problem naming the file, and the rest is observed regardless.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from kubecert import layout
from kubecert.inventory.facts import DurationTooLong, NodeFacts, endpoint_host, endpoint_problem, go_duration
from kubecert.inventory.files import (
    MAX_FILE_BYTES,
    ReadFailure,
    add_named,
    file_facts,
    parse_certificates,
    parse_private_key,
    parse_public_key,
    read_bytes,
    real_folders,
    walk_bounded,
)
from kubecert.inventory.kubeconfig import load_kubeconfig
from kubecert.inventory.kubelet import load_kubelet
from kubecert.inventory.model import (
    CertRecord,
    Inventory,
    KubeconfigRecord,
    Problem,
    ProblemKind,
    Role,
    ServiceAccountKeys,
)
from kubecert.inventory.role import recognise_role
from kubecert.inventory.safe_yaml import YamlBeyondBound, YamlError, load_bounded

PKI_FOLDER = "pki folder"  # the subject of a pki folder too large to walk


def known_files(pki_dir: Path) -> list[Path]:
    """What kubeadm keeps in ``pki_dir``, by name: judged even when the folder is too large to walk."""
    paths = [pki_dir / "etcd"]
    for spec in layout.CERTS:
        paths += [pki_dir / f"{spec.path}.crt", pki_dir / f"{spec.path}.key"]
    return [*paths, pki_dir / layout.SA_KEY, pki_dir / layout.SA_PUB]


def load_pki(
    pki_dir: Path,
    *,
    kubeconfig_dir: Path | None = None,
    manifests_dir: Path | None = None,
    kubelet_dir: Path | None = None,
    declared: NodeFacts | None = None,
    target: str | None = None,
    observed_at: dt.datetime | None = None,
    machine: str | None = None,
) -> Inventory:
    """Read ``pki_dir`` (e.g. /etc/kubernetes/pki) and the kubeconfigs in its parent unless given; the
    kubelet's folder (a node's /var/lib/kubelet, or a copy of it) only when ``kubelet_dir`` names it."""
    declared = declared or NodeFacts()
    kubeconfig_dir = kubeconfig_dir if kubeconfig_dir is not None else pki_dir.parent
    manifests_dir = manifests_dir if manifests_dir is not None else kubeconfig_dir / "manifests"
    location = {"pki": str(pki_dir), "kubeconfigs": str(kubeconfig_dir), "manifests": str(manifests_dir)}
    if kubelet_dir is not None:
        location["kubelet"] = str(kubelet_dir)
    inventory = Inventory(
        target=target or f"pki:{pki_dir}", observed_at=observed_at or dt.datetime.now(dt.UTC), location=location,
    )
    tree = real_folders(pki_dir, kubeconfig_dir)
    inventory.files, flooded = walk_bounded(pki_dir, PKI_FOLDER, tree)
    if flooded is not None:
        inventory.problems.append(flooded)
        add_named(inventory.files, known_files(pki_dir), tree)

    for spec in layout.expected_certs(external_etcd=declared.external_etcd):
        record = _load_cert(pki_dir, spec, inventory, machine, tree)
        if record is not None:
            inventory.certificates[spec.name] = record
    inventory.service_account = _load_service_account(pki_dir, inventory, tree)
    parsed = {record.pem: record.cert for record in inventory.certificates.values()}
    for kspec in layout.KUBECONFIGS:
        kubeconfig = _load_kubeconfig(kubeconfig_dir / kspec.name, inventory, machine, tree, parsed)
        if kubeconfig is not None:
            inventory.kubeconfigs[kspec.name] = kubeconfig
            inventory.files.extend(f for f in [kubeconfig.file] if f is not None)
    if kubelet_dir is not None:
        inventory.kubelet = load_kubelet(kubelet_dir, inventory.problems, machine)
    role = recognise_role(pki_dir, kubeconfig_dir, manifests_dir)
    inventory.facts = _node_facts(manifests_dir, inventory.kubeconfigs, declared, role, inventory.problems)
    return inventory


def _load_cert(pki_dir: Path, spec: layout.CertSpec, inventory: Inventory, machine: str | None,
               tree: tuple[Path, ...]) -> CertRecord | None:
    crt_path = pki_dir / f"{spec.path}.crt"
    try:
        pem = read_bytes(crt_path, spec.name)
        certs = parse_certificates(pem, crt_path, spec.name)
    except ReadFailure as failure:
        inventory.problems.append(failure.problem)
        return None
    record = CertRecord(
        name=spec.name, role=Role.CA if spec.is_ca else Role.LEAF, path=str(crt_path), cert=certs[0], pem=pem,
        file=file_facts(crt_path, tree), machine=machine, in_file=len(certs), rest_of_file=tuple(certs[1:]),
    )
    key_path = pki_dir / f"{spec.path}.key"
    key_subject = f"{spec.name}.key"
    try:
        facts = file_facts(key_path, tree)
        record.key = parse_private_key(read_bytes(key_path, key_subject), key_path, key_subject, facts)
    except ReadFailure as failure:
        # An absent CA key is kubeadm's external-CA mode, not a problem; KC-EXT-01 reports it.
        if not (spec.is_ca and failure.problem.kind is ProblemKind.MISSING):
            inventory.problems.append(failure.problem)
    return record


def _load_service_account(pki_dir: Path, inventory: Inventory, tree: tuple[Path, ...]) -> ServiceAccountKeys:
    key_path, pub_path = pki_dir / layout.SA_KEY, pki_dir / layout.SA_PUB
    private = public = None
    try:
        facts = file_facts(key_path, tree)
        private = parse_private_key(read_bytes(key_path, layout.SA_KEY), key_path, layout.SA_KEY, facts)
    except ReadFailure as failure:
        inventory.problems.append(failure.problem)
    try:
        public = parse_public_key(read_bytes(pub_path, layout.SA_PUB), pub_path, layout.SA_PUB)
    except ReadFailure as failure:
        inventory.problems.append(failure.problem)
    return ServiceAccountKeys(private=private, public=public, private_path=str(key_path), public_path=str(pub_path))


def _load_kubeconfig(path: Path, inventory: Inventory, machine: str | None, tree: tuple[Path, ...],
                     parsed: Mapping[bytes, x509.Certificate]) -> KubeconfigRecord | None:
    try:
        return load_kubeconfig(path, machine, tree, parsed=parsed)
    except ReadFailure as failure:
        inventory.problems.append(failure.problem)
        facts = file_facts(path, tree)
        if facts is not None:  # still subject to the file-mode rules
            inventory.files.append(facts)
        return None


@dataclass(frozen=True)
class _Manifest:
    """What a static pod manifest says: its flags and image tag, or why kubecert could not read it."""

    path: str
    flags: dict[str, str]
    version: str | None = None
    unread: str | None = None  # over a bound or unreadable: what it would have said is unknown

    def flag(self, name: str) -> tuple[str | None, str, str | None]:
        """(value, source, why unknown) of ``--name``, as ``pick`` takes its candidates."""
        return self.flags.get(name), f"{self.path} --{name}", self.unread


def _node_facts(manifests_dir: Path, kubeconfigs: Mapping[str, KubeconfigRecord], declared: NodeFacts,
                recognised: tuple[str, str], problems: list[Problem]) -> NodeFacts:
    """The node's facts: what its own files say first, then what the user declared, then kubeadm's defaults.
    The role is the other way round: what the user declares overrides what the files suggest.

    A file that would have said something but could not be read (over a bound, or unreadable) makes the
    fact unknown (``unread``): the rules that read it are errors, not judged by a value from further down."""
    apiserver = _manifest(manifests_dir, "kube-apiserver.yaml")
    etcd = _manifest(manifests_dir, "etcd.yaml")
    controller = _manifest(manifests_dir, "kube-controller-manager.yaml")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    unread: dict[str, str] = {}

    def pick(name: str, observed: list[tuple[Any, str, str | None]], default: Any = None,
             by: str = "kubeadm default") -> None:
        for value, source, why_unknown in [*observed, (getattr(declared, name), declared.source(name), None),
                                           (default, by, None)]:
            if why_unknown is not None and name not in unread:
                unread[name] = f"{source} is unknown: {why_unknown}"
            if value:
                values[name], sources[name] = value, source
                return

    kubelet = kubeconfigs.get("kubelet.conf")
    kubelet_node = None
    if kubelet is not None and kubelet.user and kubelet.user.startswith("system:node:"):
        kubelet_node = kubelet.user.removeprefix("system:node:")
    service_cidr, cidr_source, cidr_unread = apiserver.flag("service-cluster-ip-range")
    service_cidr = (service_cidr or "").split(",")[0] or None
    if service_cidr is not None:
        try:
            ipaddress.ip_network(service_cidr, strict=False)
        except ValueError:
            service_cidr = None
    pick("node_name", [(kubelet_node, "kubelet.conf user", None), etcd.flag("name")])
    pick("advertise_address", [apiserver.flag("advertise-address")])
    pick("control_plane_endpoint", _dialled_endpoints(kubeconfigs, problems, values.get("advertise_address")))
    pick("service_cidr", [(service_cidr, cidr_source, cidr_unread)], layout.DEFAULT_SERVICE_CIDR)
    pick("dns_domain", [], layout.DEFAULT_DNS_DOMAIN)
    pick("extra_sans", [])
    pick("external_etcd", [])
    pick("cluster_signing_duration",
         [_duration(*controller.flag("cluster-signing-duration")),
          _duration(*controller.flag("experimental-cluster-signing-duration"))],
         layout.CLUSTER_SIGNING_DURATION, "kube-controller-manager default")
    pick("role", [], *recognised)
    return NodeFacts(**values, kubernetes_version=apiserver.version, sources=sources, unread=unread)


# kubeadm's kubeconfigs that dial the API server: admin.conf, super-admin.conf and kubelet.conf the control-plane
# endpoint; controller-manager.conf and scheduler.conf their own node's advertise address (kubeadm's local endpoint).
_TO_ENDPOINT = ("admin.conf", "super-admin.conf", "kubelet.conf")
_DIALLING = (*_TO_ENDPOINT, "controller-manager.conf", "scheduler.conf")


def _dialled_endpoints(kubeconfigs: Mapping[str, KubeconfigRecord], problems: list[Problem],
                       advertise_address: str | None) -> list[tuple[str | None, str, str | None]]:
    """The control-plane endpoint as the node's kubeconfigs dial it: the first server that is not the node's own
    advertise address (kubeadm puts its host among the apiserver's SANs), as ``pick`` takes its candidates. When
    none of those kubeadm points at the endpoint could be read (past a bound), the endpoint is unknown."""
    found: list[tuple[str | None, str, str | None]] = []
    for name in _DIALLING:
        kubeconfig = kubeconfigs.get(name)
        endpoint = _server_endpoint(kubeconfig.server) if kubeconfig is not None and kubeconfig.server else None
        if endpoint is not None and not _same_host(endpoint_host(endpoint), advertise_address):
            found.append((endpoint, f"{name} server", None))
    if any(name in kubeconfigs for name in _TO_ENDPOINT):
        return found
    unread = [p for p in problems if p.subject in _TO_ENDPOINT and p.kind is ProblemKind.UNREADABLE]
    return found + [(None, f"{p.subject} server", p.describe()) for p in unread]


def _server_endpoint(server: str) -> str | None:
    """HOST[:PORT] of a kubeconfig's ``server`` URL; None for one that names no usable host."""
    try:
        netloc = urlsplit(server).netloc.rpartition("@")[2]
    except ValueError:
        return None
    return netloc if netloc and endpoint_problem(netloc) is None else None


def _same_host(host: str, address: str | None) -> bool:
    if address is None:
        return False
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(address)
    except ValueError:
        return host == address


def _duration(flag: str | None, source: str, unread: str | None) -> tuple[str | None, str, str | None]:
    """A manifest's duration flag when kube-controller-manager could start with it (else it says nothing);
    one longer than kubecert reads is unknown."""
    if flag is None:
        return None, source, unread
    try:
        go_duration(flag)
    except DurationTooLong as exc:
        return None, source, str(exc)
    except ValueError:
        return None, source, unread
    return flag, source, unread


def _manifest(manifests_dir: Path, name: str) -> _Manifest:
    """The ``--flag=value`` pairs and the image tag of a static pod manifest; empty when unusable.

    Manifests only refine expectations (service range, address), so a missing or broken one is not an error;
    one kubecert could not read (over a bound, or not readable) leaves what it would have said unknown.
    """
    path = manifests_dir / name
    shown = f"manifests/{name}"  # as sources name it
    try:
        document = load_bounded(read_bytes(path, name), max_bytes=MAX_FILE_BYTES)
        container = document["spec"]["containers"][0]
        command = [str(part) for part in container.get("command", [])]
        image = str(container.get("image", ""))
    except ReadFailure as failure:
        unreadable = failure.problem.kind is ProblemKind.UNREADABLE
        return _Manifest(shown, {}, unread=failure.problem.describe() if unreadable else None)
    except YamlBeyondBound as exc:
        return _Manifest(shown, {}, unread=f"{path}: not read: {exc}")
    except (YamlError, KeyError, IndexError, TypeError, AttributeError):
        return _Manifest(shown, {})
    flags = {}
    for part in command:
        if part.startswith("--") and "=" in part:
            key, value = part[2:].split("=", 1)
            flags[key] = value
    version = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
    return _Manifest(shown, flags, version)
