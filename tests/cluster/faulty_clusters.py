"""A pytest plugin for the project's tests: ``faultycluster:FAULT`` is the reference cluster with the named
fault (``none`` for none), ``faultycluster:FAULT/cp-N`` one of its control-plane nodes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.targets import TargetKind
from kubecert.targets.base import Target
from kubecert.targets.reference.cluster import ReferenceClusterNodeTarget, ReferenceClusterTarget


def faulty_cluster(uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts) -> Target:
    cluster, _, node = uri.partition("/")
    names = cluster.split(":", 1)[1]
    backend = ReferenceClusterNodeTarget if node else ReferenceClusterTarget

    class FaultyCluster(backend):  # type: ignore[misc,valid-type]
        faults = frozenset() if names == "none" else frozenset(names.split("+"))

    return FaultyCluster(uri, profile, options, facts)  # type: ignore[no-any-return]


def with_nodes(uri: str) -> list[str]:
    return [uri] if "/" in uri else [uri, *(f"{uri}/cp-{number}" for number in (1, 2, 3))]


def pytest_kubecert_target_kinds() -> list[TargetKind]:
    return [TargetKind("faultycluster", faulty_cluster, "palette",
                       "the reference cluster with faults, and its nodes (FAULT/cp-N)", True, expand=with_nodes)]
