"""Named faults, one shape for every layer of the reference: a tree fault is planted in a node's files
before anything is checked (pki/faults.py), a renewer fault makes ``renew``, ``generate-csr`` or
``upgrade`` misbehave while they act (pki/renewal_faults.py), a platform fault makes the Palette-like
API or its platform misbehave (platform/faults.py), a cluster fault makes the reference cluster, its
nodes or its Kubernetes-style API misbehave (kube/faults.py).

Every fault says which rules a correct kubecert must fail on it (and that no other may fail), so the
project's tests prove each rule bites; every implemented rule must be failed by at least one fault.
What it leaves unjudged it says by what it takes away (a capability or an action of the catalog), so that a
rule added later that needs it is covered without an edit to the fault; only where nothing the catalog says
of a rule tells does a fault name its unjudged rules one by one, and its note says why.
Faults are opt-in: none is ever on unless named.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubecert.capabilities import Action, Capability
from kubecert.rules.catalog import Rule, all_rules

_TAKEABLE = frozenset({*Capability, *Action})  # what a fault can take away: what a rule of the catalog needs


class Layer(enum.StrEnum):
    TREE = "tree"
    RENEWER = "renewer"
    PLATFORM = "platform"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class Fault:
    name: str
    layer: Layer
    fails: tuple[str, ...]  # the rules it must fail; the first is the one it exists for
    description: str
    offender: str = ""  # what the failing evidence must name: a file below the tree, a certificate
    may_also_fail: tuple[str, ...] = ()  # rules that fail too or not, depending on how they are implemented
    # What it takes away that rules need, capabilities or actions of the catalog: every implemented rule needing
    # one, which the fault does not fail, may fail or keep, cannot be judged under it (an error, not a failure).
    takes_away: frozenset[str] = frozenset()
    keeps: tuple[str, ...] = ()  # rules needing what it takes away that are judged all the same (the note says why)
    unjudged_named: tuple[str, ...] = ()  # unjudged rules nothing in the catalog tells (the note says why)
    note: str = ""  # why it fails more than one rule, keeps a rule, or names its unjudged rules
    requires: frozenset[str] = frozenset()  # "root" (changes an owner), "external-ca" (a node without ca.key)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.takes_away) - _TAKEABLE)
        if unknown:
            raise ValueError(f"fault {self.name!r} takes away {unknown[0]!r}, which is no capability or action "
                             f"(known: {', '.join(sorted(_TAKEABLE))})")
        if (self.keeps or self.unjudged_named) and not self.note:
            raise ValueError(f"fault {self.name!r} keeps or names rules without a note saying why")

    @property
    def rule(self) -> str:
        return self.fails[0]

    @property
    def also_fails(self) -> tuple[str, ...]:
        return self.fails[1:]

    @property
    def needs_root(self) -> bool:
        return "root" in self.requires

    @property
    def unjudged(self) -> tuple[str, ...]:
        """The rules it leaves unjudged, against the catalog as it is now."""
        return self.unjudged_in(all_rules())

    def unjudged_in(self, rules: Iterable[Rule]) -> tuple[str, ...]:
        """The rules of ``rules`` (a catalog) it leaves unjudged, in their order: those needing what it takes
        away, but for those it fails, may fail or keeps, and those it names; a named rule the catalog lacks
        comes last, so that a check of the names sees it."""
        declared = {*self.fails, *self.may_also_fail, *self.keeps}
        found = [rule.id for rule in rules if rule.id in self.unjudged_named
                 or (rule.implemented and rule.id not in declared and not self.takes_away.isdisjoint(_needs(rule)))]
        return (*found, *(rule for rule in self.unjudged_named if rule not in found))

    def disagreements(self, statuses: Mapping[str, str]) -> list[str]:
        """How one target's verdicts under this fault (rule -> status) differ from what it declares: a rule it
        fails that did not fail, a rule that failed or could not be judged which it does not declare, a rule
        it leaves unjudged that passed. What a layer's tests expect of the rest (which rules ran, which are
        not applicable) is theirs to say; what a fault owes its declaration is said here, once, for every layer."""
        failed = {rule for rule, status in statuses.items() if status == "failed"}
        unjudged = {rule for rule, status in statuses.items() if status not in ("passed", "failed", "not_applicable")}
        declared_unjudged = set(self.unjudged)
        problems = [f"{rule} did not fail ({statuses.get(rule, 'no verdict')})" for rule in self.fails
                    if rule not in failed]
        problems += [f"{rule} failed, which the fault does not declare"
                     for rule in sorted(failed - {*self.fails, *self.may_also_fail})]
        problems += [f"{rule} was not judged ({statuses[rule]}), which the fault does not declare"
                     for rule in sorted(unjudged - {*declared_unjudged, *self.may_also_fail})]
        problems += [f"{rule} passed, which the fault declares unjudged"  # failing it is said above
                     for rule in sorted(declared_unjudged - set(self.may_also_fail)) if statuses.get(rule) == "passed"]
        return problems


def listed(faults: Iterable[Fault]) -> str:
    """What ``--list-faults`` prints: a line per fault, its name, the rules it fails and what it does."""
    shown = list(faults)
    name_width = max((len(f.name) for f in shown), default=0)
    rules_width = max((len(", ".join(f.fails)) for f in shown), default=0)
    return "\n".join(f"{f.name:{name_width}}  fails {', '.join(f.fails):{rules_width}}  {f.description}" for f in shown)


def _needs(rule: Rule) -> set[str]:
    """What a rule needs of a target: its capabilities, and its action."""
    return {*rule.capabilities, *((rule.action,) if rule.action else ())}


_LAYERS = {
    Layer.TREE: ("kubecert.reference.pki.faults", "FAULTS"),
    Layer.RENEWER: ("kubecert.reference.pki.renewal_faults", "RENEWAL_FAULTS"),
    Layer.PLATFORM: ("kubecert.reference.platform.faults", "FAULTS"),
    Layer.CLUSTER: ("kubecert.reference.kube.faults", "FAULTS"),
}


def all_faults() -> list[Fault]:
    """Every fault of every layer, in layer order."""
    found: list[Fault] = []
    for module, name in _LAYERS.values():
        found.extend(getattr(importlib.import_module(module), name).values())
    return found
