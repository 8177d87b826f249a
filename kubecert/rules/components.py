"""KC-CL-05/06: renewed on disk, still old in memory. What each control-plane component serves, and when each
static pod started, against the certificates in the node's files.

kube-apiserver and etcd read their serving certificates from disk again (kube-apiserver when the file
changes, etcd at every new connection); the kubelet keeps the serving certificate it loaded at start;
kube-controller-manager and kube-scheduler keep the client certificate of the kubeconfig they read at
start, and kube-apiserver its client certificates, until their static pod restarts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from kubecert import layout
from kubecert.inventory.cluster import ClusterInventory
from kubecert.inventory.components import Component, ComponentsObservation, Missing, NodeComponents
from kubecert.inventory.model import CertRecord, Inventory, ProblemKind
from kubecert.rules._common import fmt_duration, fmt_time, issuing_ca
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, not_applicable, passed
from kubecert.timestamps import isoformat

# What each serving component must serve, by its name in the node's inventory (the kubelet's is its folder's).
ON_DISK = {Component.APISERVER: "apiserver", Component.ETCD: "etcd-server", Component.KUBELET: layout.KUBELET_SERVING}
# The certificates each static pod loads when it starts and keeps until it restarts (kubeadm's names).
LOADED_AT_START = {
    Component.APISERVER: ("apiserver-etcd-client", "apiserver-kubelet-client", "front-proxy-client"),
    Component.CONTROLLER_MANAGER: ("controller-manager.conf",),
    Component.SCHEDULER: ("scheduler.conf",),
}
WHERE = {Missing.NODE_FILES: "kubeconfig:PATH?nodes=pods, kind:NAME and reference:cluster read them"}
ETCD_RELOADS = ("etcd reads etcd/server.crt and etcd/peer.crt again for every new connection (etcd 3.2 and "
                "later): what it serves is KC-CL-05's to judge, not its start time")


def _observed(ctx: RuleContext) -> tuple[ComponentsObservation, dict[str, Inventory | str]]:
    inventory = ctx.inventory
    if not isinstance(inventory, ClusterInventory) or inventory.components is None:
        raise TypeError(f"{inventory.target} was not observed as a cluster with its components")
    return inventory.components, inventory.node_files


def _missing(observed: ComponentsObservation, target: str) -> Finding:
    needs = "; ".join(f"{m} ({WHERE[m]})" for m in observed.missing)
    return not_applicable("components", f"needs {needs}, which {target} does not read",
                          missing=[m.name.lower() for m in observed.missing])


def _nodes(ctx: RuleContext) -> Iterator[tuple[NodeComponents, Inventory]]:
    observed, files = _observed(ctx)
    for node in sorted(observed.nodes):
        found = files.get(node)
        if isinstance(found, Inventory):  # a node whose files were not read is KC-CL-03's finding
            yield observed.nodes[node], found


# ---------------------------------------------------------------- KC-CL-05


@implements("KC-CL-05")
def components_serve_their_files(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: a component serving another certificate than its file was not restarted after a renewal (or reads
    another file than the one renewed): its clients see the old certificate, which expires all the same."""
    observed, _ = _observed(ctx)
    if observed.missing:
        yield _missing(observed, ctx.inventory.target)
        return
    for components, files in _nodes(ctx):
        for component, name in ON_DISK.items():
            yield _serves(components, files, component, name)


def _on_disk(files: Inventory, name: str) -> CertRecord | None:
    if name == ON_DISK[Component.KUBELET]:
        return files.kubelet.serving if files.kubelet is not None else None
    return files.certificates.get(name)


def _serves(components: NodeComponents, files: Inventory, component: Component, name: str) -> Finding:
    subject = f"{components.node} {component}"
    record = _on_disk(files, name)
    served = components.served.get(component)
    facts: dict[str, Any] = {"node": components.node, "component": component}
    if served is not None:
        facts.update(address=served.address, address_from=served.found_by)
    if record is None:
        if component in components.absent:
            return not_applicable(subject, f"{components.node} runs no {component} static pod (external etcd)",
                                  **facts)
        problems = [p.describe() for p in files.problems_for(name)]
        return error(subject, f"what it must serve is unknown: {name} was not read from the node"
                     + (f" ({problems[0]})" if problems else ""), **facts)
    facts["on_disk"] = record.evidence()
    if served is None or served.certificate is None:
        where = f" at {served.address}" if served is not None and served.address else ""
        why = served.problem if served is not None else "it was not dialled"
        return error(subject, f"what it serves{where} could not be read: {why}", **facts)
    facts["served"] = _evidence(served.certificate)
    if served.certificate.fingerprint(hashes.SHA256()).hex() == record.fingerprint_sha256:
        return passed(subject, f"serves {record.name} as on disk (serial {record.serial:x})", **facts)
    held = served.certificate
    age = "an older certificate" if held.not_valid_before_utc < record.not_before else "another certificate"
    return failed(subject, f"serves {age} than {record.path} at {served.address}: serial {held.serial_number:x} "
                  f"(SHA-256 {facts['served']['fingerprint_sha256'][:16]}...), valid from "
                  f"{fmt_time(held.not_valid_before_utc)}, where the file holds serial {record.serial:x} (SHA-256 "
                  f"{record.fingerprint_sha256[:16]}...), valid from {fmt_time(record.not_before)}", **facts)


