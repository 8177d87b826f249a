"""KC-ID: subjects and SANs as kubeadm writes them, so that clients and servers recognize each other."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.inventory.model import CertRecord
from kubecert.rules._common import node_name
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, failed, passed

_LEAF_NAMES = tuple(s.name for s in layout.LEAVES)


@implements("KC-ID-01")
def subjects_match(ctx: RuleContext) -> Iterator[Finding]:
    """kubeadm certlist.go: the CN and O of every leaf; RBAC and etcd authenticate by them."""
    yield from ctx.unevaluated(*_LEAF_NAMES, owner="KC-INV-02")
    node = node_name(ctx.inventory)
    peers = [ctx.inventory.certificates.get(n) for n in ("etcd-server", "etcd-peer")]
    for leaf in ctx.inventory.leaves():
        spec = layout.CERTS_BY_NAME[leaf.name]
        if "{node}" in spec.cn and node is None:
            # Without the node name, etcd's server and peer must at least agree with each other.
            names = {p.common_name for p in peers if p is not None}
            expected_cn = leaf.common_name if len(names) == 1 else None
            cn_source = "node name unknown: server and peer CNs must agree"
        else:
            expected_cn = spec.common_name(node or "")
            cn_source = "node name" if "{node}" in spec.cn else "kubeadm"
        problems = []
        if leaf.common_name != expected_cn:
            want = expected_cn if expected_cn is not None else "the same CN as its etcd peer"
            problems.append(f"CN {leaf.common_name!r}, expected {want!r} ({cn_source})")
        note = None
        orgs = set(leaf.organizations)
        if orgs != set(spec.orgs):
            if leaf.name in layout.LEGACY_MASTERS_LEAVES and orgs == {layout.SYSTEM_MASTERS}:
                note = "O=system:masters: accepted for clusters made before kubeadm v1.29"
            else:
                want_o = ", ".join(spec.orgs) or "none"
                problems.append(f"O {sorted(orgs) or 'none'}, expected {want_o}")
        facts: dict[str, Any] = {"cn": leaf.common_name, "o": list(leaf.organizations)}
        if problems:
            yield failed(leaf, "; ".join(problems), **facts)
        elif note:
            yield passed(leaf, note, notable=True, **facts)
        else:
            yield passed(leaf, f"CN {leaf.common_name}" + (f", O {', '.join(orgs)}" if orgs else ""), **facts)


def _missing_sans(record: CertRecord, expected: dict[str, str]) -> list[str]:
    """The expected names or addresses (with why each is expected) that the certificate lacks."""
    missing = []
    for value, why in expected.items():
        try:
            ipaddress.ip_address(value)
        except ValueError:
            present = value in record.dns_sans
        else:
            present = record.has_ip_san(value)
        if not present:
            missing.append(f"{value} ({why})")
    return missing


def _san_finding(record: CertRecord, expected: dict[str, str]) -> Finding:
    facts: dict[str, Any] = {"dns_sans": list(record.dns_sans), "ip_sans": list(record.ip_sans), "expected": expected}
    missing = _missing_sans(record, expected)
    if missing:
        return failed(record, "SANs lack " + ", ".join(missing), **facts)
    return passed(record, f"all {len(expected)} expected SANs present", **facts)


@implements("KC-ID-02")
def apiserver_sans(ctx: RuleContext) -> Iterator[Finding]:
    """Clients reach the API server by the service name, the service IP, the node's address and the cluster's
    control-plane endpoint."""
    yield from ctx.unevaluated("apiserver", owner="KC-INV-02")
    apiserver = ctx.inventory.certificates.get("apiserver")
    facts = ctx.inventory.facts
    if apiserver is None:
        return
    expected = dict.fromkeys(("kubernetes", "kubernetes.default", "kubernetes.default.svc"), "service name")
    if facts.dns_domain:
        expected[f"kubernetes.default.svc.{facts.dns_domain}"] = (
            f"service name in DNS domain {facts.dns_domain} ({facts.source('dns_domain')})")
    if facts.first_service_ip:
        expected[facts.first_service_ip] = (f"first IP of service range {facts.service_cidr} "
                                            f"({facts.source('service_cidr')})")
    if facts.node_name:
        expected[facts.node_name] = f"node name ({facts.source('node_name')})"
    if facts.advertise_address:
        expected[facts.advertise_address] = f"advertise address ({facts.source('advertise_address')})"
    if facts.endpoint_host:  # pkiutil.GetAPIServerAltNames adds it, an IP or a DNS SAN; admin.conf dials it
        expected.setdefault(facts.endpoint_host, f"control-plane endpoint {facts.control_plane_endpoint} "
                            f"({facts.source('control_plane_endpoint')})")
    for san in facts.extra_sans:
        expected[san] = "declared extra SAN"
    yield _san_finding(apiserver, expected)


@implements("KC-ID-03")
def etcd_sans(ctx: RuleContext) -> Iterator[Finding]:
    """etcd's probes and the API server dial localhost; peers dial the node by name."""
    yield from ctx.unevaluated("etcd-server", "etcd-peer", owner="KC-INV-02")
    node = node_name(ctx.inventory)
    for name in ("etcd-server", "etcd-peer"):
        record = ctx.inventory.certificates.get(name)
        if record is None:
            continue
        expected = {"localhost": "loopback name", "127.0.0.1": "IPv4 loopback", "::1": "IPv6 loopback"}
        expected[node or (record.common_name or "")] = "node name" if node else "node name (taken from the CN)"
        yield _san_finding(record, expected)
