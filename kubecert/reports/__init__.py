"""Reports: the canonical JSON report and every format rendered from it (outputs.FORMATS). The renderers
are imported when a format is written, and the names below when first used, so ``kubecert --help`` loads
none of their libraries (kubecert/lazy_imports.py says why)."""

from typing import Any

from kubecert.lazy_imports import public_name

_PUBLIC = {
    "SCHEMA": "kubecert.reports.results",
    "ProfileRecord": "kubecert.reports.results",
    "Report": "kubecert.reports.results",
    "Result": "kubecert.reports.results",
    "Status": "kubecert.reports.results",
    "TargetRecord": "kubecert.reports.results",
    "build": "kubecert.reports.canonical",
    "dumps": "kubecert.reports.canonical",
    "exit_code": "kubecert.reports.canonical",
    "load": "kubecert.reports.canonical",
}

__all__ = [
    "SCHEMA", "ProfileRecord", "Report", "Result", "Status", "TargetRecord", "build", "dumps", "exit_code", "load",
]


def __getattr__(name: str) -> Any:
    return public_name(__name__, _PUBLIC, name)
