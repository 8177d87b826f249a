"""Findings (what a rule saw about one subject) and the verdict they add up to (one per rule and target)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubecert.status import Status
from kubecert.text import escaped, escaped_multiline, escaped_values

if TYPE_CHECKING:  # the model brings cryptography, which the catalog (`kubecert rules`) does without
    from kubecert.inventory.model import CertRecord


@dataclass(frozen=True)
class Finding:
    """One subject (a certificate, file or request) judged by one rule."""

    subject: str
    status: Status
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    notable: bool = False  # a pass worth reading (accepted legacy form, external CA, ...)

    def to_evidence(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"subject": self.subject, "status": str(self.status), "detail": self.message}
        # A fact never takes the place of what the finding itself says (an HTTP status is not a verdict).
        entry.update((key, value) for key, value in escaped_values(dict(self.evidence)).items() if key not in entry)
        return entry


def _finding(status: Status, subject: str | CertRecord, message: str, notable: bool, facts: Any) -> Finding:
    evidence: dict[str, Any] = {}
    if not isinstance(subject, str):  # a certificate
        evidence.update(subject.finding_evidence(status in (Status.FAILED, Status.ERROR), facts))
        subject = subject.name
    evidence.update(facts)
    # Subjects and messages carry a target's text (file names, DNs, answers): never raw control characters.
    return Finding(escaped(subject), status, escaped(message), evidence, notable)


def passed(subject: str | CertRecord, message: str, *, notable: bool = False, **facts: Any) -> Finding:
    return _finding(Status.PASSED, subject, message, notable, facts)


def failed(subject: str | CertRecord, message: str, **facts: Any) -> Finding:
    return _finding(Status.FAILED, subject, message, True, facts)


def error(subject: str | CertRecord, message: str, **facts: Any) -> Finding:
    return _finding(Status.ERROR, subject, message, True, facts)


def not_applicable(subject: str | CertRecord, message: str, **facts: Any) -> Finding:
    return _finding(Status.NOT_APPLICABLE, subject, message, False, facts)


class Unjudged(enum.StrEnum):
    """Why a rule was not judged on a target: what the terminal folds skips by, never their prose."""

    OTHER_ROLE = "other-role"  # a rule of another node role (not applicable)
    MISSING_CAPABILITY = "missing-capability"  # the target cannot offer what the rule needs (as configured)
    OPT_IN = "opt-in"  # the rule changes the target and the run did not allow it
    CANNOT_JUDGE = "cannot-judge"  # the target cannot act or offers no API for the rule's step
    NOT_IMPLEMENTED = "not-implemented"
    OTHER_CONTEXT = "other-context"  # the rule judges another kind of context than it was given


_PRECEDENCE = (Status.FAILED, Status.ERROR, Status.PASSED, Status.NOT_APPLICABLE)


@dataclass(frozen=True)
class Verdict:
    """A rule's result on one target: its status, a message naming every offender, the evidence."""

    rule: str
    status: Status
    message: str
    findings: tuple[Finding, ...] = ()
    unjudged: Unjudged | None = None  # a verdict reached without judging: why
    options: tuple[str, ...] = ()  # the options that would let the rule be judged (``--renew-command``)

    @classmethod
    def of(cls, rule: str, findings: Iterable[Finding]) -> Verdict:
        found = tuple(findings)
        if not found:
            return cls(rule, Status.NOT_APPLICABLE, "nothing on this target that the rule applies to")
        statuses = {f.status for f in found}
        status = next(s for s in _PRECEDENCE if s in statuses)
        return cls(rule, status, _summary(status, found), found)

    @classmethod
    def single(cls, rule: str, status: Status, message: str, unjudged: Unjudged | None = None,
               options: tuple[str, ...] = ()) -> Verdict:
        """A verdict reached without findings: skipped, or the target could not be observed."""
        return cls(rule, status, escaped_multiline(message), unjudged=unjudged, options=options)

    def evidence(self) -> list[dict[str, Any]]:
        return [f.to_evidence() for f in self.findings]

    def cleaned(self, clean: Callable[[Any], Any]) -> Verdict:
        """This verdict with ``clean`` applied to every text it carries: its message, each finding's subject,
        message and evidence."""
        findings = tuple(dataclasses.replace(f, subject=clean(f.subject), message=clean(f.message),
                                             evidence=clean(dict(f.evidence))) for f in self.findings)
        return dataclasses.replace(self, message=clean(self.message), findings=findings)


def _summary(status: Status, findings: tuple[Finding, ...]) -> str:
    judged = [f for f in findings if f.status is not Status.NOT_APPLICABLE]
    bad = [f for f in findings if f.status in (Status.FAILED, Status.ERROR)]
    if status is Status.NOT_APPLICABLE:
        return "; ".join(f"{f.subject}: {f.message}" for f in findings)
    if not bad:
        head = f"{len(judged)} checked, all passed"
        notes = [f"{f.subject}: {f.message}" for f in judged if f.notable]
        return head if not notes else head + "\n" + "\n".join(f"  note {n}" for n in notes)
    failures = sum(f.status is Status.FAILED for f in bad)
    errors = len(bad) - failures
    parts = []
    if failures:
        parts.append(f"{failures} failed")
    if errors:
        parts.append(f"{errors} could not be checked")
    head = f"{' and '.join(parts)} of {len(judged)} checked"
    lines = [f"  {f.status.value.upper()} {f.subject}: {f.message}" for f in bad]
    return head + "\n" + "\n".join(lines)
