"""The five statuses of a check: what rules conclude and what every report carries."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the check could not be carried out: unreadable input, target down
    SKIPPED = "skipped"  # not asked for: disruptive without the opt-in, capability missing
    NOT_APPLICABLE = "not_applicable"  # the rule does not concern this subject (an external CA's leaves)


STATUSES: tuple[str, ...] = tuple(Status)
