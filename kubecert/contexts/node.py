"""Acting on a node for the renewal checks: each action once per target and run, observed before and after.

The catalog says which action a rule judges: one ``renew all`` serves every rule with ``action =
"renew-all"`` (KC-REN-01..04, 06, 07); ``renew NAME`` KC-REN-05; one CSR-only renewal KC-CSR-01 and 02;
two upgrades (certificate renewal on, then off) KC-UPG-01; the probe ``check-expiration`` KC-CHK-01.
Each action holds the target's lock from the observation before it to the observation after it, so no
other process reads the target half-changed. The node is parsed again after each action (it changed),
and before one only if its files changed since the last parse.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubecert import layout
from kubecert.capabilities import Action, Probe
from kubecert.inventory.action import ActionRecord
from kubecert.inventory.csrs import load_csr_dir
from kubecert.inventory.model import Inventory
from kubecert.inventory.snapshot import Snapshot, snapshot_files
from kubecert.profiles import Profile
from kubecert.rules._common import is_external
from kubecert.rules.context import RuleContext
from kubecert.rules.renewal import ActionObservation, ListingContext, RenewalContext, UpgradeContext
from kubecert.targets.base import Target
from kubecert.targets.commands import DEFAULT_ACTION_TIMEOUT, CommandActions
from kubecert.targets.lock import target_lock
from kubecert.targets.protocols import ActsOnNode, NodeActions

# The certificate renew-one renews: the first of these whose CA is managed here.
RENEW_ONE_PREFERENCE = ("apiserver", "front-proxy-client", "etcd-server", *layout.RENEWED)
LOCK_WAIT_FACTOR = 3  # how many action timeouts to wait for another process's actions on the target


class ActionRunner:
    """Runs the actions of one node and keeps what each observed, so each runs once."""

    def __init__(self, actions: NodeActions, observe: Callable[[], Inventory], profile: Profile) -> None:
        self.actions = actions
        self.observe = observe
        self.profile = profile
        self.done: dict[Action | Probe, Any] = {}
        self._last: tuple[Snapshot, Inventory] | None = None  # the latest observation and the files it saw

    def _snapshot(self) -> Snapshot:
        return snapshot_files(self.actions.pki_dir, self.actions.kubeconfig_dir)

    def _current(self, files: Snapshot) -> Inventory:
        """The node as it is: the last observation while no file has changed since, else a new one."""
        if self._last is not None and self._last[0] == files:
            return self._last[1]
        return self.observe()

    def _observed(self, run: Callable[[str | None], ActionRecord], *,
                  choose: Callable[[Inventory], str] | None = None, csr_dir: Path | None = None) -> ActionObservation:
        files_before = self._snapshot()
        before = self._current(files_before)
        subject = choose(before) if choose is not None else None
        record = run(subject)
        after = self.observe()
        files_after = self._snapshot()
        self._last = (files_after, after)
        csrs = load_csr_dir(csr_dir) if csr_dir is not None else None
        observation = ActionObservation(record, before, after, files_before, files_after, subject=subject,
                                        csr_dir=csr_dir, csrs=csrs)
        # Before any of the output is cut for evidence: the keys the node holds, before and after, in any encoding.
        return dataclasses.replace(observation, action=record.cleaned(observation.key_traces))

    def renew_all(self) -> ActionObservation:
        return self._observed(lambda _: self.actions.renew_all())

    def renew_one(self) -> ActionObservation:
        return self._observed(lambda name: self.actions.renew_one(name or "apiserver"), choose=self.choose_one)

    @staticmethod
    def choose_one(inventory: Inventory) -> str:
        for name in RENEW_ONE_PREFERENCE:
            ca = inventory.certificates.get(layout.issuer_of(name) or "")
            present = name in inventory.certificates or name in inventory.kubeconfigs
            if present and ca is not None and not is_external(ca, inventory):
                return name
        return "apiserver"

    def generate_csr(self) -> ActionObservation:
        # A fresh folder of our own (mkdtemp makes it 0700) and a name in it that does not exist yet: the
        # command makes the CSR folder, so its mode is the command's. Removed as soon as it has been read,
        # since it holds private keys.
        parent = Path(tempfile.mkdtemp(prefix="kubecert-csr-"))
        try:
            csr_dir = parent / "csr"
            return self._observed(lambda _: self.actions.generate_csr(csr_dir), csr_dir=csr_dir)
        finally:
            shutil.rmtree(parent, ignore_errors=True)

    def upgrades(self) -> tuple[ActionObservation, ActionObservation]:
        # With renewal first: that is the real upgrade (kubeadm renews nothing for a component whose
        # version does not change, so a second upgrade could not show renewal). Then once more without.
        on = self._observed(lambda _: self.actions.upgrade(True))
        off = self._observed(lambda _: self.actions.upgrade(False))
        return off, on

    def listing(self) -> tuple[ActionRecord, Inventory]:
        record = self.actions.check_expiration()
        inventory = self._current(self._snapshot())
        return record.cleaned(inventory.key_traces), inventory

    def run(self, step: Action | Probe) -> Any:
        if step not in self.done:
            work: dict[Action | Probe, Callable[[], Any]] = {
                Action.RENEW_ALL: self.renew_all, Action.RENEW_ONE: self.renew_one,
                Action.GENERATE_CSR: self.generate_csr, Action.UPGRADE: self.upgrades,
                Probe.CHECK_EXPIRATION: self.listing,
            }
            self.done[step] = work[step]()
        return self.done[step]

    def context(self, step: Action | Probe) -> RuleContext:
        """What a rule of ``step`` judges, acting on the node first if this run has not yet."""
        result = self.run(step)
        if step is Action.UPGRADE:
            off, on = result
            return UpgradeContext(inventory=on.after, profile=self.profile, now=on.after.observed_at,
                                  without_renewal=off, with_renewal=on)
        if step is Probe.CHECK_EXPIRATION:
            record, inventory = result
            return ListingContext(inventory=inventory, profile=self.profile, now=inventory.observed_at, action=record)
        return RenewalContext(inventory=result.after, profile=self.profile, now=result.after.observed_at,
                              observation=result)


def node_actions(target: Target) -> NodeActions | None:
    return target.node_actions() if isinstance(target, ActsOnNode) else None


class NodeContexts:
    """The node steps of one target in one run: each acted once, under the target's lock."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._runner: ActionRunner | None = None

    def context(self, step: Action | Probe) -> RuleContext | None:
        """What a rule of ``step`` judges; None when the target cannot act on a node."""
        actions = node_actions(self.target)
        if actions is None:
            return None
        if self._runner is None:
            self._runner = ActionRunner(actions, self.target.reobserve, self.target.profile)
        timeout = actions.timeout if isinstance(actions, CommandActions) else DEFAULT_ACTION_TIMEOUT
        with target_lock(self.target.lock_key, shared=step is Probe.CHECK_EXPIRATION,
                         timeout=timeout * LOCK_WAIT_FACTOR):
            return self._runner.context(step)
