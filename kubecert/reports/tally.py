"""kubecert's own count of a report, as the last line of a run says it: every status by the table's names, the
failures a baseline accepts, and what the exit code means. CI readers see the last line first; it must not
contradict the exit code (pytest's "5 failed" over a baseline run that exits 0 did)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubecert.status import Status
from kubecert.text import escaped

_SHOWN = ((Status.PASSED, "passed"), (Status.FAILED, "failed"), (Status.ERROR, "error"),
          (Status.SKIPPED, "skipped"), (Status.NOT_APPLICABLE, "not applicable"))

EXIT_MEANINGS = {
    0: "no rule failed",
    1: "a rule failed",
    2: "a check could not run",
}


def counts(report: Mapping[str, Any]) -> dict[str, int]:
    """Results by status (the report's summary), and ``accepted``: the failures the baseline accepts."""
    tally = {str(status): int(report["summary"].get(str(status), 0)) for status in Status}
    tally["accepted"] = sum(1 for r in report["results"] if r["status"] == Status.FAILED and r.get("accepted"))
    return tally


def tally_line(report: Mapping[str, Any], exit_code: int) -> str:
    """``95 passed, 5 failed (5 accepted by the baseline), 32 not applicable; exit 0: no rule failed``; a
    status no result has is left out, and an empty report says so."""
    tally = counts(report)
    parts = []
    for status, name in _SHOWN:
        if tally[status]:
            accepted = tally["accepted"] if status is Status.FAILED else 0
            parts.append(f"{tally[status]} {name}" + (f" ({accepted} accepted by the baseline)" if accepted else ""))
    meaning = EXIT_MEANINGS.get(exit_code, "")
    if exit_code == 0 and tally["accepted"]:
        meaning = "every failure is accepted by the baseline"
    elif exit_code == 2 and not report["results"]:
        meaning = "no check ran"
    elif exit_code == 2 and not report.get("complete", True):
        meaning = "the run did not finish"
    return f"{', '.join(parts) or 'no results'}; exit {exit_code}" + (f": {meaning}" if meaning else "")


def failing_lines(report: Mapping[str, Any], limit: int = 20) -> list[str]:
    """What made a run fail, a line per result (rule, target, message), the first ``limit`` of them: the
    report's text is a target's, escaped."""
    bad = [r for r in report["results"] if r["status"] in (Status.FAILED, Status.ERROR) and not r.get("accepted")]
    lines = [f"{str(r['status']).upper():<7} {escaped(r['rule'])} {escaped(r['target'])}: {escaped(r['message'])}"
             for r in bad[:limit]]
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more (the report lists every one)")
    return lines
