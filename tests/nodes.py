"""Node trees for the renewal tests, and judging an action on one in-process.

Trees here use P-256 keys made fresh: generating one costs microseconds, and renewal needs keys that
differ from every key already in the tree (KC-REN-04), which a small shared pool cannot promise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubecert.contexts import NODE_STEPS
from kubecert.contexts.node import ActionRunner
from kubecert.inventory import load_pki
from kubecert.reference.pki import FreshKeys, InitOptions, init_pki
from kubecert.rules import BUILTIN_PROFILES, Verdict, all_rules, evaluate, get
from kubecert.targets.reference.actions import ReferenceActions

# Every rule judged on what a node's action or listing did: KC-REN-*, KC-CSR-*, KC-CHK-01, KC-UPG-01.
NODE_RULES = sorted(r.id for r in all_rules() if (r.action or r.probe) in NODE_STEPS)

SECOND_NODE: dict[str, Any] = {
    "node_name": "cp-2", "advertise_address": "10.0.0.11", "super_admin": False, "external_ca": ("ca",),
}


def make_node(root: Path, *, external_ca: bool = False, age_days: int = 0) -> Path:
    """A control-plane node's /etc/kubernetes at ``root``, made ``age_days`` ago; with ``external_ca`` a
    second node without ca.key. A renewal can only be told from the first issuance on a node older than
    the clock-skew tolerance: that is how old the action tests' nodes are."""
    extra = SECOND_NODE if external_ca else {}
    made = dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)
    init_pki(root, InitOptions(key_algorithm="ECDSA-P256", **extra), keys=FreshKeys(), now=made)
    return root


def judge_actions(root: Path, rules: Iterable[str], *, fault: str | None = None,
                  profile: str = "palette") -> dict[str, Verdict]:
    """Each rule's verdict after the reference implementation acted on ``root`` (each action once)."""
    return judge_actions_with(ReferenceActions(root, fault=fault), root, rules, profile=profile)


def judge_actions_with(actions: ReferenceActions, root: Path, rules: Iterable[str], *,
                       profile: str = "palette") -> dict[str, Verdict]:
    """Each rule's verdict after ``actions`` acted on the node at ``root`` (each action once)."""
    chosen = BUILTIN_PROFILES[profile]
    runner = ActionRunner(actions, lambda: load_pki(root / "pki"), chosen)
    found = {}
    for rule_id in rules:
        rule = get(rule_id)
        step = rule.action or rule.probe
        assert step is not None, f"{rule_id} judges no action"
        found[rule_id] = evaluate(rule, runner.context(step))
    return found


def checksums(root: Path) -> dict[str, tuple[str, int]]:
    """SHA-256 and mode of every file below ``root``, and the mode of every folder."""
    found: dict[str, tuple[str, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        found[dirpath] = ("dir", stat.S_IMODE(os.stat(dirpath).st_mode))
        for name in files:
            path = Path(dirpath) / name
            found[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(path.stat().st_mode))
    return found
