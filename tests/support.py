"""Helpers shared by the project's tests: judging a tree in-process, and editing one in place."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from kubecert.inventory import Inventory, load_pki
from kubecert.rules import BUILTIN_PROFILES, RuleContext, Status, Verdict, evaluate_all


def observe(root: Path, profile: str = "palette", **overrides: Any) -> tuple[Inventory, Any]:
    chosen = dataclasses.replace(BUILTIN_PROFILES[profile], **overrides) if overrides else BUILTIN_PROFILES[profile]
    return load_pki(root / "pki", declared=chosen.declarations()), chosen


def judge(root: Path, profile: str = "palette", at: dt.datetime | None = None, **overrides: Any) -> dict[str, Verdict]:
    """Every implemented static rule's verdict on the kubeadm tree at ``root`` (``root/pki`` + kubeconfigs)."""
    inventory, chosen = observe(root, profile, **overrides)
    context = RuleContext(inventory=inventory, profile=chosen, now=at or inventory.observed_at)
    return evaluate_all(context)


def statuses(verdicts: dict[str, Verdict]) -> dict[str, Status]:
    return {rule: verdict.status for rule, verdict in verdicts.items()}


def not_passing(verdicts: dict[str, Verdict]) -> dict[str, str]:
    """Rules that did not pass (not_applicable is a pass here), with their messages: an assertion's best view."""
    return {
        rule: f"{v.status}: {v.message}" for rule, v in verdicts.items()
        if v.status not in (Status.PASSED, Status.NOT_APPLICABLE)
    }