def _evidence(certificate: x509.Certificate) -> dict[str, Any]:
    return {"subject_dn": certificate.subject.rfc4514_string(), "issuer_dn": certificate.issuer.rfc4514_string(),
            "serial": format(certificate.serial_number, "x"),
            "fingerprint_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
            "not_before": isoformat(certificate.not_valid_before_utc),
            "not_after": isoformat(certificate.not_valid_after_utc)}


# ---------------------------------------------------------------- KC-CL-06


@implements("KC-CL-06")
def restarted_after_renewal(ctx: RuleContext) -> Iterator[Finding]:
    """KADM: "After renewal, in order to make changes effective, is required to restart control-plane
    components": one that was not still holds the certificates it loaded at start."""
    observed, _ = _observed(ctx)
    if observed.missing:
        yield _missing(observed, ctx.inventory.target)
        return
    for components, files in _nodes(ctx):
        if Component.ETCD not in components.absent:
            yield not_applicable(f"{components.node} {Component.ETCD}", ETCD_RELOADS, node=components.node,
                                 component=Component.ETCD)
        for component, names in LOADED_AT_START.items():
            yield _restarted(ctx, components, files, component, names)


def issue_time(ctx: RuleContext, record: CertRecord, ca: CertRecord | None) -> tuple[dt.datetime, str]:
    """When ``record`` was issued, as well as it tells, and how that was found. kubeadm v1.31 and later
    backdate NotBefore from the issuing moment; before v1.31 kubeadm gave every leaf its CA's NotBefore, on
    renewal too, so there NotAfter less the leaf's lifetime dates it."""
    if ca is not None and record.not_before == ca.not_before:
        return (record.not_after - dt.timedelta(days=ctx.profile.leaf_days),
                f"NotAfter - {ctx.profile.leaf_days}d: its NotBefore is its CA's, which dates no renewal (kubeadm "
                "before v1.31 keeps it on renewal)")
    backdate = dt.timedelta(seconds=ctx.profile.backdate_seconds)
    return record.not_before + backdate, f"NotBefore + {fmt_duration(backdate)} backdate (kubeadm v1.31 and later)"


def _loaded(files: Inventory, name: str) -> CertRecord | None:
    if name in files.certificates:
        return files.certificates[name]
    kubeconfig = files.kubeconfigs.get(name)
    return kubeconfig.client_cert if kubeconfig is not None else None


def _restarted(ctx: RuleContext, components: NodeComponents, files: Inventory, component: Component,
               names: tuple[str, ...]) -> Finding:
    subject = f"{components.node} {component}"
    start = components.start(component)
    facts: dict[str, Any] = {"node": components.node, "component": component,
                             "start_sources": [s.evidence() for s in components.started.get(component, [])]}
    if start is None or start.at is None:
        return error(subject, f"when it started is unknown: {start.problem if start else 'nothing says'}", **facts)
    started = start.at.replace(microsecond=0)  # certificates date whole seconds
    facts["started_at"] = isoformat(started)
    loaded, unread = [], []
    for name in names:
        record = _loaded(files, name)
        if record is None:
            unread += [p.describe() for p in files.problems_for(name) if p.kind is not ProblemKind.MISSING]
            continue  # a missing file is KC-INV-02/03's finding; a kubeconfig naming a file is reloaded by client-go
        renewed, dated_by = issue_time(ctx, record, issuing_ca(files, record))
        loaded.append((record, renewed, dated_by))
    facts["certificates"] = [{"certificate": record.name, "issued_at": isoformat(issued), "issued_at_from": dated_by,
                              "on_disk": record.evidence()} for record, issued, dated_by in loaded]
    newer = [(record, renewed) for record, renewed, _ in loaded if started < renewed]
    if newer:
        facts["holds"] = (f"what {', '.join(r.name for r, _ in newer)} held when it started at {fmt_time(started)}: "
                          "older than the certificate on disk")
        renewals = ", ".join(f"{record.name} ({fmt_time(renewed)})" for record, renewed in newer)
        verb = "was" if len(newer) == 1 else "were"
        return failed(subject, f"started {fmt_time(started)} (by {start.source}), before {renewals} {verb} renewed "
                      "on disk: it still holds what it loaded at start", **facts)
    if unread:
        return error(subject, f"not judged: {'; '.join(unread)}", **facts)
    if not loaded:
        return not_applicable(subject, f"none of {', '.join(names)} is on this node with an embedded certificate",
                              **facts)
    issued = [record.name for record, _, _ in loaded]
    verb = "was" if len(issued) == 1 else "were"
    return passed(subject, f"started {fmt_time(started)}, after {', '.join(issued)} {verb} issued", **facts)
