"""Judging one rule on one target, the same way whichever runner asks: the gates, then the context, then the
rule. Every check calls ``judge``: a check per (rule, target) once, a fleet check in a loop, a check written by
hand with the context its fixtures made. A verdict reached without judging says why as data (``Unjudged``, the
options that would let the rule run), never only in its message.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubecert.contexts import CannotJudge, CheckCouldNotRun
from kubecert.pytest_plugin.session import KubecertSession
from kubecert.rules import catalog, selection
from kubecert.rules.catalog import Rule
from kubecert.rules.evaluate import evaluate
from kubecert.rules.findings import Unjudged, Verdict
from kubecert.status import Status
from kubecert.targets.errors import TargetUnavailable
from kubecert.text import escaped_multiline

ALLOW = "--allow-disruptive"

def selected(rule_id: str, patterns: Iterable[str]) -> bool:
    """Whether --rule's patterns choose the rule (no pattern: every rule; any case)."""
    return selection.matches(rule_id, patterns)


def selected_rules(state: KubecertSession, target_id: str) -> list[Rule]:
    """The implemented, selected rules that concern the target's kind, in catalog order (found once per target)."""
    if target_id not in state.selected:
        target, patterns = state.targets[target_id], state.settings.rule_patterns
        state.selected[target_id] = [rule for rule in catalog.all_rules() if rule.implemented and selected(
            rule.id, patterns) and target.concerns(rule.capabilities)]
    return state.selected[target_id]


def gate(state: KubecertSession, rule: Rule, target_id: str) -> Verdict | None:
    """Why ``rule`` is not run on the target, before anything acts on it: the node's role, a capability the
    target lacks, the disruptive opt-in. None when it runs."""
    unconcerned = state.contexts[target_id].outside_role(rule)
    if unconcerned:
        return Verdict.single(rule.id, Status.NOT_APPLICABLE, unconcerned, Unjudged.OTHER_ROLE)
    target = state.targets[target_id]
    missing = target.missing_capability(rule.capabilities)
    if missing:
        return Verdict.single(rule.id, Status.SKIPPED, missing, Unjudged.MISSING_CAPABILITY,
                              target.options_for(rule.capabilities))
    if rule.disruptive and not state.disruptive_allowed(target_id):
        return Verdict.single(rule.id, Status.SKIPPED, f"{rule.id} changes the target; pass {ALLOW} to run it",
                              Unjudged.OPT_IN, (ALLOW,))
    return None


def judge(state: KubecertSession, rule: Rule, target_id: str, context: object | None = None) -> Verdict:
    """The verdict of ``rule`` on the target (on ``context`` when a check made its own): whatever goes wrong is
    this rule's error, never the run's."""
    stopped = gate(state, rule, target_id)
    if stopped is not None:
        return stopped
    if context is not None:
        return evaluate(rule, context)
    try:
        context = state.contexts[target_id].for_rule(rule)
    except CannotJudge as exc:
        return Verdict.single(rule.id, Status.SKIPPED, str(exc), Unjudged.CANNOT_JUDGE)
    except (TargetUnavailable, CheckCouldNotRun) as exc:
        return Verdict.single(rule.id, Status.ERROR, escaped_multiline(str(exc)))
    except Exception as exc:  # a target's bug must not take the other targets down with it
        return Verdict.single(rule.id, Status.ERROR, escaped_multiline(
            f"could not set up the check: {type(exc).__name__}: {exc}"))
    return evaluate(rule, context)
