"""KC-HA: rules across the control-plane nodes of one cluster: one set of CAs, and a renewal that reaches
every node. Each node's files come from the cluster target's reading of them (its ``node_files``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubecert import layout
from kubecert.inventory.cluster import ClusterInventory, ClusterRenewalRun
from kubecert.inventory.model import CertRecord, Inventory
from kubecert.rules._common import fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, passed

_SHARED = (*(spec.name for spec in layout.CAS), "sa.pub")


@dataclass(frozen=True)
class ClusterRenewalContext(RuleContext):
    """Every control-plane node's files before and after a renewal of the cluster (catalog: cluster-renewal)."""

    before: dict[str, Inventory | str]
    after: dict[str, Inventory | str]
    run: ClusterRenewalRun


def _nodes(ctx: RuleContext) -> dict[str, Inventory | str]:
    return ctx.inventory.node_files if isinstance(ctx.inventory, ClusterInventory) else {}


def _fingerprint(inventory: Inventory, name: str) -> str | None:
    if name == "sa.pub":
        keys = inventory.service_account
        return keys.public.spki_sha256 if keys is not None and keys.public is not None else None
    record = inventory.certificates.get(name)
    return record.fingerprint_sha256 if record is not None else None


@implements("KC-HA-01")
def nodes_share_cas(ctx: RuleContext) -> Iterator[Finding]:
    """kubeadm join --control-plane copies the cluster's CAs and service-account keys to every node."""
    nodes = _nodes(ctx)
    read = {node: found for node, found in nodes.items() if isinstance(found, Inventory)}
    for node, found in nodes.items():
        if isinstance(found, str):
            yield error(node, f"its files could not be read, so its CAs are not compared: {found}")
    if len(read) < 2:
        yield passed("control plane", f"{len(read)} control-plane node(s) read: nothing to compare", notable=True)
        return
    first = next(iter(read))
    for name in _SHARED:
        prints = {node: _fingerprint(found, name) for node, found in read.items()}
        reference = prints[first]
        odd = sorted(node for node, value in prints.items() if value != reference)
        facts: dict[str, Any] = {"sha256_by_node": prints}
        if odd:
            yield failed(name, f"differs on {', '.join(odd)} from {first}'s: the nodes do not share one {name}",
                         **facts)
        else:
            yield passed(name, f"the same on all {len(read)} control-plane nodes", **facts)


@implements("KC-HA-02", context=ClusterRenewalContext)
def renewal_reaches_every_node(ctx: ClusterRenewalContext) -> Iterator[Finding]:
    """KADM: on an HA cluster the renewal must run on every control-plane node."""
    run = ctx.run
    if run.problem is not None:
        yield error("renewal", run.problem, renewed=list(run.renewed))
        return
    skew = dt.timedelta(seconds=ctx.profile.clock_skew_seconds)
    period = dt.timedelta(days=ctx.profile.leaf_days)
    earliest, latest = run.started_at.replace(microsecond=0) + period - skew, run.finished_at + period + skew
    for node in sorted(ctx.before):
        was, now = ctx.before[node], ctx.after.get(node)
        if not isinstance(was, Inventory) or not isinstance(now, Inventory):
            yield error(node, f"its files could not be read {'before' if isinstance(was, str) else 'after'} the "
                        f"renewal: {was if isinstance(was, str) else now}")
            continue
        stale = [name for name in layout.RENEWED if _renewable(was, name) and not _renewed(was, now, name, earliest,
                                                                                               latest)]
        facts: dict[str, Any] = {"window": f"{fmt_time(earliest)} .. {fmt_time(latest)}", "stale": stale}
        if stale:
            yield failed(node, f"left with certificates from before the renewal: {', '.join(stale)}", **facts)
        else:
            yield passed(node, "every renewable certificate renewed", **facts)


def _certificate(inventory: Inventory, name: str) -> CertRecord | None:
    if name in inventory.certificates:
        return inventory.certificates[name]
    kubeconfig = inventory.kubeconfigs.get(name)
    return kubeconfig.client_cert if kubeconfig is not None else None


def _renewable(inventory: Inventory, name: str) -> bool:
    record = _certificate(inventory, name)
    if record is None:
        return False
    ca = inventory.certificates.get(layout.issuer_of(name) or "")
    return ca is not None and ca.key is not None  # an external CA's leaves are outside renewal (KC-REN-07)


def _renewed(was: Inventory, now: Inventory, name: str, earliest: dt.datetime, latest: dt.datetime) -> bool:
    old, new = _certificate(was, name), _certificate(now, name)
    return (old is not None and new is not None and old.fingerprint_sha256 != new.fingerprint_sha256
            and earliest <= new.not_after <= latest)
