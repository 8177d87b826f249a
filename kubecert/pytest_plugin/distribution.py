"""With -n, every check of a target goes to one xdist worker: the target is read once, and nothing changes it
beside another check of it. A target and the targets that lock with it (a cluster and its nodes) are one
unit of xdist's work; other tests are distributed as xdist's ``loadgroup`` does.

The unit is read from the node id (``KC-VAL-01[pki:/x]``, ``fleet[pki:/x]``, a hand-written check's
``test_x[pki:/x]``), so it holds whatever xdist does with markers or group suffixes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubecert.targets.base import Target

_PARAMETER = re.compile(r"\[(.*)\](?:@[^\[\]]*)?$")  # a parametrized node id's parameter, before a group suffix
DISTRIBUTIONS = ("load", "loadgroup")  # the ones kubecert takes over; each, loadscope, worksteal... are left alone


def unit_of(nodeid: str, targets: Mapping[str, Target]) -> str:
    """The unit of work ``nodeid`` belongs to."""
    match = _PARAMETER.search(nodeid)
    if match is not None and match.group(1) in targets:
        return "kubecert:" + targets[match.group(1)].lock_key
    if "@" in nodeid:  # xdist_group, as loadgroup reads it
        return nodeid.rsplit("@", 1)[-1]
    return nodeid


def scheduler(config: Any, log: Any, targets: Mapping[str, Target]) -> Any:
    """An xdist scheduler that hands out whole targets (xdist's LoadScopeScheduling with kubecert's units)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class TargetScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid, targets)

    return TargetScheduling(config, log)
