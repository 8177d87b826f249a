"""The hooks kubecert adds to pytest, declared in one place. Implement them in a conftest or plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kubecert.plugins.targets import TargetKind


@pytest.hookspec
def pytest_kubecert_target_kinds() -> list[TargetKind]:  # type: ignore[empty-body]
    """Target kinds to add to the registry (a vendor's own backend, by URI scheme)."""


@pytest.hookspec
def pytest_kubecert_report_ready(report: dict[str, Any], config: pytest.Config) -> None:
    """Called with the canonical report (schema kubecert.report/v1) before it is written."""
