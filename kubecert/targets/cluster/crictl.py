"""A kind node's static pods as its container runtime shows them: ``crictl`` run in the node's container
through the engine. Which of their containers run (``crictl ps``) and when each started (``crictl inspect``:
``status.startedAt``, in nanoseconds). What crictl prints is hostile input: bounded by the engine client,
parsed with a bound on nesting, each field checked for its type.
"""

from __future__ import annotations

import re

from kubecert.inventory.components import STATIC_PODS, Component, Started
from kubecert.inventory.safe_json import JsonError, loads_bounded
from kubecert.targets.cluster.runtime import ContainerRuntime
from kubecert.targets.cluster.static_pods import field_mapping, shown_value, started_from
from kubecert.targets.errors import TargetUnavailable

_ID = re.compile(r"[0-9a-zA-Z-]{1,128}")
RUNNING = "CONTAINER_RUNNING"


def running(runtime: ContainerRuntime, container: str, pod: str) -> list[str]:
    """The ids of the running containers named ``pod`` in the node ``container``."""
    listing = runtime.text(["exec", container, "crictl", "ps", "-q", "--state", "running", "--name", f"^{pod}$"])
    return [line for line in listing.split() if _ID.fullmatch(line)]


def container_starts(runtime: ContainerRuntime, container: str) -> dict[Component, Started]:
    """When each static pod's container in the node ``container`` started, or why crictl does not say. Once a
    call fails (the engine or crictl cannot be run), the other components are not asked."""
    found: dict[Component, Started] = {}
    failed: str | None = None
    for component in STATIC_PODS:
        try:
            found[component] = _start(runtime, container, component) if failed is None else \
                Started(component, f"crictl inspect in {container}", problem=failed)
        except TargetUnavailable as exc:
            failed = str(exc)
            found[component] = Started(component, f"crictl inspect in {container}", problem=failed)
    return found


def _start(runtime: ContainerRuntime, container: str, component: Component) -> Started:
    source = f"crictl inspect in {container}"
    try:
        ids = running(runtime, container, component)
        if len(ids) != 1:
            return Started(component, source, problem=f"crictl ps in {container} lists {len(ids)} running "
                                                      f"containers named {component}, not one")
        document = loads_bounded(runtime.run(["exec", container, "crictl", "inspect", ids[0]]))
    except (JsonError, UnicodeDecodeError) as exc:
        return Started(component, source, problem=f"crictl inspect in {container} did not print JSON ({exc})")
    source = f"crictl inspect {ids[0]} in {container}"
    status = field_mapping(document, "status")
    name, state = field_mapping(status, "metadata").get("name"), status.get("state")
    if name != component or state != RUNNING:
        return Started(component, source, problem=f"{source}: not a running container of {component} (name "
                                                  f"{shown_value(name)}, state {shown_value(state)})")
    return started_from(component, source, status.get("startedAt"), source)
