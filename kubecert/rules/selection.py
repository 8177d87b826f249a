"""Choosing rules by id or pattern, as ``--rule`` and ``kubecert rules`` do.

Patterns are shell-style globs matched without regard to case (``kc-val-*`` is ``KC-VAL-*``). A pattern that
matches no rule is a usage error naming it, with the nearest ids: a misspelled ``--rule`` would otherwise
select nothing and end in pytest's "no tests ran".
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence

from kubecert.rules.catalog import Rule


class NoRuleMatches(ValueError):
    """One or more patterns match no rule of the catalog."""


def matches(rule_id: str, patterns: Iterable[str]) -> bool:
    """Whether the patterns choose the rule (no pattern: every rule)."""
    chosen = tuple(patterns)
    return not chosen or any(fnmatch.fnmatchcase(rule_id.upper(), p.upper()) for p in chosen)


def chosen_rules(rules: Sequence[Rule], patterns: Sequence[str], option: str = "--rule") -> list[Rule]:
    """The rules the patterns choose, in catalog order; NoRuleMatches names every pattern that chose none, a
    line each, after ``option`` (the option or command the patterns came from; "" for none)."""
    lost = [p for p in patterns if not any(matches(rule.id, [p]) for rule in rules)]
    if lost:
        ids = [rule.id for rule in rules]
        raise NoRuleMatches("\n".join(_no_match(option, pattern, ids) for pattern in lost))
    return [rule for rule in rules if matches(rule.id, patterns)]


def _no_match(option: str, pattern: str, ids: Sequence[str]) -> str:
    near = difflib.get_close_matches(pattern.upper(), ids, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(near)}?" if near else "ids look like KC-VAL-01 (`kubecert rules` lists them)"
    return f"{option} {pattern!r} matches no rule of the catalog: {hint}".lstrip()
