"""The contexts of the management-API checks, made from a target that offers the API.

Kept out of the conformance modules so that they stay one thin test per rule. Any target with these
methods works (the palette target and the reference's palette parts do): ``observe_platform()``,
``access_probes()``, ``renewal(controlplane_only)``, ``unauthenticated_renewal()``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

import pytest

from kubecert.plugins.session import kubecert_session
from kubecert.plugins.verdicts import CheckCouldNotRun, rule_id_of
from kubecert.rules.api import ApiContext
from kubecert.rules.repave import RenewalContext

_API_METHODS = ("observe_platform", "access_probes", "renewal", "unauthenticated_renewal")


def _api(request: pytest.FixtureRequest, target: Any) -> Any:
    missing = [name for name in _API_METHODS if not callable(getattr(target, name, None))]
    if missing:
        raise CheckCouldNotRun(f"{getattr(target, 'id', target)} declares the api capability but has no "
                               f"{', '.join(missing)}")
    if hasattr(target, "say"):
        target.say = _live(request.config)
    return target


def _live(config: pytest.Config) -> Callable[[str], None]:
    """A writer of warnings and progress that the user sees while the check runs, not after it."""
    capture = config.pluginmanager.getplugin("capturemanager")
    terminal = config.pluginmanager.getplugin("terminalreporter")  # absent on xdist workers: stderr then

    def write(line: str) -> None:
        context = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
        with context:
            if terminal is not None:
                terminal.write_line(f"[kubecert] {line}")  # on a line of its own, after the progress dots
            else:
                sys.stderr.write(f"[kubecert] {line}\n")
                sys.stderr.flush()

    return write


def _clock(request: pytest.FixtureRequest, observed: Any) -> Any:
    at = kubecert_session(request.config).settings.at
    return at if at is not None else observed


def api_context(request: pytest.FixtureRequest, target: Any) -> ApiContext:
    api = _api(request, target)
    inventory = api.observe()
    platform = api.observe_platform()
    rule = rule_id_of(request.node) or ""
    probes = api.access_probes() if rule in ("KC-API-04", "KC-API-05", "KC-API-06") else None
    return ApiContext(inventory=inventory, profile=api.profile, now=_clock(request, inventory.observed_at),
                      platform=platform, probes=probes)


def renewal_context(request: pytest.FixtureRequest, target: Any) -> RenewalContext:
    api = _api(request, target)
    inventory = api.observe()
    rule = rule_id_of(request.node) or ""
    renewal, refused = None, None
    if rule == "KC-RPV-09":
        refused = api.unauthenticated_renewal()
    else:
        renewal = api.renewal(controlplane_only=rule == "KC-RPV-06")
    return RenewalContext(inventory=inventory, profile=api.profile, now=_clock(request, inventory.observed_at),
                          renewal=renewal, refused=refused)
