"""From a rule's verdict to pytest's outcome, and from pytest's report to kubecert's result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kubecert
from kubecert.plugins.targets import TargetUnavailable
from kubecert.rules import catalog
from kubecert.rules.catalog import Rule
from kubecert.rules.verdict import Status, Verdict

RULE_MARKER = "kubecert_rule"
VERDICT_KEY = pytest.StashKey[Verdict]()
_PACKAGE_ROOT = Path(kubecert.__file__).resolve().parent.parent
_QUIET_ERRORS = (TargetUnavailable,)


class CheckCouldNotRun(Exception):
    """The check could not be carried out (unreadable input, target down): an error, not a failure."""


@dataclass(frozen=True)
class CheckOutcome:
    verdict: Verdict

    def assert_passed(self) -> None:
        if self.verdict.status is Status.FAILED:
            pytest.fail(f"{self.verdict.rule}: {self.verdict.message}", pytrace=False)


def rule_id_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(RULE_MARKER)
    return str(marker.args[0]) if marker and marker.args else None


def rule_of(item: pytest.Item) -> Rule:
    rule_id = rule_id_of(item)
    if rule_id is None:
        raise pytest.UsageError(f"{item.nodeid}: kubecert_verdict needs @pytest.mark.kubecert_rule(ID)")
    return catalog.get(rule_id)


def target_id_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("kubecert_target") if callspec is not None else None


def report_nodeid(item: pytest.Item) -> str:
    """The same id however the suite was invoked (installed, --pyargs, xdist group suffixes)."""
    try:
        relative = Path(item.path).resolve().relative_to(_PACKAGE_ROOT)
    except ValueError:
        return item.nodeid.split("@", 1)[0]
    return f"{relative.as_posix()}::{item.name}"


def result_of(item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> dict[str, Any] | None:
    """kubecert's result for ``item`` when ``report`` decides it (setup not passed, or the call)."""
    rule_id, target_id = rule_id_of(item), target_id_of(item)
    if rule_id is None or target_id is None:
        return None
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return None
    rule = catalog.get(rule_id)
    verdict = item.stash.get(VERDICT_KEY, None)
    if call.excinfo is not None and call.excinfo.errisinstance((*_QUIET_ERRORS, CheckCouldNotRun)):
        report.longrepr = str(call.excinfo.value)  # the message says it all; no traceback for the user
        if verdict is None:
            verdict = Verdict.single(rule_id, Status.ERROR, str(call.excinfo.value))
    if verdict is None:
        verdict = Verdict.single(rule_id, *_status_from_report(report, call))
    elif verdict.status is Status.PASSED and report.failed:
        # The verdict passed but the check's own code failed afterwards (a bug in a custom check).
        verdict = Verdict.single(rule_id, Status.ERROR, f"the check failed after its verdict: {report.longreprtext}")
    return {
        "rule": rule_id,
        "target": target_id,
        "status": str(verdict.status),
        "message": verdict.message,
        "evidence": verdict.evidence(),
        "citation": f"{rule.citation} [{', '.join(rule.sources)}]",
        "nodeid": report_nodeid(item),
        "duration_s": 0.0,
    }


def _status_from_report(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[Status, str]:
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith("not applicable: "):
            return Status.NOT_APPLICABLE, reason.removeprefix("not applicable: ")
        return Status.SKIPPED, reason
    if report.when == "setup":
        return Status.ERROR, f"could not set up the check: {_short(call)}"
    return (Status.FAILED if report.failed else Status.PASSED), (_short(call) if report.failed else "passed")


def _short(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return ""
    return f"{call.excinfo.typename}: {call.excinfo.value}"
