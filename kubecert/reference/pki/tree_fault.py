"""What a tree fault is: a named change planted in a node's files, the rules it must fail, what it must have
changed (its effect, read back), and how one is declared. The faults themselves are in faults.py (the kubeadm
tree) and kubelet_faults.py (the kubelet's folder); both declare theirs with ``declare`` into their own table,
each with everything the tests hold it to, so that no table elsewhere repeats it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubecert.reference.faults import Fault, Layer
from kubecert.reference.pki.keys import KeyFactory, PrivateKey, PublicKey, algorithm_of, public_key_pem
from kubecert.reference.pki.kubelet import KubeletTree
from kubecert.reference.pki.tree import PkiTree

FOREIGN_UID = 65534  # nobody: the owner faults give a file


@dataclass(frozen=True)
class FaultContext:
    """The tree a fault is planted in, where its keys come from, and the time it is planted at."""

    tree: PkiTree
    keys: KeyFactory
    now: dt.datetime

    @property
    def kubelet(self) -> KubeletTree:
        return KubeletTree(self.tree.root)

    def another_key(self, like: PrivateKey | PublicKey | str) -> PrivateKey:
        """A key of ``like``'s algorithm (or the algorithm named) that is none of the node's keys."""
        taken = self.tree.public_keys() | self.kubelet.public_keys()
        algorithm = like if isinstance(like, str) else algorithm_of(like)
        for _ in range(256):
            key = self.keys.new_key(algorithm)
            if public_key_pem(key) not in taken:
                return key
        raise RuntimeError(f"the key factory keeps returning keys already in the tree ({algorithm}); use a larger pool")


Apply = Callable[[FaultContext], None]
# What the fault must have done, read back: (tree after, tree before, the time it was planted at); raises
# AssertionError where the tree after is not what the fault says (readback.py has the pieces).
Effect = Callable[[PkiTree, PkiTree, dt.datetime], None]


def _no_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    raise AssertionError("the fault declares no effect")


@dataclass(frozen=True)
class TreeFault(Fault):
    """A fault planted in a node's tree; ``offender`` is the file at fault, relative to the tree root."""

    apply: Apply = field(default=lambda _ctx: None, repr=False, compare=False)
    effect: Effect = field(default=_no_effect, repr=False, compare=False)
    files: tuple[str, ...] = ()  # every file it changes or removes (the offender's key too, if any)


Declare = Callable[..., Callable[[Apply], Apply]]


def declare(table: dict[str, TreeFault]) -> Declare:
    """A decorator that adds the fault it decorates to ``table``: ``@declare(table)(name, rule=..., ...)``.

    Everything the tests hold a fault to is declared here, beside it: the rule it exists for, the offender its
    failure names, the other rules it cannot help failing (``also_fails``, with a ``note`` saying why), the
    files it changes, and its ``effect``.
    """

    def fault(name: str, *, rule: str, offender: str, description: str, effect: Effect,
              also_fails: tuple[str, ...] = (), needs_root: bool = False, **extra: Any) -> Callable[[Apply], Apply]:
        def register(apply: Apply) -> Apply:
            if name in table:
                raise ValueError(f"tree fault {name!r} is declared twice")
            extra.setdefault("files", (offender,))
            table[name] = TreeFault(name=name, layer=Layer.TREE, fails=(rule, *also_fails), offender=offender,
                                    description=description, apply=apply, effect=effect,
                                    requires=frozenset({"root"}) if needs_root else frozenset(), **extra)
            return apply

        return register

    return fault
