"""From a rule's verdict to pytest's outcome, and from pytest's report to kubecert's Result.

A check is identified by its rule (the ``kubecert_rule`` marker) and its target: catalog items carry both
in their stash; a check written by hand carries the marker and is parametrized over ``kubecert_target``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import kubecert
from kubecert.contexts import CheckCouldNotRun
from kubecert.reports.citations import rule_fields
from kubecert.reports.results import Result
from kubecert.rules import catalog
from kubecert.rules.catalog import Rule
from kubecert.rules.findings import Verdict
from kubecert.status import Status
from kubecert.targets.errors import TargetUnavailable
from kubecert.text import escaped_multiline

RULE_MARKER = "kubecert_rule"
VERDICT_KEY = pytest.StashKey[Verdict]()
TARGET_KEY = pytest.StashKey[str]()  # the target of a catalog item
# On every report of a check kubecert made (setup, call, teardown), across xdist too: which kind it is.
CHECK_KIND = "kubecert_check"
CATALOG_CHECK, FLEET_CHECK = "catalog", "fleet"
_PACKAGE_ROOT = Path(kubecert.__file__).resolve().parent.parent
_QUIET_ERRORS = (TargetUnavailable, CheckCouldNotRun)  # their message says it all: no traceback for the user


@dataclass(frozen=True)
class CheckOutcome:
    verdict: Verdict

    def assert_passed(self) -> None:
        if self.verdict.status is Status.FAILED:
            pytest.fail(f"{self.verdict.rule}: {self.verdict.message}", pytrace=False)


def attach(report: pytest.TestReport, results: list[Result], target: dict[str, Any],
           options: list[tuple[str, ...]]) -> None:
    """Put a check's results, the options each skip needs and its target's description on its report, as they
    are: in the process they stay objects; only across xdist are they text (``to_wire``, ``from_wire``)."""
    report.kubecert_results = results  # type: ignore[attr-defined]
    report.kubecert_options = options  # type: ignore[attr-defined]
    report.kubecert_target = target  # type: ignore[attr-defined]


def attached(report: pytest.TestReport) -> tuple[list[Result], list[tuple[str, ...]], dict[str, Any] | None]:
    """The results on ``report``, the options each needs to be judged (empty for most) and the target's
    description (nothing for a report that carries none)."""
    results: list[Result] = getattr(report, "kubecert_results", None) or []
    options: list[tuple[str, ...]] = getattr(report, "kubecert_options", None) or [() for _ in results]
    return results, options, getattr(report, "kubecert_target", None)


WIRE = "kubecert_wire"  # the report's attribute that carries them across xdist
_ATTACHED = ("kubecert_results", "kubecert_options", "kubecert_target")


def to_wire(data: dict[str, Any]) -> None:
    """An xdist worker's report, serialised: what ``attach`` put on it becomes one JSON string (execnet moves
    one string far faster than the nested dicts of a fleet check's results)."""
    if "kubecert_results" not in data:
        return
    results, options, target = (data.pop(name, None) for name in _ATTACHED)
    data[WIRE] = json.dumps({"results": [r.to_json() for r in results or ()], "options": options or [],
                             "target": target})


def from_wire(report: pytest.TestReport) -> None:
    """The controller's copy of a worker's report: its results objects again, as ``attach`` left them."""
    wire = report.__dict__.pop(WIRE, None)
    if not isinstance(wire, str):
        return
    data = json.loads(wire)
    attach(report, [Result.from_json(r) for r in data["results"]], data["target"],
           [tuple(needed) for needed in data["options"]])


def detach(report: pytest.TestReport) -> None:
    for name in _ATTACHED:
        report.__dict__.pop(name, None)


def rule_id_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(RULE_MARKER)
    if marker is None:
        return None
    value = marker.args[0] if marker.args else marker.kwargs.get("id")
    return str(value) if value else None


def rule_of(item: pytest.Item) -> Rule:
    rule_id = rule_id_of(item)
    if rule_id is None:
        raise pytest.UsageError(f"{item.nodeid}: kubecert_verdict needs @pytest.mark.kubecert_rule(ID)")
    return catalog.get(rule_id)


def target_id_of(item: pytest.Item) -> str | None:
    if TARGET_KEY in item.stash:
        return item.stash[TARGET_KEY]
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("kubecert_target") if callspec is not None else None


def report_path(item: pytest.Item) -> str:
    """What comes before the item's name in its id in the reports: its file, relative to the package root
    however the suite was invoked (installed, --pyargs), else its parent's node id."""
    within = _within_package(item.path)
    if within is None:
        return item.parent.nodeid if item.parent is not None else ""
    return within


@cache
def _within_package(path: Path) -> str | None:
    """Resolved once a process: every check of the catalog is in the same file, and resolving walks its folders."""
    try:
        return path.resolve().relative_to(_PACKAGE_ROOT).as_posix()
    except ValueError:
        return None


def report_nodeid(item: pytest.Item) -> str:
    """The same id however the suite was invoked (installed, --pyargs), without xdist's group suffix."""
    return f"{report_path(item)}::{item.name}"


def keep_quiet_errors_short(call: pytest.CallInfo[None]) -> None:
    """Before pytest makes the report of a check its target stopped (unreadable, unreachable): only the
    traceback's last entry is left to format. ``result_of`` shows the message alone, and formatting the
    fixtures' whole stack for each check cost an unreadable target more than reading a readable one."""
    if call.excinfo is not None and call.excinfo.errisinstance(_QUIET_ERRORS):
        call.excinfo.traceback = call.excinfo.traceback[-1:]


def result_of(item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> Result | None:
    """kubecert's result for ``item`` when ``report`` decides it (setup not passed, or the call)."""
    rule_id, target_id = rule_id_of(item), target_id_of(item)
    if rule_id is None or target_id is None:
        return None
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return None
    rule = catalog.get(rule_id)
    verdict = item.stash.get(VERDICT_KEY, None)
    if call.excinfo is not None and call.excinfo.errisinstance(_QUIET_ERRORS):
        said = escaped_multiline(str(call.excinfo.value))  # it may quote the target (paths, answers)
        report.longrepr = said
        if verdict is None:
            verdict = Verdict.single(rule_id, Status.ERROR, said)
    if verdict is None:
        verdict = Verdict.single(rule_id, *_status_from_report(report, call))
    elif verdict.status is Status.PASSED and report.failed:
        # The verdict passed but the check's own code failed afterwards (a bug in a custom check).
        verdict = Verdict.single(rule_id, Status.ERROR, f"the check failed after its verdict: {report.longreprtext}")
    return result_from_verdict(rule, target_id, verdict, report_nodeid(item))


def result_from_verdict(rule: Rule, target_id: str, verdict: Verdict, nodeid: str, duration_s: float = 0.0) -> Result:
    return Result(
        rule=rule.id, target=target_id, status=verdict.status, message=verdict.message,
        evidence=verdict.evidence(), nodeid=nodeid, duration_s=duration_s, **rule_fields(rule),
    )


def _status_from_report(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[Status, str]:
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return Status.SKIPPED, reason.removeprefix("Skipped: ")  # a check's own pytest.skip
    if report.when == "setup":
        return Status.ERROR, f"could not set up the check: {_short(call)}"
    return (Status.FAILED if report.failed else Status.PASSED), (_short(call) if report.failed else "passed")


def _short(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return ""
    return f"{call.excinfo.typename}: {call.excinfo.value}"
