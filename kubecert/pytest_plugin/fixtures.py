"""The fixtures checks use: the target, its inventory and profile, the clock, the context and the verdict.

``kubecert_context`` is what the check's rule judges: the plain observation, or the answers to its probe,
or the target before and after its action, as the catalog says (kubecert.contexts). A check written by
hand may override it; ``kubecert_verdict`` judges the marked rule on whatever context it gets, through the
one judge every check calls (judging.py).
"""

from __future__ import annotations

import datetime as dt

import pytest

from kubecert.contexts import CannotJudge, CheckCouldNotRun, TargetContexts
from kubecert.inventory.model import Inventory
from kubecert.profiles import Profile
from kubecert.pytest_plugin.judging import judge
from kubecert.pytest_plugin.outcomes import VERDICT_KEY, CheckOutcome, rule_of, target_id_of
from kubecert.pytest_plugin.session import kubecert_session
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Unjudged, Verdict
from kubecert.status import Status
from kubecert.targets.base import Target


def _contexts(request: pytest.FixtureRequest) -> TargetContexts:
    target_id = target_id_of(request.node)
    if target_id is None:
        raise pytest.UsageError(f"{request.node.nodeid}: kubecert fixtures need a kubecert check "
                                "(@pytest.mark.kubecert_rule(ID) and the kubecert_target fixture)")
    return kubecert_session(request.config).contexts[target_id]


@pytest.fixture
def kubecert_target(request: pytest.FixtureRequest) -> Target:
    """The target this check runs against (one item per rule and target)."""
    return _contexts(request).target


@pytest.fixture
def kubecert_profile(kubecert_target: Target) -> Profile:
    return kubecert_target.profile


@pytest.fixture
def kubecert_inventory(request: pytest.FixtureRequest, kubecert_target: Target) -> Inventory:
    """The target's observation, taken once per run and shared by every read-only check."""
    return _contexts(request).observation().inventory


@pytest.fixture
def kubecert_clock(request: pytest.FixtureRequest, kubecert_inventory: Inventory) -> dt.datetime:
    """"Now" for every date rule: --at when given, else the moment the target was observed."""
    return _contexts(request).at or kubecert_inventory.observed_at


@pytest.fixture
def kubecert_context(request: pytest.FixtureRequest, kubecert_target: Target) -> RuleContext:
    """What this check's rule judges on the target, its action or probe done first if the run has not yet."""
    rule = rule_of(request.node)
    try:
        return _contexts(request).for_rule(rule)
    except CannotJudge as exc:
        skipped = request.node.stash[VERDICT_KEY] = Verdict.single(rule.id, Status.SKIPPED, str(exc),
                                                                   Unjudged.CANNOT_JUDGE)
        pytest.skip(skipped.message)


@pytest.fixture
def kubecert_verdict(request: pytest.FixtureRequest, kubecert_context: object) -> CheckOutcome:
    """The marked rule's verdict on this target; errors and skips surface here, during setup."""
    node = request.node
    verdict = node.stash[VERDICT_KEY] = judge(kubecert_session(request.config), rule_of(node), target_id_of(node)
                                              or "", kubecert_context)
    if verdict.status is Status.ERROR:
        raise CheckCouldNotRun(verdict.message)
    if verdict.status in (Status.SKIPPED, Status.NOT_APPLICABLE):  # the stashed verdict tells them apart
        pytest.skip(verdict.message)
    return CheckOutcome(verdict)
