"""The contexts of the management-API rules, made from a target that offers the API (``ManagementApi``):
the access probe's answers, and renewals requested through the API and watched."""

from __future__ import annotations

import datetime as dt

from kubecert.capabilities import Action, Probe
from kubecert.rules.api import AccessContext
from kubecert.rules.context import RuleContext
from kubecert.rules.repave import ApiRenewalContext, RefusedRenewalContext
from kubecert.targets.base import Target
from kubecert.targets.protocols import ManagementApi

API_STEPS: frozenset[Action | Probe] = frozenset(
    {Probe.ACCESS, Action.API_RENEWAL, Action.API_RENEWAL_CONTROLPLANE_ONLY, Action.UNAUTHENTICATED_RENEWAL})


class CheckCouldNotRun(Exception):
    """The check could not be carried out (unreadable input, target down, a target that breaks its
    contract): an error, not a failure."""


class NotAnApi(CheckCouldNotRun):
    """The target declares the api capability but does not offer ManagementApi's methods."""


def api_context(target: Target, step: Action | Probe, at: dt.datetime | None) -> RuleContext:
    if not isinstance(target, ManagementApi):
        raise NotAnApi(f"{target.id} declares the api capability but does not offer access_probes(), renewal() "
                       "and unauthenticated_renewal()")
    inventory = target.observe()
    profile, now = target.profile, at or inventory.observed_at
    if step is Probe.ACCESS:
        return AccessContext(inventory, profile, now, probes=target.access_probes())
    if step is Action.UNAUTHENTICATED_RENEWAL:
        return RefusedRenewalContext(inventory, profile, now, refused=target.unauthenticated_renewal())
    controlplane_only = step is Action.API_RENEWAL_CONTROLPLANE_ONLY
    return ApiRenewalContext(inventory, profile, now, renewal=target.renewal(controlplane_only=controlplane_only))
