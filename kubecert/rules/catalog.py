"""The catalog: rule metadata from catalog.toml, joined with the plain functions that implement them.

Family modules (kubecert/rules/<family>.py) register a function under a rule ID with ``@implements``;
the catalog imports a rule's family when its function is first asked for, so that listing the catalog
(``kubecert rules``) imports no family and none of the inventory's libraries, and a node's check none of the
API's or the cluster's rules (a rule's function is in its family's module: a test holds them to it). The
catalog says which rules this version implements: every one not marked ``planned``. A test holds the
functions to it (a rule without its function, or a planned one with one, fails tests/test_catalog.py). Every
name the catalog uses (sources, parameters, capabilities, actions, probes) is checked when it loads: a typo is
an error, never a rule that silently makes no check.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from kubecert.capabilities import CAPABILITIES, NODE_ROLES, Action, Probe
from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding

RuleFunction = Callable[[Any], Iterable[Finding]]
F = TypeVar("F", bound=RuleFunction)

_FUNCTIONS: dict[str, RuleFunction] = {}
_CONTEXTS: dict[str, type] = {}  # what each function judges: RuleContext, or a richer one (before/after)


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str
    version: str  # which edition of the document the rules were read from

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "url": self.url, "version": self.version}


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    title: str
    statement: str
    sources: tuple[str, ...]
    citation: str
    parameters: tuple[str, ...]
    capabilities: tuple[str, ...]
    disruptive: bool
    note: str
    action: Action | None = None  # what is done to the target first (its before and after are judged)
    probe: Probe | None = None  # what is asked of the target (its answers are judged)
    planned: bool = False  # in the catalog, deliberately not implemented in this version
    roles: tuple[str, ...] = ()  # the node roles it concerns when it reads a node; () when it reads none
    remediation: str = ""  # what fixes a failure (a command, a platform action, a file mode)

    @property
    def implemented(self) -> bool:
        return not self.planned

    @property
    def function(self) -> RuleFunction | None:
        """What judges the rule, None while it is planned."""
        _load_family(self.family)
        return _FUNCTIONS.get(self.id)

    @property
    def context(self) -> type:
        """The kind of context the function judges (a plain observation for a rule without one)."""
        _load_family(self.family)
        return _CONTEXTS.get(self.id, RuleContext)

    def concerns_role(self, role: str | None) -> bool:
        """False for a node of a role the rule does not concern (a control-plane rule on a worker)."""
        return not self.roles or role is None or role in self.roles

    @property
    def check_name(self) -> str:
        """The implementing function's name (``leaf_validity``): a keyword to select the check by."""
        return getattr(self.function, "__name__", "") if self.function is not None else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "family": self.family, "title": self.title, "statement": self.statement,
            "sources": list(self.sources), "citation": self.citation, "parameters": list(self.parameters),
            "capabilities": list(self.capabilities), "roles": list(self.roles), "action": self.action,
            "probe": self.probe,
            "disruptive": self.disruptive, "note": self.note, "implemented": self.implemented,
            "remediation": self.remediation,
        }


class UnknownRule(KeyError):
    pass


class CatalogError(ValueError):
    """catalog.toml says something no code knows: the package is broken, not the user's input."""


def implements(rule_id: str, *, context: type = RuleContext) -> Callable[[F], F]:
    """Register the decorated function as the logic of ``rule_id`` (which must be in catalog.toml).

    ``context`` is what the function judges: a plain observation (RuleContext) unless the rule needs
    more, such as the target before and after an action.
    """

    def register(function: F) -> F:
        if rule_id not in _raw_rules():
            raise UnknownRule(f"{function.__module__}.{function.__name__}: {rule_id} is not in the catalog")
        known = _FUNCTIONS.get(rule_id)
        # The same function registering again is its module imported anew (pytester's in-process runs
        # drop the modules a run imported); another function under the same ID is a mistake.
        if known is not None and (known.__module__, known.__qualname__) != (function.__module__, function.__qualname__):
            raise ValueError(f"{rule_id} is implemented twice")
        _FUNCTIONS[rule_id] = function
        _CONTEXTS[rule_id] = context
        return function

    return register


