"""The contexts of the management-API rules, made from a target that offers the API (``ManagementApi``):
the access probe's answers, and renewals and upgrades requested through the API and watched."""

from __future__ import annotations

import datetime as dt
from typing import cast

from kubecert.capabilities import Action, Probe
from kubecert.contexts.errors import CheckCouldNotRun
from kubecert.inventory.model import Inventory
from kubecert.inventory.platform_inventory import PlatformInventory
from kubecert.rules.api import AccessContext, ListingOverwriteContext
from kubecert.rules.context import RuleContext
from kubecert.rules.repave import ApiRenewalContext, ApiUpgradeContext, RefusedRenewalContext
from kubecert.targets.base import Target
from kubecert.targets.errors import TargetUnavailable, TargetUnresponsive
from kubecert.targets.protocols import ManagementApi

# Each step and the ManagementApi method that carries it out.
_METHODS: dict[Action | Probe, str] = {
    Probe.ACCESS: "access_probes", Action.API_RENEWAL: "renewal", Action.API_RENEWAL_CONTROLPLANE_ONLY: "renewal",
    Action.UNAUTHENTICATED_RENEWAL: "unauthenticated_renewal", Action.API_UPGRADE: "upgrade",
    Action.API_LISTING_OVERWRITE: "listing_overwrite",
}
API_STEPS: frozenset[Action | Probe] = frozenset(_METHODS)


class NotAnApi(CheckCouldNotRun):
    """The target declares the api capability but does not offer the ManagementApi method a step needs."""


def api_context(target: Target, step: Action | Probe, at: dt.datetime | None) -> RuleContext:
    # Only the method this step needs is asked for: a target written before upgrade() was added to
    # ManagementApi (and so without the upgrade capability) still has its other API rules judged.
    method = _METHODS[step]
    if not callable(getattr(target, method, None)):
        raise NotAnApi(f"{target.id} declares the api capability but does not offer {method}() "
                       "(kubecert.targets.ManagementApi)")
    api = cast(ManagementApi, target)
    if step is Probe.ACCESS:
        inventory = _observed_if_possible(target)
        return AccessContext(inventory, target.profile, at or inventory.observed_at, probes=api.access_probes())
    inventory = target.observe()
    profile, now = target.profile, at or inventory.observed_at
    if step is Action.UNAUTHENTICATED_RENEWAL:
        return RefusedRenewalContext(inventory, profile, now, refused=api.unauthenticated_renewal())
    if step is Action.API_UPGRADE:
        return ApiUpgradeContext(inventory, profile, now, upgrade=api.upgrade())
    if step is Action.API_LISTING_OVERWRITE:
        return ListingOverwriteContext(inventory, profile, now, overwrite=api.listing_overwrite())
    controlplane_only = step is Action.API_RENEWAL_CONTROLPLANE_ONLY
    return ApiRenewalContext(inventory, profile, now, renewal=api.renewal(controlplane_only=controlplane_only))


def _observed_if_possible(target: Target) -> Inventory:
    """The observation, or an empty one when it could not be taken: the access probe is asked anyway, sends
    nothing then and says why, but keeps what the failed reads' answers repeated, so that a listing redirected
    elsewhere with the key in the address still fails KC-API-06. A target that stopped answering is asked
    nothing more."""
    try:
        return target.observe()
    except TargetUnresponsive:
        raise
    except TargetUnavailable:
        return PlatformInventory(target=target.id, observed_at=dt.datetime.now(dt.UTC))
