"""Running one rule function and turning what it yields into a Verdict."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubecert.inventory.facts import NodeFacts
from kubecert.rules.catalog import Rule, all_rules
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, Unjudged, Verdict, error
from kubecert.status import Status


def outside_role(rule: Rule, facts: NodeFacts, target: str) -> str | None:
    """Why ``rule`` does not concern the node ``facts`` describe (a control-plane rule on a worker), or None."""
    if rule.concerns_role(facts.role):
        return None
    return (f"{rule.id} concerns {' and '.join(rule.roles)} nodes; {target} is a {facts.role} node "
            f"({facts.source('role')})")


def evaluate(rule: Rule, context: Any) -> Verdict:
    """The verdict of ``rule`` on ``context``; a bug in a rule becomes an error verdict, not a crash. Whatever
    text it carries is cleaned of private keys: the context's own, in any encoding, and any key's PEM or DER."""
    from kubecert.inventory.keymaterial import NO_TRACES, scrub_value  # cryptography: not for `kubecert rules`

    traces = context.known_keys() if isinstance(context, RuleContext) else NO_TRACES
    return _judged(rule, context).cleaned(lambda value: scrub_value(value, traces))


def _judged(rule: Rule, context: Any) -> Verdict:
    if rule.function is None:
        return Verdict.single(rule.id, Status.SKIPPED, f"{rule.id} is not implemented in this version",
                              Unjudged.NOT_IMPLEMENTED)
    if not isinstance(context, rule.context):
        return Verdict.single(rule.id, Status.SKIPPED, f"{rule.id} judges a {rule.context.__name__}, "
                              f"not a {type(context).__name__}", Unjudged.OTHER_CONTEXT)
    if isinstance(context, RuleContext):
        unconcerned = outside_role(rule, context.inventory.facts, context.inventory.target)
        if unconcerned:
            return Verdict.single(rule.id, Status.NOT_APPLICABLE, unconcerned, Unjudged.OTHER_ROLE)
    try:
        findings = list(rule.function(context))
    except Exception as exc:  # a rule must never take the run down with it
        return Verdict.single(
            rule.id, Status.ERROR, f"internal error in {rule.id}: {type(exc).__name__}: {exc} (please report it)"
        )
    if isinstance(context, RuleContext) and any(f.status is not Status.NOT_APPLICABLE for f in findings):
        findings = [*_unread_facts(rule, context.inventory.facts), *_unread_listing(rule, context), *findings]
    return Verdict.of(rule.id, findings)


def _unread_listing(rule: Rule, context: RuleContext) -> list[Finding]:
    """An error for each part of a management API's certificate listing past kubecert's bounds, for the rules
    that judge the listed expiries: they judged only what was read."""
    platform = context.inventory.platform_observation()
    if "expiry" not in rule.capabilities or platform is None:
        return []
    from kubecert.inventory.platform import listing_past_bounds  # an API target's: a node's check never needs it
    return [error("k8certificates", f"not evaluated in full: {why}")
            for why in listing_past_bounds(platform.certificates_exchange.document)]


def _unread_facts(rule: Rule, facts: NodeFacts) -> list[Finding]:
    """An error for each node fact the rule reads that a node file would have given but kubecert could not
    read: what it judged by stood in for a value it does not know."""
    return [error(f"node fact {name}", f"not evaluated: {facts.unread[name]}")
            for name in rule.parameters if name in facts.unread]


def evaluate_all(context: Any, capabilities: Iterable[str], rules: Iterable[Rule] | None = None) -> dict[str, Verdict]:
    """Every implemented rule (or the given ones) that judges this kind of context and needs no more than
    ``capabilities``, by rule ID: the path of runners other than pytest. A plain observation leaves out
    the rules that need an action or a probe."""
    offered = set(capabilities)
    candidates = rules if rules is not None else all_rules()
    chosen = [r for r in candidates if r.implemented and isinstance(context, r.context) and r.action is None
              and r.probe is None and set(r.capabilities) <= offered]
    return {rule.id: evaluate(rule, context) for rule in chosen}
