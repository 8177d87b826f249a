"""KC-CL: a live cluster as its clients see it: the certificate its API server serves, the CA it publishes,
every control-plane node's files read, and the worker Node objects across a control-plane-only renewal."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes

from kubecert.inventory.cluster import ClusterInventory, ClusterObservation, NodeObject, cluster_of
from kubecert.inventory.model import CertRecord, Inventory, ProblemKind, Role
from kubecert.rules._common import fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, not_applicable, passed
from kubecert.rules.validity import ca_lifetime, leaf_lifetime

SERVICE_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc")


@dataclass(frozen=True)
class NodesRenewalContext(RuleContext):
    """The Node objects before and after a control-plane-only renewal (catalog: cluster-renewal-controlplane-only)."""

    before: tuple[NodeObject, ...]
    after: tuple[NodeObject, ...]
    renewed: tuple[str, ...]  # the nodes the renewal ran on


def _cluster(ctx: RuleContext) -> ClusterObservation:
    cluster = cluster_of(ctx.inventory)
    if cluster is None:
        raise TypeError(f"{ctx.inventory.target} was not observed as a cluster")
    return cluster


def _record(cert: Any, name: str, where: str) -> CertRecord:
    return CertRecord(name, Role.CA, where, cert, b"")


# ---------------------------------------------------------------- KC-CL-01


@implements("KC-CL-01")
def served_certificate(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: the API server serves a certificate of the cluster CA, for serverAuth, naming what clients dial."""
    cluster = _cluster(ctx)
    served = cluster.served
    if served is None:
        yield error("served certificate", cluster.served_problem or "no certificate was served")
        return
    ca = _record(cluster.kubeconfig_ca, "kubeconfig CA", cluster.server) if cluster.kubeconfig_ca else None
    if ca is None:
        yield error(served, "the kubeconfig has no certificate-authority-data to verify the served certificate by")
    else:
        why = served.signed_by(ca)
        facts: dict[str, Any] = {"kubeconfig_ca": ca.subject, "kubeconfig_ca_sha256": ca.fingerprint_sha256}
        yield (failed(served, f"does not chain to the kubeconfig's CA: {why}", **facts) if why else
               passed(served, f"signed by the kubeconfig's CA {ca.subject}", **facts))
    skew = dt.timedelta(seconds=ctx.profile.clock_skew_seconds)
    if not served.not_before - skew <= ctx.now <= served.not_after:
        yield failed(served, f"outside its validity ({fmt_time(served.not_before)} to {fmt_time(served.not_after)}) "
                     f"at {fmt_time(ctx.now)}")
    eku = served.extended_key_usage
    if eku is not None and "serverAuth" not in eku:
        yield failed(served, f"extended key usage {', '.join(eku)} lacks serverAuth")
    yield _names(cluster, served)
    if cluster.kubeadm is not None:  # a kubeadm cluster: its serving certificate is a kubeadm leaf
        yield leaf_lifetime(ctx, served, ca)


def _names(cluster: ClusterObservation, served: CertRecord) -> Finding:
    expected = {cluster.host: "the host the kubeconfig dials"}
    kubeadm = cluster.kubeadm
    if kubeadm is not None:
        expected.update(dict.fromkeys(SERVICE_NAMES, "service name (kubeadm)"))
        if kubeadm.dns_domain:
            expected[f"kubernetes.default.svc.{kubeadm.dns_domain}"] = "service name in the cluster's DNS domain"
        if kubeadm.service_subnet:
            try:
                network = ipaddress.ip_network(kubeadm.service_subnet.split(",")[0].strip(), strict=False)
                expected[str(network.network_address + 1)] = f"first IP of the service range {network}"
            except ValueError:
                pass
        if kubeadm.control_plane_endpoint:
            host = kubeadm.control_plane_endpoint.rsplit(":", 1)[0].strip("[]")
            expected[host] = "kubeadm-config controlPlaneEndpoint"
        expected.update(dict.fromkeys(kubeadm.cert_sans, "kubeadm-config certSANs"))
    missing = {name: why for name, why in expected.items() if not _covers(served, name)}
    facts: dict[str, Any] = {"dns_sans": list(served.dns_sans), "ip_sans": list(served.ip_sans), "expected": expected}
    if missing:
        return failed(served, "does not name " + ", ".join(f"{n} ({w})" for n, w in missing.items()), **facts)
    return passed(served, f"names all {len(expected)} names clients dial", **facts)


