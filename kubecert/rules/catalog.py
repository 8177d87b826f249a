"""The catalog: rule metadata from catalog.toml, joined with the plain functions that implement them.

Family modules (kubecert/rules/<family>.py) register a function under a rule ID with ``@implements``;
the catalog imports them on first use. A rule without a function is listed as not implemented.
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

from kubecert.rules.context import RuleContext
from kubecert.rules.verdict import Finding

RuleFunction = Callable[[Any], Iterable[Finding]]
F = TypeVar("F", bound=RuleFunction)

_FUNCTIONS: dict[str, RuleFunction] = {}
_CONTEXTS: dict[str, type] = {}  # what each function judges: RuleContext, or a richer one (before/after)


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str


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
    function: RuleFunction | None
    context: type = RuleContext  # the kind of context the function judges

    @property
    def implemented(self) -> bool:
        return self.function is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "family": self.family, "title": self.title, "statement": self.statement,
            "sources": list(self.sources), "citation": self.citation, "parameters": list(self.parameters),
            "capabilities": list(self.capabilities), "disruptive": self.disruptive, "note": self.note,
            "implemented": self.implemented,
        }


class UnknownRule(KeyError):
    pass


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
    return {entry["id"]: entry for entry in _document()["rule"]}


@cache
def sources() -> dict[str, Source]:
    return {key: Source(key, v["title"], v["url"]) for key, v in _document()["sources"].items()}


@cache
def _load_families() -> None:
    for family in sorted({entry["family"] for entry in _raw_rules().values()}):
        module = f"kubecert.rules.{family}"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def all_rules() -> list[Rule]:
    """Every rule of the catalog, in catalog order."""
    _load_families()
    return [_build(entry) for entry in _raw_rules().values()]


def get(rule_id: str) -> Rule:
    _load_families()
    try:
        return _build(_raw_rules()[rule_id])
    except KeyError:
        raise UnknownRule(f"{rule_id} is not a kubecert rule (see `kubecert rules`)") from None


def _build(entry: dict[str, Any]) -> Rule:
    return Rule(
        id=entry["id"], family=entry["family"], title=entry["title"], statement=entry["statement"],
        sources=tuple(entry["sources"]), citation=entry["citation"],
        parameters=tuple(entry.get("parameters", ())), capabilities=tuple(entry.get("capabilities", ())),
        disruptive=bool(entry.get("disruptive", False)), note=entry.get("note", ""),
        function=_FUNCTIONS.get(entry["id"]), context=_CONTEXTS.get(entry["id"], RuleContext),
    )
