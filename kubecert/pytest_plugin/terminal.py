"""What an operator reads on the terminal: one line per rule and target, then a summary.

With ``--kubecert-compact`` (what ``kubecert check`` runs by default) pytest's own lines give way to
kubecert's: each (rule, target) on one line with its verdict and its first offender; skips that only
say which option would run a check are folded into one line per target; an error shared by many checks
(a target that cannot be read) is said once. Without it (plain pytest, ``kubecert check -v``) pytest
prints as it always does. Either way the session ends with kubecert's summary: a table per target, every
failure with what fixes it, and the reports written. Colour follows pytest's terminal (a TTY, NO_COLOR).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import pytest

from kubecert.options import Kind, Option
from kubecert.pytest_plugin.folding import Folded, label, legend
from kubecert.pytest_plugin.options import command_run
from kubecert.pytest_plugin.outcomes import CHECK_KIND, attached
from kubecert.reports.results import BaselineRecord, Result, Status
from kubecert.status import STATUSES
from kubecert.text import escaped, escaped_each_line

_MARKUP = {Status.PASSED: {"green": True}, Status.FAILED: {"red": True, "bold": True},
           Status.ERROR: {"yellow": True, "bold": True}}
_LABEL = {Status.PASSED: "pass", Status.FAILED: "FAIL", Status.ERROR: "ERROR", Status.SKIPPED: "skip",
          Status.NOT_APPLICABLE: "n/a"}
ACCEPTED = "accepted"
COMPACT_PLUGIN = "kubecert.compact-terminal"
TERMINAL_OPTIONS = (
    Option("compact", "kubecert's lines instead of pytest's: one per rule and target, skips folded, an error once",
           kind=Kind.FLAG),
    Option("compact-quiet", "with --kubecert-compact: leave out the lines of checks that passed", kind=Kind.FLAG),
)
CONTINUED = "    "  # how a message's further lines are indented under its first


def register_compact(config: pytest.Config) -> None:
    run = command_run(config)
    compact, quiet = ((run.compact, run.compact_quiet) if run is not None else
                      (config.getoption("kubecert_compact"), config.getoption("kubecert_compact_quiet")))
    if compact:
        config.pluginmanager.register(CompactTerminal(config, bool(quiet)), COMPACT_PLUGIN)


def first_offender(result: Result) -> str:
    """What to show on the result's one line: its first failing subject, or its message's first line."""
    failing = [e for e in result.evidence if e.get("status") in (Status.FAILED, Status.ERROR)]
    if failing:
        first = failing[0]
        text = f"{first['subject']}: {first['detail']}" if first.get("detail") else str(first["subject"])
        return text + (f" (+{len(failing) - 1} more)" if len(failing) > 1 else "")
    return result.message.split("\n", 1)[0]


def status_label(result: Result) -> str:
    return ACCEPTED if result.accepted else str(result.status)


class CompactTerminal:
    """Registered on the controller with --kubecert-compact."""

    def __init__(self, config: pytest.Config, quiet: bool) -> None:
        self.config = config
        self.quiet = quiet
        self.folded = Folded()

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
        """No progress letter for a catalog or fleet check: its lines are kubecert's."""
        if getattr(report, CHECK_KIND, None) is None:
            return None
        if report.when in ("setup", "teardown") and report.failed:
            return "error", "", ""
        if report.when == "call" or not report.passed:
            return report.outcome, "", ""
        return "", "", ""

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        results, options, _ = attached(report)
        for result, needed in zip(results, options, strict=True):
            self._result(result, needed)

    def _result(self, result: Result, options: tuple[str, ...]) -> None:
        if result.status in (Status.SKIPPED, Status.NOT_APPLICABLE):
            self.folded.skips[result.target].append((result, options))
            return
        if result.status is Status.ERROR:
            # Said once at the end, with every check it stopped: a target that cannot be read stops them all.
            self.folded.errors[(result.target, result.message)].append(result.rule)
            return
        if result.status is Status.PASSED and self.quiet:
            return
        self._line(result)

    def _line(self, result: Result) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        shown = "ACCEPTED" if result.accepted else _LABEL[result.status]
        detail = result.title if result.status is Status.PASSED else first_offender(result)
        markup = {"cyan": True} if result.accepted else _MARKUP.get(result.status, {})
        terminal.write_line(f"{shown:<8} {result.rule:<11} {escaped(label(result.target))}  {escaped(detail)}",
                            **markup)


