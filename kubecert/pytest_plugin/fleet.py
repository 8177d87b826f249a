"""Fleet checks: one pytest item per target that judges every rule on it, instead of one per (rule, target).

With a thousand targets and sixty rules an item per pair costs pytest far more than the rules do; a fleet
item reads its target once, judges each selected rule with the same gates and contexts as a check per
pair (judging.py), and hands every result to the reports, so both modes write the same results. Its
read-only rules and the ones that change the target are two items (``fleet[T]``, ``fleet-disruptive[T]``):
every target is judged as found before any is changed, as in the per-pair mode.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from kubecert.options import AUTO_FLEET_TARGETS
from kubecert.pytest_plugin.collect import check_name, mark_disruptive, mark_group
from kubecert.pytest_plugin.judging import judge, selected_rules
from kubecert.pytest_plugin.outcomes import TARGET_KEY, report_path, result_from_verdict
from kubecert.pytest_plugin.session import KubecertSession, kubecert_session
from kubecert.reports.results import Result
from kubecert.rules.catalog import Rule
from kubecert.status import Status
from kubecert.targets.base import Target

FLEET, FLEET_DISRUPTIVE = "fleet", "fleet-disruptive"


def fleet_wanted(mode: str, targets: Mapping[str, Target]) -> bool:
    return mode == "fleet" or (mode == "auto" and len(targets) >= AUTO_FLEET_TARGETS)


def rules_of(state: KubecertSession, target_id: str, disruptive: bool) -> list[Rule]:
    """The rules a fleet item of this target judges."""
    return [rule for rule in selected_rules(state, target_id) if rule.disruptive == disruptive]


def fleet_name(target_id: str, disruptive: bool) -> str:
    return f"{FLEET_DISRUPTIVE if disruptive else FLEET}[{target_id}]"


def check_nodeid(path: str, rule_id: str, target_id: str) -> str:
    """The node id a result of ``rule_id`` has in every report, whichever mode judged it."""
    return f"{path}::{check_name(rule_id, target_id)}"


class FleetCheck(pytest.Item):
    """Every selected rule of one kind (read-only or disruptive) on one target."""

    def __init__(self, *, disruptive: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.disruptive = disruptive
        self.results: list[Result] = []
        self.options: list[tuple[str, ...]] = []  # what each result needs to be judged (judging.gate)
        self.last_of_target = True  # no later check judges this target: its observation may go after this one

    def runtest(self) -> None:
        state = kubecert_session(self.config)
        target_id = self.stash[TARGET_KEY]
        path = report_path(self)
        for rule in rules_of(state, target_id, self.disruptive):
            started = time.perf_counter()
            verdict = judge(state, rule, target_id)
            self.options.append(verdict.options)
            self.results.append(result_from_verdict(
                rule, target_id, verdict, check_nodeid(path, rule.id, target_id),
                duration_s=round(time.perf_counter() - started, 6)))
        said = _not_passed(self.results)
        if said:  # no result is a local of this frame: a failure's traceback outlives the check
            pytest.fail(said, pytrace=False)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


def _not_passed(results: list[Result]) -> str:
    return ", ".join(f"{r.rule} {r.status}" for r in results if r.status in (Status.FAILED, Status.ERROR))


def fleet_items(collector: pytest.Collector, state: KubecertSession) -> list[pytest.Item]:
    """Per group of targets that lock together (a cluster and its nodes; most targets alone): their read-only
    checks, then the ones that change them."""
    groups: dict[str, list[str]] = {}
    for target_id, target in state.targets.items():
        groups.setdefault(target.lock_key, []).append(target_id)
    items: list[pytest.Item] = []
    for members in groups.values():
        read_only = [_item(collector, target_id, state, disruptive=False) for target_id in members]
        changing = [_item(collector, target_id, state, disruptive=True) for target_id in members]
        items += [item for item in (*read_only, *changing) if item is not None]
    return items


def mark_last_checks(items: list[pytest.Item]) -> None:
    """Which fleet check is the last of its target among those that will run (after deselection)."""
    seen: set[str] = set()
    for item in reversed(items):
        if isinstance(item, FleetCheck):
            item.last_of_target = item.stash[TARGET_KEY] not in seen
            seen.add(item.stash[TARGET_KEY])


def _item(collector: pytest.Collector, target_id: str, state: KubecertSession, *,
          disruptive: bool) -> FleetCheck | None:
    if not rules_of(state, target_id, disruptive):
        return None
    item = FleetCheck.from_parent(collector, name=fleet_name(target_id, disruptive), disruptive=disruptive)
    item.stash[TARGET_KEY] = target_id
    if disruptive:
        mark_disruptive(item)
    mark_group(item, state.targets[target_id].lock_key)
    return item
