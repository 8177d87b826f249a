"""The certificate part of ``kubeadm upgrade apply|node``: renewal per component, or none at all.

kubeadm (cmd/kubeadm/app/phases/upgrade/staticpods.go) renews a component's certificates just before
it replaces that component's static pod: etcd's server, peer and healthcheck-client (local etcd only),
then the API server's serving, kubelet-client, front-proxy-client and etcd-client certificates, then
the controller manager's and the scheduler's kubeconfig certificates, and last admin.conf's.
super-admin.conf and kubelet.conf are not renewed by an upgrade. ``--certificate-renewal=false``
renews nothing. A certificate whose CA is external is reported and left alone.

kubeadm skips a component whose manifest would not change; the reference stands for an upgrade to a
new version, where every component changes. Only certificates are written: the reference has no
static pods to restart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki import renewal_faults as faults
from kubecert.reference.pki.issue import BACKDATE, LEAF_DAYS
from kubecert.reference.pki.keys import KeyFactory
from kubecert.reference.pki.renew import EXTERNAL, MISSING, Renewer, local_etcd

_PREFIX = "[upgrade/staticpods]"


@dataclass(frozen=True)
class UpgradeResult:
    renewed: tuple[str, ...]
    log: tuple[str, ...]


def upgrade(
    root: Path, *, certificate_renewal: bool = True, keys: KeyFactory, now: dt.datetime, leaf_days: int = LEAF_DAYS,
    backdate: dt.timedelta = BACKDATE, fault: str | None = None, external_etcd: bool | None = None,
) -> UpgradeResult:
    """Upgrade the control plane of the tree at ``root``, renewing certificates as kubeadm does."""
    fault = faults.check_renewal_fault(fault, "upgrade")
    if external_etcd is None:
        external_etcd = not local_etcd(root)
    renews = certificate_renewal or fault == faults.RENEWAL_FLAG_IGNORED
    renewer = Renewer(root, keys=keys, now=now, leaf_days=leaf_days, backdate=backdate)
    wanted = set(layout.upgrade_renews(external_etcd))
    log: list[str] = []
    renewed: list[str] = []

    def renew(name: str, announce: bool) -> None:
        if announce:
            log.append(f"{_PREFIX} Renewing {name} certificate")
        outcome = renewer.renew(name)
        if outcome == MISSING:
            raise ReferenceUsageError(f"failed to renew certificates: {name} is missing, and kubeadm rolls the "
                                      "upgrade back")
        if outcome == EXTERNAL:
            log.append(f"{_PREFIX} External CA detected, {name} certificate can't be renewed")
        else:
            renewed.append(name)

    for component, names in layout.UPGRADE_COMPONENTS:
        if component == "etcd" and external_etcd:
            continue
        log.append(f'{_PREFIX} Preparing for "{component}" upgrade')
        if renews:
            for name in names:
                if name in wanted:
                    renew(name, announce=True)
        log.append(f'{_PREFIX} Component "{component}" upgraded successfully!')
    if renews:
        for name in layout.UPGRADE_RENEWS_AFTER_COMPONENTS:
            renew(name, announce=False)  # kubeadm renews admin.conf without a line of its own
    return UpgradeResult(renewed=tuple(renewed), log=tuple(log))