def summary_lines(by_target: Mapping[str, Counter[str]], failures: Iterable[Result],
                  folded: Folded | None) -> list[tuple[str, dict[str, bool]]]:
    """The end of the run: a table per target (``by_target``: its results counted by status label), what fixes
    each failure (``failures``: the failed results, others are left out), then skips and errors said once."""
    lines: list[tuple[str, dict[str, bool]]] = []
    columns = [*STATUSES, ACCEPTED]
    width = max((len(escaped(label(t))) for t in by_target), default=6)
    lines.append((f"{'target':<{width}}  " + "  ".join(columns), {"bold": True}))
    for target, counts in by_target.items():
        markup = {"red": True} if counts[Status.FAILED] else ({"yellow": True} if counts[Status.ERROR] else {})
        cells = "  ".join(f"{counts[c]:>{len(c)}}" for c in columns)
        lines.append((f"{escaped(label(target)):<{width}}  {cells}", markup))
    lines += [(f"  {escaped(line)}", {}) for line in legend(list(by_target))]
    failing = [r for r in failures if r.status is Status.FAILED]
    if failing:
        lines.append(("", {}))
    for result in failing:
        head = "accepted" if result.accepted else "FAILED"
        lines.append((f"{head} {result.rule} {result.title} [{escaped(label(result.target))}]",
                      {"cyan": True} if result.accepted else {"red": True, "bold": True}))
        lines += [(f"{CONTINUED}{line}", {}) for line in escaped_each_line(result.message)]
        if result.remediation:
            lines.append((f"    fix: {result.remediation}", {"green": True}))
    if folded is not None:
        for (target, message), rules in folded.errors.items():
            checks = f"{len(rules)} checks could not run" if len(rules) > 1 else f"{rules[0]} could not run"
            said = message.removeprefix(f"{target}: ")
            lines += _block(f"ERROR {escaped(label(target))}: ", said, f" ({checks})", {"yellow": True, "bold": True})
        for line in folded.skip_lines():
            lines += _block("", line, "", {})
    return lines


def _block(head: str, message: str, tail: str, markup: dict[str, bool]) -> list[tuple[str, dict[str, bool]]]:
    """A message on the terminal: its first line after ``head`` and before ``tail``, each further line of its own
    an indented continuation. Each line is escaped by itself, so a line break kubecert wrote stays one, and one a
    target slipped into its text shows as ``\\x0a`` (the message escaped it where it was made)."""
    first, *rest = escaped_each_line(message)
    return [(f"{head}{first}{tail}", markup), *((f"{CONTINUED}{line}", markup) for line in rest)]


STALE_SHOWN = 20  # the report lists every stale entry; the terminal the first ones


def baseline_lines(record: BaselineRecord) -> list[tuple[str, dict[str, bool]]]:
    """What the baseline did this run: how many failures it accepted, and every entry that matched nothing."""
    stale = record.stale or []
    said = f"baseline {escaped(record.path)}: {record.accepted} failures accepted, {record.new} new"
    if stale:
        said += f"; {len(stale)} entries stale (they matched nothing: remove them)"
    lines: list[tuple[str, dict[str, bool]]] = [(said, {})]
    for entry in stale[:STALE_SHOWN]:
        lines.append((f"STALE    {entry.rule:<11} {escaped(entry.target)}  "
                      f"{escaped(entry.offender) or '(no subject)'}: {escaped(entry.why)}", {"yellow": True}))
    if len(stale) > STALE_SHOWN:
        lines.append((f"         ... and {len(stale) - STALE_SHOWN} more stale entries (the report lists them all)",
                      {"yellow": True}))
    if record.unpinned:
        lines.append((f"NOTE: {record.unpinned} baseline entries pin nothing of what was observed (a file written "
                      "before pins): each accepts any failure of its offender, a worse one too; write the baseline "
                      "again (kubecert baseline write) to pin them", {"yellow": True}))
    return lines