@cache
def _document() -> dict[str, Any]:
    text = resources.files("kubecert.rules").joinpath("catalog.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def _raw_rules() -> dict[str, dict[str, Any]]:
    _validate_sources(_document())
    rules: dict[str, dict[str, Any]] = {}
    for entry in _document()["rule"]:
        if entry["id"] in rules:
            raise CatalogError(f"{entry['id']} is in catalog.toml twice")
        _validate(entry)
        rules[entry["id"]] = entry
    return rules


_FIELDS = frozenset({"id", "family", "title", "statement", "sources", "citation", "parameters", "capabilities",
                     "roles", "action", "probe", "disruptive", "note", "planned", "remediation"})
_PARAMETERS = frozenset(Profile("x").parameters()) | frozenset(NodeFacts.FIELDS)


_SOURCE_FIELDS = ("title", "url", "version")


def _validate_sources(document: dict[str, Any]) -> None:
    for key, source in document.get("sources", {}).items():
        for name in _SOURCE_FIELDS:
            if not isinstance(source.get(name), str) or not source[name].strip():
                raise CatalogError(f"catalog.toml [sources.{key}]: {name} must be non-empty text")
        strange = sorted(set(source) - set(_SOURCE_FIELDS))
        if strange:
            raise CatalogError(f"catalog.toml [sources.{key}]: unknown field {strange[0]!r}")


def _validate(entry: dict[str, Any]) -> None:
    rule = entry.get("id", "?")

    def unknown(what: str, names: Any, known: Any) -> None:
        strange = sorted(set(names) - set(known))
        if strange:
            known_names = ", ".join(sorted(known))
            raise CatalogError(f"catalog.toml {rule}: unknown {what} {strange[0]!r} (known: {known_names})")

    unknown("field", entry, _FIELDS)
    unknown("source", entry.get("sources", ()), _document()["sources"])
    unknown("parameter", entry.get("parameters", ()), _PARAMETERS)
    unknown("capability", entry.get("capabilities", ()), CAPABILITIES)
    unknown("role", entry.get("roles", ()), NODE_ROLES)
    if "roles" in entry and not entry["roles"]:
        raise CatalogError(f"catalog.toml {rule}: roles, when given, names at least one node role")
    unknown("action", [entry["action"]] if "action" in entry else [], {str(a) for a in Action})
    unknown("probe", [entry["probe"]] if "probe" in entry else [], {str(p) for p in Probe})
    if "action" in entry and "probe" in entry:
        raise CatalogError(f"catalog.toml {rule}: a rule has an action or a probe, not both")
    if "action" in entry and not entry.get("disruptive"):
        raise CatalogError(f"catalog.toml {rule}: an action changes the target, so the rule must be disruptive")
    if "remediation" in entry and (not isinstance(entry["remediation"], str) or not entry["remediation"].strip()):
        raise CatalogError(f"catalog.toml {rule}: remediation must be non-empty text (what fixes a failure)")


@cache
def sources() -> dict[str, Source]:
    _validate_sources(_document())
    return {key: Source(key, v["title"], v["url"], v["version"]) for key, v in _document()["sources"].items()}


def family_module(family: str) -> str:
    """The module (or package) that implements a family's rules."""
    return f"kubecert.rules.{family}"


@cache
def _load_family(family: str) -> None:
    module = family_module(family)
    if importlib.util.find_spec(module) is not None:
        importlib.import_module(module)


def all_rules() -> list[Rule]:
    """Every rule of the catalog, in catalog order."""
    return list(_rules().values())


def get(rule_id: str) -> Rule:
    try:
        return _rules()[rule_id]
    except KeyError:
        raise UnknownRule(f"{rule_id} is not a kubecert rule (see `kubecert rules`)") from None


@cache
def _rules() -> dict[str, Rule]:
    """Each rule made once a process (a Rule is frozen): a check asks for its rule several times, for each target."""
    return {rule_id: _build(entry) for rule_id, entry in _raw_rules().items()}


def _build(entry: dict[str, Any]) -> Rule:
    return Rule(
        id=entry["id"], family=entry["family"], title=entry["title"], statement=entry["statement"],
        sources=tuple(entry["sources"]), citation=entry["citation"],
        parameters=tuple(entry.get("parameters", ())), capabilities=tuple(entry.get("capabilities", ())),
        disruptive=bool(entry.get("disruptive", False)), note=entry.get("note", ""),
        action=Action(entry["action"]) if "action" in entry else None,
        probe=Probe(entry["probe"]) if "probe" in entry else None, planned=bool(entry.get("planned", False)),
        roles=tuple(entry.get("roles", ())),
        remediation=entry.get("remediation", ""),
    )
