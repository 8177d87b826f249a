"""Checks generated from the catalog: one pytest item per (implemented rule, target the rule concerns).

The conformance module holds one ``CatalogChecks`` object; the plugin expands it here, so a rule needs
no code of its own in the suite. An item is named after its rule and target (``KC-VAL-01[pki:/etc/...]``),
carries the rule as its ``kubecert_rule`` marker (with ``id`` and ``family``), ``kubecert_disruptive`` when it
changes the target, and the rule's function name as a keyword, so ``-k leaf_validity``, ``-k KC-VAL``,
``-m "kubecert_rule(family='validity')"``, ``-m "not kubecert_disruptive"`` and ``--rule 'KC-VAL-*'`` all
select. The unprefixed ``disruptive`` marker is still given beside it for a deprecation period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from kubecert.pytest_plugin.distribution import distributed, group_marker
from kubecert.pytest_plugin.judging import selected
from kubecert.pytest_plugin.outcomes import RULE_MARKER, TARGET_KEY, CheckOutcome
from kubecert.rules import catalog
from kubecert.rules.catalog import Rule
from kubecert.targets.base import Target

DISRUPTIVE_MARKER = "kubecert_disruptive"
DEPRECATED_DISRUPTIVE_MARKER = "disruptive"  # given beside it until kubecert 1.0: `-m "not disruptive"` still works


class CatalogChecks:
    """Stands for every check of the catalog in a test module; the plugin turns it into the items."""


def run_check(kubecert_verdict: CheckOutcome) -> None:
    """Every catalog item runs this: the verdict fixture judged the rule, this turns it into the outcome."""
    kubecert_verdict.assert_passed()


def mark_disruptive(item: pytest.Item) -> None:
    item.add_marker(getattr(pytest.mark, DISRUPTIVE_MARKER))
    item.add_marker(getattr(pytest.mark, DEPRECATED_DISRUPTIVE_MARKER))


def mark_group(item: pytest.Item, lock_key: str) -> None:
    """One worker for everything that locks together (a cluster and its nodes): read once, one actor at a time."""
    if distributed(item.config) and item.get_closest_marker("xdist_group") is None:
        item.add_marker(group_marker(lock_key))


def catalog_items(collector: pytest.Collector, targets: Mapping[str, Target],
                  patterns: Iterable[str]) -> list[pytest.Item]:
    chosen = tuple(patterns)
    items: list[pytest.Item] = []
    for rule in catalog.all_rules():
        if not rule.implemented or not selected(rule.id, chosen):
            continue
        for target_id, target in targets.items():
            if target.concerns(rule.capabilities):
                items.append(_item(collector, rule, target_id, target.lock_key))
    return items


def check_name(rule_id: str, target_id: str) -> str:
    """A catalog check's name: its rule and target (the id in the reports of a fleet check's results too)."""
    return f"{rule_id}[{target_id}]"


def _item(collector: pytest.Collector, rule: Rule, target_id: str, lock_key: str) -> pytest.Item:
    # No originalname: pytest builds a node id from it and a callspec, and these items have no callspec.
    item = pytest.Function.from_parent(collector, name=check_name(rule.id, target_id), callobj=run_check)
    item.stash[TARGET_KEY] = target_id
    # Markers now, at creation, so that everything reading them later (xdist's scheduling, -m) sees them.
    item.add_marker(getattr(pytest.mark, RULE_MARKER)(rule.id, id=rule.id, family=rule.family))
    if rule.disruptive:
        mark_disruptive(item)
    mark_group(item, lock_key)
    item.extra_keyword_matches.add(rule.family)
    if collector.config.option.keyword:
        # Only -k reads keywords, and the function's name is found by importing its family: a check that skips a
        # family's rules (a node with no renewal command) then never imports it.
        item.extra_keyword_matches.add(rule.check_name)
    return item
