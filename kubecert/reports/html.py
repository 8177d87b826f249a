"""The HTML report: the canonical report rendered for a person (auditors file it as evidence)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("kubecert.reports", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(report: Mapping[str, Any]) -> str:
    return _ENVIRONMENT.get_template("report.html.j2").render(report=report)
