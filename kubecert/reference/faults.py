"""Named faults, one shape for every layer of the reference: a tree fault is planted in a node's files
before anything is checked (pki/faults.py), a renewer fault makes ``renew``, ``generate-csr`` or
``upgrade`` misbehave while they act (pki/renewal_faults.py), a platform fault makes the Palette-like
API or its platform misbehave (platform/faults.py), a cluster fault makes the reference cluster, its
nodes or its Kubernetes-style API misbehave (kube/faults.py).

Every fault says which rules a correct kubecert must fail on it (and that no other may fail), so the
project's tests prove each rule bites; every implemented rule must be failed by at least one fault.
Faults are opt-in: none is ever on unless named.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Mapping
from dataclasses import dataclass


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
    unjudged: tuple[str, ...] = ()  # rules it leaves unjudgeable (an error, not a failure)
    note: str = ""  # why it fails more than one rule
    requires: frozenset[str] = frozenset()  # "root" (changes an owner), "external-ca" (a node without ca.key)

    @property
    def rule(self) -> str:
        return self.fails[0]

    @property
    def also_fails(self) -> tuple[str, ...]:
        return self.fails[1:]

    @property
    def needs_root(self) -> bool:
        return "root" in self.requires

    def disagreements(self, statuses: Mapping[str, str]) -> list[str]:
        """How one target's verdicts under this fault (rule -> status) differ from what it declares: a rule it
        fails that did not fail, a rule that failed or could not be judged which it does not declare. What a
        layer's tests expect of the rest (which rules ran, which are not applicable) is theirs to say; what a
        fault owes its declaration is said here, once, for every layer."""
        failed = {rule for rule, status in statuses.items() if status == "failed"}
        unjudged = {rule for rule, status in statuses.items() if status not in ("passed", "failed", "not_applicable")}
        problems = [f"{rule} did not fail ({statuses.get(rule, 'no verdict')})" for rule in self.fails
                    if rule not in failed]
        problems += [f"{rule} failed, which the fault does not declare"
                     for rule in sorted(failed - {*self.fails, *self.may_also_fail})]
        problems += [f"{rule} was not judged ({statuses[rule]}), which the fault does not declare"
                     for rule in sorted(unjudged - {*self.unjudged, *self.may_also_fail})]
        return problems


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
