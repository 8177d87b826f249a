"""The rule catalog and the plain functions that judge an inventory against it.

Rules know nothing of pytest: ``evaluate(rule, context)`` is all a check does with one.
"""

from kubecert.profiles import BUILTIN as BUILTIN_PROFILES
from kubecert.profiles import Profile, ProfileError
from kubecert.rules.catalog import CatalogError, Rule, Source, UnknownRule, all_rules, get, implements, sources
from kubecert.rules.context import RuleContext
from kubecert.rules.evaluate import evaluate, evaluate_all
from kubecert.rules.findings import Finding, Verdict
from kubecert.status import Status

__all__ = [
    "BUILTIN_PROFILES",
    "CatalogError",
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
