"""Which way a renewal through the API is judged: in the mode the platform showed (a repave replaced the
control-plane machines, a renewal in place kept them; kubecert.inventory.renewal_progress tells them apart), or
in the one the profile pins (``renewal_mode: repave | in-place``; ``auto``, the palette profile's, pins none).

Each mode has its rules: KC-RPV-04 and KC-RPV-05 judge a repave, KC-RPV-11 a renewal in place; a rule of the
other mode is not applicable and says why. A pinned mode the platform contradicts fails the pinned mode's rule,
saying so. Every finding of a renewal carries the mode in its evidence, as ``renewal_mode``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from kubecert.inventory.platform import RenewalRecord
from kubecert.inventory.renewal_progress import IN_PLACE, REPAVE, RenewalSeen, renewal_seen
from kubecert.profiles import AUTO
from kubecert.rules.findings import Finding, error, not_applicable

_RULES_OF = {REPAVE: "KC-RPV-04 and KC-RPV-05 judge it", IN_PLACE: "KC-RPV-11 judges it"}
C = TypeVar("C")


@dataclass(frozen=True)
class RenewalMode:
    profile: str  # the profile's renewal_mode: auto, repave or in-place
    seen: RenewalSeen
    awaiting_approval: bool = False

    @property
    def pinned(self) -> str | None:
        return None if self.profile == AUTO else self.profile

    @property
    def detected(self) -> str | None:
        return self.seen.mode

    @property
    def judged_as(self) -> str | None:
        return self.pinned or self.detected

    def contradiction(self) -> str | None:
        """What a pinned mode the platform did not keep to says, or None."""
        if self.pinned is None or self.detected is None or self.pinned == self.detected:
            return None
        return f"the profile pins renewal_mode {self.pinned}, but {self.seen.describe()}"

    def outside(self, mode: str, subject: str) -> Finding | None:
        """The finding of a rule of ``mode`` when the renewal is judged in another mode (not applicable) or in none
        (an error); None when the rule applies."""
        if self.judged_as == mode:
            return None
        if self.judged_as is None:
            return error(subject, f"{self.seen.describe()} while the renewal was watched, so which way the platform "
                                  "renews cannot be told (see KC-RPV-08)")
        if self.pinned is not None:
            return not_applicable(subject, f"the profile pins renewal_mode {self.pinned} "
                                           f"({_RULES_OF[self.pinned]})")
        return not_applicable(subject, f"{self.seen.describe()} ({_RULES_OF[self.judged_as]})")

    def evidence(self) -> dict[str, Any]:
        return {"judged_as": self.judged_as, "profile": self.profile, **self.seen.evidence(),
                "awaiting_approval": self.awaiting_approval, "why": self._why()}

    def _why(self) -> str:
        if self.awaiting_approval:
            return "the repave waits for approval: nothing was renewed"
        if self.pinned is not None:
            return f"the profile pins renewal_mode {self.pinned}; {self.seen.describe()}"
        return self.seen.describe()


def mode_of(record: RenewalRecord) -> RenewalMode:
    return RenewalMode(record.profile_mode, renewal_seen(record), record.awaiting_approval)


def with_mode(rule: Callable[[C], Iterator[Finding]], record_of: Callable[[C], RenewalRecord]
              ) -> Callable[[C], Iterator[Finding]]:
    """``rule`` with the renewal's mode in the evidence of each of its findings."""

    @functools.wraps(rule)
    def judged(ctx: C) -> Iterator[Finding]:
        facts = mode_of(record_of(ctx)).evidence()
        for finding in rule(ctx):
            yield dataclasses.replace(finding, evidence={**finding.evidence, "renewal_mode": facts})

    return judged