def _covers(cert: CertRecord, name: str) -> bool:
    try:
        return cert.has_ip_san(name)
    except ValueError:
        return name.lower() in {dns.lower() for dns in cert.dns_sans}


# ---------------------------------------------------------------- KC-CL-02


@implements("KC-CL-02")
def published_ca(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: kube-root-ca.crt (and kubeadm's cluster-info) publish the cluster CA the kubeconfig trusts."""
    cluster = _cluster(ctx)
    trusted = cluster.kubeconfig_ca
    expected = trusted.fingerprint(hashes.SHA256()).hex() if trusted is not None else None
    for published in cluster.published:
        if published.problem is not None:
            yield error(published.where, published.problem)
            continue
        found = [c.fingerprint(hashes.SHA256()).hex() for c in published.certificates]
        facts: dict[str, Any] = {"published_sha256": found, "kubeconfig_ca_sha256": expected}
        if expected is None:
            yield error(published.where, "the kubeconfig names no CA to compare with", **facts)
        elif found != [expected]:
            yield failed(published.where, "publishes " + (f"{len(found)} certificates" if len(found) != 1 else
                         "another CA") + " than the kubeconfig's CA", **facts)
        else:
            yield passed(published.where, "publishes the kubeconfig's CA", **facts)
            yield ca_lifetime(ctx, _record(published.certificates[0], f"{published.where} CA", published.where))


# ---------------------------------------------------------------- KC-CL-03


@implements("KC-CL-03")
def every_node_read(ctx: RuleContext) -> Iterator[Finding]:
    """KADM: on an HA cluster every control-plane node holds its own certificates; each must be judged."""
    cluster = _cluster(ctx)
    files = ctx.inventory.node_files if isinstance(ctx.inventory, ClusterInventory) else {}
    if cluster.nodes is None:
        yield error("Node objects", cluster.problems.get("nodes", "the Node objects could not be read"))
    control_plane = {node.name for node in cluster.control_plane()}
    for name in sorted(control_plane | set(files)):
        read = files.get(name)
        if isinstance(read, Inventory):
            broken = [p.describe() for p in read.problems if p.kind is ProblemKind.UNREADABLE]
            if broken:
                yield error(name, f"its files could not all be read: {'; '.join(broken[:3])}")
            elif name not in control_plane and cluster.nodes is not None:
                yield passed(name, "files read; no control-plane Node object has its name", notable=True)
            else:
                yield passed(name, f"files read ({len(read.certificates)} certificates): its node-file rules run as "
                             f"{read.target}")
        elif isinstance(read, str):
            yield error(name, f"its files could not be read: {read}")
        else:
            yield failed(name, "a control-plane Node object whose files kubecert cannot reach: its certificates are "
                         "not judged")


# ---------------------------------------------------------------- KC-CL-04


@implements("KC-CL-04", context=NodesRenewalContext)
def workers_keep_their_nodes(ctx: NodesRenewalContext) -> Iterator[Finding]:
    """PAL: a control-plane-only renewal leaves the worker nodes as they were (their Age does not change)."""
    before = {node.name: node for node in ctx.before if not node.control_plane}
    after = {node.name: node for node in ctx.after}
    yield passed("renewal", f"control-plane-only renewal ran on {', '.join(ctx.renewed) or 'no node'}",
                 renewed=list(ctx.renewed))
    if not before:
        yield not_applicable("workers", "the cluster has no worker Node objects")
        return
    for name, was in sorted(before.items()):
        now = after.get(name)
        facts: dict[str, Any] = {"before": was.evidence(), "after": now.evidence() if now else None}
        if now is None:
            yield failed(name, "the worker's Node object is gone after a control-plane-only renewal", **facts)
        elif now.identity() != was.identity():
            yield failed(name, f"replaced: uid {was.uid} → {now.uid}, created "
                         f"{facts['before']['created']} → {facts['after']['created']}", **facts)
        else:
            yield passed(name, "same name, uid and creation time", **facts)
