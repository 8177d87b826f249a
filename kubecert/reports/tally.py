"""kubecert's own count of a run, and the exit code it makes: what the last line of a run says. CI readers see
the last line first; it must not contradict the exit code (pytest's "5 failed" over a baseline run that exits
0 did, and so did "34 passed" over a fleet whose table showed 538 results)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubecert.status import Status
from kubecert.text import escaped

if TYPE_CHECKING:
    from kubecert.reports.results import Report

SHOWN = ((Status.PASSED, "passed"), (Status.FAILED, "failed"), (Status.ERROR, "error"),
         (Status.SKIPPED, "skipped"), (Status.NOT_APPLICABLE, "not applicable"))
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Tally:
    by_status: Mapping[str, int]
    accepted: int  # failures the baseline accepts
    complete: bool

    @classmethod
    def of(cls, statuses: Iterable[tuple[str, bool]], complete: bool = True) -> Tally:
        """From each result's (status, accepted)."""
        by_status = {str(status): 0 for status in Status}
        accepted = 0
        for status, was_accepted in statuses:
            by_status[str(status)] += 1
            accepted += bool(status == Status.FAILED and was_accepted)
        return cls(by_status, accepted, complete)

    @classmethod
    def of_document(cls, report: Mapping[str, Any]) -> Tally:
        """From a report as JSON."""
        return cls.of(((r["status"], bool(r.get("accepted"))) for r in report["results"]),
                      bool(report.get("complete", True)))

    @classmethod
    def of_report(cls, report: Report) -> Tally:
        """From a report's summary and its baseline's count of accepted failures (its results are not read)."""
        accepted = report.baseline.accepted if report.baseline is not None else 0
        return cls({str(status): count for status, count in report.summary.items()}, accepted, report.complete)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def exit_code(self) -> int:
        """1 a rule failed (a failure the baseline accepts does not count), 2 a check could not run, nothing ran
        or the run did not finish, else 0."""
        if self.by_status[Status.FAILED] > self.accepted:
            return EXIT_FAILED
        if self.by_status[Status.ERROR] or not self.total or not self.complete:
            return EXIT_ERROR
        return EXIT_OK

    def parts(self) -> list[tuple[str, Status]]:
        """Each status some result has, counted, by the names of kubecert's table."""
        found = []
        for status, name in SHOWN:
            count = self.by_status[status]
            if count:
                accepted = f" ({self.accepted} accepted by the baseline)" if status is Status.FAILED and \
                    self.accepted else ""
                found.append((f"{count} {name}{accepted}", status))
        return found

    def meaning(self, exit_code: int) -> str:
        if exit_code == EXIT_OK:
            return "every failure is accepted by the baseline" if self.accepted else "no rule failed"
        if exit_code == EXIT_FAILED:
            return "a rule failed"
        if not self.total:
            return "no check ran"
        return "a check could not run" if self.complete else "the run did not finish"

    def line(self, exit_code: int | None = None) -> str:
        """``95 passed, 5 failed (5 accepted by the baseline); exit 0: every failure is accepted by the baseline``."""
        said = ", ".join(text for text, _ in self.parts()) or "no results"
        return said if exit_code is None else f"{said}; exit {exit_code}: {self.meaning(exit_code)}"


def failing_lines(report: Mapping[str, Any], limit: int = 20) -> list[str]:
    """What made a run fail, a line per result (rule, target, message), the first ``limit`` of them: the
    report's text is a target's, escaped."""
    bad = [r for r in report["results"] if r["status"] in (Status.FAILED, Status.ERROR) and not r.get("accepted")]
    lines = [f"{str(r['status']).upper():<7} {escaped(r['rule'])} {escaped(r['target'])}: {escaped(r['message'])}"
             for r in bad[:limit]]
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more (the report lists every one)")
    return lines
