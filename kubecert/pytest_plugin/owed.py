"""The results each check kubecert made owes the reports: one that never comes (its process died) is reported as
an error, never left out. In the process they are read from the item (its rule and target travel on it as data);
under xdist the controller sees node ids only, so an id is looked up among the names kubecert gives its checks
(made from the run's targets and rules by the functions that name the items): the lookup finds a check kubecert
made or nothing, and no rule or target is read out of the id.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kubecert.pytest_plugin.collect import check_name
from kubecert.pytest_plugin.fleet import FleetCheck, check_nodeid, fleet_name, fleet_wanted, rules_of
from kubecert.pytest_plugin.judging import selected_rules
from kubecert.pytest_plugin.outcomes import TARGET_KEY, report_nodeid, report_path, rule_id_of
from kubecert.pytest_plugin.session import KubecertSession
from kubecert.rules.catalog import Rule


@dataclass(frozen=True, slots=True)  # one per result a fleet's checks owe
class Owed:
    check: str  # the node id of the check that owes it (its reports carry the result)
    rule: str
    target: str
    nodeid: str  # the result's node id in the reports

    @property
    def key(self) -> tuple[str, str, str]:
        return self.check, self.rule, self.target


def owed_by(item: pytest.Item, state: KubecertSession) -> list[Owed]:
    """What a check kubecert made owes, from the item itself (nothing for anyone else's test)."""
    target_id = item.stash.get(TARGET_KEY, None)
    if target_id is None:
        return []
    if isinstance(item, FleetCheck):
        path = report_path(item)
        return [Owed(item.nodeid, rule.id, target_id, check_nodeid(path, rule.id, target_id))
                for rule in rules_of(state, target_id, item.disruptive)]
    rule_id = rule_id_of(item)
    return [Owed(item.nodeid, rule_id, target_id, report_nodeid(item))] if rule_id is not None else []


class CheckNames:
    """The name of every check kubecert makes in this run → its target and the rules it judges."""

    def __init__(self, state: KubecertSession) -> None:
        self.by_name: dict[str, tuple[str, list[Rule]]] = {}
        fleet = fleet_wanted(state.settings.mode, state.targets)
        for target_id in state.targets:
            if fleet:
                for disruptive in (False, True):
                    self.by_name[fleet_name(target_id, disruptive)] = (target_id, rules_of(state, target_id,
                                                                                            disruptive))
            else:
                self.by_name.update((check_name(rule.id, target_id), (target_id, [rule]))
                                    for rule in selected_rules(state, target_id))

    def owed(self, nodeid: str) -> list[Owed]:
        """What the check of ``nodeid`` owes, when kubecert made it: its name is what follows one of the id's
        ``::``, with or without xdist's ``@group`` suffix (a target's URI may hold ``::`` or ``@`` itself)."""
        start = nodeid.find("::")
        while start >= 0:
            name = nodeid[start + 2:]
            found = self.by_name.get(name) or self.by_name.get(name.rpartition("@")[0])
            if found is not None:
                target_id, rules = found
                path = nodeid[:start]
                return [Owed(nodeid, rule.id, target_id, check_nodeid(path, rule.id, target_id)) for rule in rules]
            start = nodeid.find("::", start + 2)
        return []
