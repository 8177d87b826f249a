"""Observing a kubeadm node (the pki folder, the kubeconfigs and manifests beside it, the kubelet's folder
when given) as an Inventory.

Every file is read and parsed once here; rules only read the records. Whatever cannot be read becomes
a Problem naming the file, and the rest is observed regardless.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubecert import layout
from kubecert.inventory.facts import NodeFacts, go_duration
from kubecert.inventory.files import (
    MAX_FILE_BYTES,
    ReadFailure,
    TooManyEntries,
    file_facts,
    parse_certificates,
    parse_private_key,
    parse_public_key,
    read_bytes,
    real_folders,
    walk,
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
from kubecert.inventory.safe_yaml import YamlError, load_bounded


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
    try:
        inventory.files = list(walk(pki_dir, tree))
    except TooManyEntries as exc:
        inventory.problems.append(Problem("pki", str(pki_dir), ProblemKind.INVALID, f"{exc}; its files are not judged"))

    for spec in layout.expected_certs(external_etcd=declared.external_etcd):
        record = _load_cert(pki_dir, spec, inventory, machine, tree)
        if record is not None:
            inventory.certificates[spec.name] = record
    inventory.service_account = _load_service_account(pki_dir, inventory, tree)
    for kspec in layout.KUBECONFIGS:
        kubeconfig = _load_kubeconfig(kubeconfig_dir / kspec.name, inventory, machine, tree)
        if kubeconfig is not None:
            inventory.kubeconfigs[kspec.name] = kubeconfig
            inventory.files.extend(f for f in [kubeconfig.file] if f is not None)
    if kubelet_dir is not None:
        inventory.kubelet = load_kubelet(kubelet_dir, inventory.problems, machine)
    role = recognise_role(pki_dir, kubeconfig_dir, manifests_dir)
    inventory.facts = _node_facts(manifests_dir, inventory.kubeconfigs, declared, role)
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
        file=file_facts(crt_path, tree), machine=machine, in_file=len(certs),
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


def _load_kubeconfig(path: Path, inventory: Inventory, machine: str | None,
                     tree: tuple[Path, ...]) -> KubeconfigRecord | None:
    try:
        return load_kubeconfig(path, machine, tree)
    except ReadFailure as failure:
        inventory.problems.append(failure.problem)
        facts = file_facts(path, tree)
        if facts is not None:  # still subject to the file-mode rules
            inventory.files.append(facts)
        return None


def _node_facts(manifests_dir: Path, kubeconfigs: Mapping[str, KubeconfigRecord], declared: NodeFacts,
                recognised: tuple[str, str]) -> NodeFacts:
    """The node's facts: what its own files say first, then what the user declared, then kubeadm's defaults.
    The role is the other way round: what the user declares overrides what the files suggest."""
    apiserver_flags, version = _manifest_flags(manifests_dir / "kube-apiserver.yaml")
    etcd_flags, _ = _manifest_flags(manifests_dir / "etcd.yaml")
    controller_flags, _ = _manifest_flags(manifests_dir / "kube-controller-manager.yaml")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def pick(name: str, observed: list[tuple[Any, str]], default: Any = None, by: str = "kubeadm default") -> None:
        for value, source in [*observed, (getattr(declared, name), declared.source(name)), (default, by)]:
            if value:
                values[name], sources[name] = value, source
                return

    kubelet = kubeconfigs.get("kubelet.conf")
    kubelet_node = None
    if kubelet is not None and kubelet.user and kubelet.user.startswith("system:node:"):
        kubelet_node = kubelet.user.removeprefix("system:node:")
    service_cidr = apiserver_flags.get("service-cluster-ip-range", "").split(",")[0] or None
    if service_cidr is not None:
        try:
            ipaddress.ip_network(service_cidr, strict=False)
        except ValueError:
            service_cidr = None
    pick("node_name", [(kubelet_node, "kubelet.conf user"), (etcd_flags.get("name"), "manifests/etcd.yaml --name")])
    pick("advertise_address",
         [(apiserver_flags.get("advertise-address"), "manifests/kube-apiserver.yaml --advertise-address")])
    pick("service_cidr", [(service_cidr, "manifests/kube-apiserver.yaml --service-cluster-ip-range")],
         layout.DEFAULT_SERVICE_CIDR)
    pick("dns_domain", [], layout.DEFAULT_DNS_DOMAIN)
    pick("extra_sans", [])
    pick("external_etcd", [])
    manifest = "manifests/kube-controller-manager.yaml"
    pick("cluster_signing_duration",
         [(_duration(controller_flags.get("cluster-signing-duration")), f"{manifest} --cluster-signing-duration"),
          (_duration(controller_flags.get("experimental-cluster-signing-duration")),
           f"{manifest} --experimental-cluster-signing-duration")],
         layout.CLUSTER_SIGNING_DURATION, "kube-controller-manager default")
    pick("role", [], *recognised)
    return NodeFacts(**values, kubernetes_version=version, sources=sources)


def _duration(flag: str | None) -> str | None:
    """A manifest's duration flag when kube-controller-manager could start with it (else it says nothing)."""
    if flag is None:
        return None
    try:
        go_duration(flag)
    except ValueError:
        return None
    return flag


def _manifest_flags(path: Path) -> tuple[dict[str, str], str | None]:
    """The ``--flag=value`` pairs and the image tag of a static pod manifest; empty when unusable.

    Manifests only refine expectations (service range, address), so an unreadable one is not an error.
    """
    try:
        document = load_bounded(read_bytes(path, path.name), max_bytes=MAX_FILE_BYTES)
        container = document["spec"]["containers"][0]
        command = [str(part) for part in container.get("command", [])]
        image = str(container.get("image", ""))
    except (ReadFailure, YamlError, KeyError, IndexError, TypeError, AttributeError):
        return {}, None
    flags = {}
    for part in command:
        if part.startswith("--") and "=" in part:
            key, value = part[2:].split("=", 1)
            flags[key] = value
    version = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
    return flags, version
