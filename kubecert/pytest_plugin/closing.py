"""The last line of a ``kubecert check`` run says kubecert's count, not pytest's.

pytest counts items: a fleet check is one item for hundreds of results, a failure the baseline accepts is a
failed item, a rule that does not concern a node is a skipped one. CI readers read the last line first, so
when the command ran pytest and every item was one of kubecert's checks, the line pytest closes with is built
from kubecert's results instead (pytest's deselected and warning counts kept), with the exit code the command
returns. Under plain pytest the closing line and the exit code stay pytest's (tools such as pytester read
them, and a pytest user expects pytest's counting); kubecert's count is the last line of its own section.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubecert.pytest_plugin.outcomes import CHECK_KIND
from kubecert.reports.tally import EXIT_FAILED, EXIT_OK, Tally
from kubecert.status import Status

_MARKUP = {Status.PASSED: {"green": True}, Status.FAILED: {"red": True}, Status.ERROR: {"red": True},
           Status.SKIPPED: {"yellow": True}, Status.NOT_APPLICABLE: {}}
_MAIN_COLOUR = {EXIT_OK: "green", EXIT_FAILED: "red"}  # anything else: yellow


class ClosingLine:
    def __init__(self) -> None:
        self.others_ran = False  # an item, or a collection, that is not one of kubecert's checks
        self.tally: Tally | None = None

    def seen(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if isinstance(report, pytest.CollectReport):
            self.others_ran |= report.failed
        elif getattr(report, CHECK_KIND, None) is None:
            self.others_ran = True

    def settle(self, tally: Tally) -> None:
        self.tally = tally

    def install(self, terminalreporter: Any, exit_code: int) -> None:
        """Have pytest close with kubecert's count and the exit code the command returns."""
        if self.others_ran or self.tally is None:
            return
        tally = self.tally
        stats = terminalreporter.stats
        wholly_accepted = tally.accepted == tally.by_status[Status.FAILED]  # no cause for red
        parts = [(text, {"cyan": True} if status is Status.FAILED and wholly_accepted else _MARKUP[status])
                 for text, status in tally.parts()]
        for key, name in (("deselected", "deselected"), ("warnings", "warnings")):
            if stats.get(key):
                parts.append((f"{len(stats[key])} {name}", {"yellow": True}))
        parts.append((f"exit {exit_code} ({tally.meaning(exit_code)})", {}))
        colour = _MAIN_COLOUR.get(exit_code, "yellow")
        # pytest builds its closing line with this method, once, after every terminal summary: an attribute of
        # the reporter of this run is the one place to give it kubecert's line
        terminalreporter.build_summary_stats_line = lambda: (parts or [("no results", {})], colour)
