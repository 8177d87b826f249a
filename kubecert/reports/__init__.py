"""Report writers: the canonical JSON report and what is rendered from it (HTML; JUnit via pytest)."""

from kubecert.reports.canonical import SCHEMA, build, dumps, exit_code, load, write_atomic
from kubecert.reports.html import render as render_html

__all__ = ["SCHEMA", "build", "dumps", "exit_code", "load", "render_html", "write_atomic"]
