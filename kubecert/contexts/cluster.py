"""The contexts of the rules that renew a cluster as a whole (``ClusterActions``): every control-plane node's
files before and after a renewal (KC-HA-02), and the Node objects before and after a control-plane-only
renewal (KC-CL-04). Each renewal runs once per target and run, under the cluster's lock."""

from __future__ import annotations

import datetime as dt

from kubecert.capabilities import Action
from kubecert.contexts.errors import CheckCouldNotRun
from kubecert.rules.cluster import NodesRenewalContext
from kubecert.rules.context import RuleContext
from kubecert.rules.fleet import ClusterRenewalContext
from kubecert.targets.base import Target
from kubecert.targets.lock import target_lock
from kubecert.targets.protocols import ClusterActions

LOCK_WAIT_S = 1800.0


class NotACluster(CheckCouldNotRun):
    """The target declares node_files or renew for a cluster but does not offer ClusterActions."""


class ClusterContexts:
    """The cluster renewals of one target in one run: each once, each observed before and after."""

    def __init__(self, target: Target, at: dt.datetime | None) -> None:
        self.target = target
        self.at = at
        self._made: dict[Action, RuleContext] = {}

    def context(self, step: Action) -> RuleContext:
        if step not in self._made:
            with target_lock(self.target.lock_key, shared=False, timeout=LOCK_WAIT_S):
                self._made[step] = self._make(step)
        return self._made[step]

    def _make(self, step: Action) -> RuleContext:
        target = self.target
        if not isinstance(target, ClusterActions):
            raise NotACluster(f"{target.id} does not renew a cluster as a whole")
        inventory = target.observe()
        if step is Action.CLUSTER_RENEWAL:
            before = target.node_inventories()
            run = target.renew_cluster(False)
            after = target.node_inventories()
            return ClusterRenewalContext(inventory, target.profile, self.at or run.finished_at, before=before,
                                         after=after, run=run)
        nodes_before = target.node_objects()
        run = target.renew_cluster(True)
        return NodesRenewalContext(inventory, target.profile, self.at or run.finished_at, before=nodes_before,
                                   after=target.node_objects(), renewed=run.renewed)
