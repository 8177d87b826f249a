"""Reports: the canonical JSON report and every format rendered from it (outputs.FORMATS). The renderers
are imported when a format is written, so ``kubecert --help`` loads none of their libraries."""

from kubecert.reports.canonical import build, dumps, exit_code, load, write_atomic
from kubecert.reports.results import SCHEMA, ProfileRecord, Report, Result, Status, TargetRecord

__all__ = [
    "SCHEMA", "ProfileRecord", "Report", "Result", "Status", "TargetRecord", "build", "dumps", "exit_code", "load",
    "write_atomic",
]
