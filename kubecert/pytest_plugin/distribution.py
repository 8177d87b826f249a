"""With -n, every check of a target goes to one xdist worker: the target is read once, and nothing changes it
beside another check of it. A target and the targets that lock with it (a cluster and its nodes) are one unit
of xdist's work; other tests are distributed as xdist's ``loadgroup`` does.

xdist hands a scheduler node ids only (the controller never sees the items), so a check's unit is found by
looking up its parameter, ``[TARGET]`` at the end of the id, among the run's targets: a catalog check
(``KC-VAL-01[pki:/x]``), a fleet check (``fleet[pki:/x]``) or a hand-written one (``test_x[pki:/x]``). The
lookup names a known target or nothing; no rule or target is read out of the id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pytest

from kubecert.targets.base import Target

DISTRIBUTIONS = ("load", "loadgroup")  # the ones kubecert takes over; each, loadscope, worksteal... are left alone


class Units:
    """Node id → its unit of work: the lock of the target it names, or the test alone (or its xdist group)."""

    def __init__(self, targets: Mapping[str, Target]) -> None:
        self.by_parameter = {f"[{target_id}]": "kubecert:" + target.lock_key for target_id, target in targets.items()}

    def __call__(self, nodeid: str) -> str:
        end = nodeid.rfind("]") + 1  # what follows is xdist's group suffix, when there is one
        start = nodeid.find("[")
        while 0 <= start < end:
            unit = self.by_parameter.get(nodeid[start:end])
            if unit is not None:
                return unit
            start = nodeid.find("[", start + 1)
        if "@" in nodeid[end:]:  # xdist_group, as loadgroup reads it
            return nodeid.rsplit("@", 1)[-1]
        return nodeid


def scheduler(config: Any, log: Any, targets: Mapping[str, Target]) -> Any:
    """An xdist scheduler that hands out whole targets (xdist's LoadScopeScheduling with kubecert's units)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    unit_of = Units(targets)

    class TargetScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return TargetScheduling(config, log)


def distributed(config: pytest.Config) -> bool:
    """Whether this process is an xdist worker: only there do checks carry xdist's group."""
    return hasattr(config, "workerinput")


def group_marker(lock_key: str) -> pytest.MarkDecorator:
    """xdist's group of every check of the targets that lock under ``lock_key``."""
    return pytest.mark.xdist_group("kubecert-" + hashlib.sha256(lock_key.encode()).hexdigest()[:12])
