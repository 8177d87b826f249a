"""The HTML report: the canonical report rendered for a person (auditors file it as evidence)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from kubecert.reports.results import Report

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("kubecert.reports", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(report: Report | Mapping[str, Any]) -> str:
    """The HTML of a report (the canonical one, or its JSON as read back from a file)."""
    document = report.to_json() if isinstance(report, Report) else report
    return _ENVIRONMENT.get_template("report.html.j2").render(report=document)
