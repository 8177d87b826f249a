"""The rule catalog and the plain functions that judge an inventory against it.

Rules know nothing of pytest: ``evaluate(rule, context)`` is all a check does with one.
"""

from kubecert.rules.catalog import Rule, Source, UnknownRule, all_rules, get, implements, sources
from kubecert.rules.context import RuleContext
from kubecert.rules.evaluate import evaluate, evaluate_all
from kubecert.rules.profiles import BUILTIN as BUILTIN_PROFILES
from kubecert.rules.profiles import Profile, ProfileError
from kubecert.rules.verdict import Finding, Status, Verdict

__all__ = [
    "BUILTIN_PROFILES",
    "Finding",
    "Profile",
    "ProfileError",
    "Rule",
    "RuleContext",
    "Source",
    "Status",
    "UnknownRule",
    "Verdict",
    "all_rules",
    "evaluate",
    "evaluate_all",
    "get",
    "implements",
    "sources",
]
