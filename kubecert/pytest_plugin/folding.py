"""What the terminal says once for many checks: skips and not-applicable checks folded by reason across rules
and targets, errors shared by many checks, and short labels for long target ids.

A fleet of workers has some thirty rules that concern control-plane nodes only; said per rule and per target
that was most of what a run printed. A reason is the same reason whatever rule and target it names: each
result's message is compared with its own rule id and target id taken out, so "KC-INV-01 concerns
control-plane nodes; pki:w1/pki is a worker node" and the same of KC-X509-03 on pki:w9/pki fold into one line.
Statuses are called by the table's names (skipped, not applicable).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from kubecert.reports.results import Result, Status

LABEL_WIDTH = 100  # a target id longer than this is shown by a short label; the summary says which is which
QUERY_WIDTH = 48  # a URI's query (a palette: URI's cluster and project ids) is left out of a label past this
_NAMES = {Status.SKIPPED: "skipped", Status.NOT_APPLICABLE: "not applicable"}
_RULE, _TARGET = "\x00rule\x00", "\x00target\x00"  # placeholders no message can hold (escaped text has no NUL)


def label(target: str) -> str:
    """A target id as the terminal shows it: whole, or shortened with a digest of the whole when too long to read
    in a table: a URI without its query (a palette: URI's cluster and project ids), any other id cut."""
    base, query, _ = target.partition("?")
    if len(target) <= (QUERY_WIDTH if query else LABEL_WIDTH):
        return target
    digest = hashlib.sha256(target.encode()).hexdigest()[:8]
    if query and len(base) <= QUERY_WIDTH:
        return f"{base}?…{digest}"
    return f"{target[:QUERY_WIDTH - 10]}…{digest}"


def legend(targets: list[str]) -> list[str]:
    """What each short label stands for, a line each."""
    return [f"{label(t)} = {t}" for t in targets if label(t) != t]


def _checks(count: int) -> str:
    return f"{count} check" if count == 1 else f"{count} checks"


def _some(names: list[str], noun: str) -> str:
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names)} {noun}, {names[0]} … {names[-1]}"


@dataclass
class Folded:
    """Skips, not-applicable checks and errors gathered to be said once each."""

    # by target: each skip or not-applicable check with the options that would let it run (judging.gate)
    skips: dict[str, list[tuple[Result, tuple[str, ...]]]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))  # (target, msg)

    def skip_lines(self) -> list[str]:
        """One line per reason, for every rule and target it was given for."""
        groups: dict[tuple[Status, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for target, unjudged in self.skips.items():
            needed = list(dict.fromkeys(option for _, options in unjudged for option in options))
            for result, options in unjudged:
                reason = f"they need {', '.join(needed)}" if options else \
                    result.message.replace(result.rule, _RULE).replace(target, _TARGET)
                groups[(result.status, reason)][target].append(result.rule)
        return [self._line(status, reason, by_target) for (status, reason), by_target in groups.items()]

    @staticmethod
    def _line(status: Status, reason: str, by_target: dict[str, list[str]]) -> str:
        targets = list(by_target)
        rules = list(dict.fromkeys(rule for found in by_target.values() for rule in found))
        count = sum(len(found) for found in by_target.values())
        said = reason.replace(_RULE, rules[0] if len(rules) == 1 else "each rule")
        said = said.replace(_TARGET, targets[0] if len(targets) == 1 else "each target")
        where = f"{_some(rules, 'rules')} on {_some([label(t) for t in targets], 'targets')}"
        return f"{_NAMES.get(status, str(status))}: {_checks(count)} ({where}): {said}"
