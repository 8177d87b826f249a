"""The hooks kubecert adds to pytest, declared in one place. Implement them in a conftest or plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kubecert.reports.results import Report
    from kubecert.targets.registry import TargetKind


@pytest.hookspec
def pytest_kubecert_target_kinds() -> list[TargetKind]:  # type: ignore[empty-body]
    """Target kinds to add to the registry (a vendor's own backend, by URI scheme).

    A kind's ``options`` become ``--kubecert-NAME`` options as soon as the plugin that returns it is
    registered (``-p``, a conftest, an entry point); its factory is called as
    ``factory(uri, profile, options, facts)``. For ``kubecert check`` as well, declare the kinds in the
    ``kubecert.target_kinds`` entry point group or load the plugin with ``kubecert check --plugin MODULE``.
    """


@pytest.hookspec
def pytest_kubecert_report_ready(report: Report, config: pytest.Config) -> None:
    """Called with the canonical report (schema kubecert.report/v1.N) before it is written.

    Its ``results`` are read from the run's spool as they are iterated (kubecert/reports/spool.py), a result at
    a time: iterate them rather than keep them, and avoid ``report.to_json()`` on a fleet, which holds them all.
    """
