"""What each rule judges, made from a target: its observation, the answers to a probe, or the target
before and after an action. The catalog names the probe or action (``probe = "access"``, ``action =
"renew-all"``); each is made once per target and run and serves every rule that judges it.

This is where targets and rules meet; it knows nothing of pytest, so a runner other than the plugin
(a fleet run, a test) judges a target the same way.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING

from kubecert.capabilities import Action, Probe
from kubecert.contexts.errors import CheckCouldNotRun
from kubecert.rules.catalog import Rule
from kubecert.rules.context import RuleContext
from kubecert.rules.evaluate import outside_role
from kubecert.targets.base import Target
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.lock import target_lock

if TYPE_CHECKING:
    from kubecert.contexts.cluster import ClusterContexts
    from kubecert.contexts.node import NodeContexts

OBSERVATION_LOCK_WAIT = 1800.0  # seconds: the longest another process may act on the target first
# Each step's context (and the modules of the rules that judge it) is imported when a rule of the step is judged:
# a check that acts on nothing (a node's files, read) needs none of them.
NODE_STEPS: frozenset[Action | Probe] = frozenset(
    {Action.RENEW_ALL, Action.RENEW_ONE, Action.GENERATE_CSR, Action.UPGRADE, Probe.CHECK_EXPIRATION})
CLUSTER_STEPS: frozenset[Action] = frozenset({Action.CLUSTER_RENEWAL, Action.CLUSTER_RENEWAL_CONTROLPLANE_ONLY})


def __getattr__(name: str) -> frozenset[Action | Probe]:
    if name == "STEPS":  # every step some context makes (a test holds it to every Action and Probe)
        from kubecert.contexts.api import API_STEPS

        return NODE_STEPS | API_STEPS | CLUSTER_STEPS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CannotJudge(Exception):
    """The rule cannot be judged on this target (it cannot act, or offers no API): a skip, with the reason."""


class TargetContexts:
    """The contexts of one target in one run; ``at`` is the clock date rules judge by (None: observation time)."""

    def __init__(self, target: Target, at: dt.datetime | None = None) -> None:
        self.target = target
        self.at = at
        self.used = False  # whether this process read or acted on the target (xdist workers report it)

    @cached_property
    def _node(self) -> NodeContexts:
        from kubecert.contexts.node import NodeContexts

        return NodeContexts(self.target)

    @cached_property
    def _cluster(self) -> ClusterContexts:
        from kubecert.contexts.cluster import ClusterContexts

        return ClusterContexts(self.target, self.at)

    def observation(self) -> RuleContext:
        """The plain observation, read once under the target's shared lock (never while another process acts).
        A target that could not be read is not tried again, nor locked, for each rule."""
        self.used = True
        inventory = self.target.kept_observation()
        if inventory is None:
            with target_lock(self.target.lock_key, shared=True, timeout=OBSERVATION_LOCK_WAIT):
                inventory = self.target.observe()
        return RuleContext(inventory=inventory, profile=self.target.profile, now=self.at or inventory.observed_at)

    def outside_role(self, rule: Rule) -> str | None:
        """Why ``rule`` does not concern this node's role (a control-plane rule on a worker), or None: asked
        before anything is done for the rule, so that a worker is never renewed or listed as a control plane."""
        if not rule.roles or not self.target.reads_one_node:
            return None
        try:
            inventory = self.observation().inventory
        except TargetUnavailable:
            return None  # the check itself says why the target cannot be read
        return outside_role(rule, inventory.facts, self.target.id)

    def for_rule(self, rule: Rule) -> RuleContext:
        """What ``rule`` judges on this target, doing its action or probe first if this run has not yet."""
        self.used = True
        step = rule.action or rule.probe
        if step is None:
            return self.observation()
        if step in NODE_STEPS:
            context = self._node.context(step)
            if context is None:
                raise CannotJudge(f"{self.target.id} cannot act on a node")
            return context
        if isinstance(step, Action) and step in CLUSTER_STEPS:
            return self._cluster.context(step)
        from kubecert.contexts.api import api_context

        return api_context(self.target, step, self.at)


__all__ = ["STEPS", "CannotJudge", "CheckCouldNotRun", "TargetContexts"]
