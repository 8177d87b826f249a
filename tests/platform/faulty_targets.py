"""A pytest plugin for the project's tests: ``faulty:MODE:FAULT[+FAULT]`` is the reference's palette part
(MODE ``repave`` or ``in-place``) serving a platform with the named faults, small and fast: one control-plane
machine and one worker, or as many control-plane machines as a fault needs to show, checked with the profile's
renewal_mode pinned where a fault says so. ``faulty:MODE:none`` is the same without faults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.reference.platform.faults import FAULTS
from kubecert.targets import TargetKind
from kubecert.targets.reference.palette import ReferencePaletteTarget


def faulty_target(uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> ReferencePaletteTarget:
    _, mode, names = uri.split(":", 2)
    faults = frozenset() if names == "none" else frozenset(names.split("+"))
    known = [FAULTS[name] for name in faults if name in FAULTS]
    pinned = {fault.pinned for fault in known if fault.pinned}
    if pinned:
        profile = dataclasses.replace(profile, renewal_mode=pinned.pop())

    class Faulty(ReferencePaletteTarget):
        scheme = "faulty"
        platform_mode: ClassVar[str] = mode
        shape: ClassVar[tuple[int, int]] = (max([1, *(fault.control_planes for fault in known)]), 1)
        # In-place steps of 0.5 s keep two renewals' certificates at least a second apart: X.509 dates have
        # whole seconds, and a renewal is told from the one before by its certificates' expiries.
        timing: ClassVar[tuple[float, float, float]] = (0.2, 0.1, 0.5)

        @property
        def settle_s(self) -> float:
            return 0.25

    Faulty.faults = faults
    if "provisioning-stalls" in faults:  # a renewal that never ends: no need to wait long to say so
        options = {**options, "renewal-deadline": "3"}
    target = Faulty(uri, profile, options, facts)
    target.poll_s = 0.06
    return target


def pytest_kubecert_target_kinds() -> list[TargetKind]:
    return [TargetKind("faulty", faulty_target, "palette", "the reference palette part with faults", True)]
