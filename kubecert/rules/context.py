"""What a rule function is given: the observation, the profile and the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubecert.profiles import Profile
from kubecert.rules.findings import Finding, error, failed

# The model brings cryptography, which the catalog (`kubecert rules`) does without; where a problem is
# judged, an inventory has long imported it.
if TYPE_CHECKING:
    from kubecert.inventory.keymaterial import KeyTraces
    from kubecert.inventory.model import Inventory, Problem


@dataclass(frozen=True)
class RuleContext:
    inventory: Inventory
    profile: Profile
    now: dt.datetime  # the clock rules judge dates by: --at, else the observation time

    @property
    def observed_at(self) -> dt.datetime:
        return self.inventory.observed_at

    def known_keys(self) -> KeyTraces:
        """The traces of every private key this context read: its verdict's evidence is cleaned of them."""
        return self.inventory.key_traces

    def unevaluated(self, *subjects: str, owner: str) -> Iterator[Finding]:
        """Errors for subjects this rule needs but the target could not give (``owner`` reports why).

        Missing files are the inventory rules' business and are not repeated here.
        """
        from kubecert.inventory.model import ProblemKind

        for problem in self.inventory.problems_for(*subjects):
            if problem.kind is not ProblemKind.MISSING:
                yield error(problem.subject, f"not evaluated: {problem.describe()} (see {owner})", path=problem.path)

    def reported(self, *subjects: str) -> Iterator[Finding]:
        """The problems of subjects this rule owns: failed when the platform is at fault, else error."""
        for problem in self.inventory.problems_for(*subjects):
            yield problem_finding(problem)


def problem_finding(problem: Problem) -> Finding:
    from kubecert.inventory.model import ProblemKind

    if problem.kind is ProblemKind.UNREADABLE:
        return error(problem.subject, f"could not be read: {problem.describe()}", path=problem.path)
    return failed(problem.subject, problem.describe(), path=problem.path)
