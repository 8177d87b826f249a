"""Report writers: the canonical JSON report and what is rendered from it (HTML; JUnit via pytest)."""

from kubecert.reports.canonical import build, dumps, exit_code, load, write_atomic
from kubecert.reports.html import render as render_html
from kubecert.reports.results import SCHEMA, ProfileRecord, Report, Result, Status, TargetRecord

__all__ = [
    "SCHEMA", "ProfileRecord", "Report", "Result", "Status", "TargetRecord", "build", "dumps", "exit_code", "load",
    "render_html", "write_atomic",
]
