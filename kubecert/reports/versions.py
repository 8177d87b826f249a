"""The versions of what kubecert writes and reads back (reports, baselines), and which of them a reader takes.

A document names its format and version in its ``schema`` field: ``kubecert.report/v1.9``. A minor version
adds (a field, optional or always written; an enum value; a narrower form of a value kubecert already
wrote): a reader takes every minor of its major. One of an older minor lacks the fields added since, which
the reader fills in (canonical.upgraded); one of a later minor may hold fields this reader does not know,
which it checks for size only and leaves out of what it returns (a document merged or rewritten is written
at the reader's own version, which does not have them). A major version removes a field or changes what
one means: a reader refuses a later major, naming it. docs/report-format.md says this for users; CHANGELOG.md
lists every version.

A name without a minor (``kubecert.report/v1``) is what kubecert wrote before this policy: any minor the
format had by then, so a reader requires of it only what its first minor had.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubecert.reports.validate import show_value


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    later: bool  # a later minor than the reader's: fields it does not know are left out, not refused


@dataclass(frozen=True)
class Format:
    name: str  # kubecert.report
    major: int  # what this kubecert writes
    minor: int
    older_majors: frozenset[int] = frozenset()  # read too, with their own rules (a baseline's v1 and v2)

    @property
    def current(self) -> str:
        return f"{self.name}/v{self.major}.{self.minor}"

    @property
    def pattern(self) -> str:
        """What the ``schema`` field holds, as a JSON Schema pattern."""
        return f"^{re.escape(self.name)}/v[0-9]{{1,4}}(\\.[0-9]{{1,4}})?$"

    def id_for(self, kind: str) -> str:
        """The URN of this version's JSON Schema, e.g. urn:kubecert:report:v1.9."""
        return f"urn:kubecert:{kind}:v{self.major}.{self.minor}"

    def version_of(self, document: Mapping[str, Any]) -> Version | str:
        """The version a document's ``schema`` field names, or why this kubecert does not read it."""
        if "schema" not in document:
            return "schema: missing (a required field)"
        value = document["schema"]
        if not isinstance(value, str):
            return f"schema: expected text, got {show_value(value)}"
        found = re.fullmatch(rf"{re.escape(self.name)}/v([0-9]{{1,4}})(?:\.([0-9]{{1,4}}))?", value)
        if found is None:
            return f"schema: {show_value(value)} is not a version of {self.name} (e.g. {self.current})"
        major, minor = int(found.group(1)), int(found.group(2) or 0)
        if major == self.major or major in self.older_majors:
            return Version(major, minor, later=major == self.major and minor > self.minor)
        if major > self.major:
            return (f"schema: {show_value(value)} is a later major version, which this kubecert does not read "
                    f"(it writes {self.current} and reads every {self.name}/v{self.major}.N): "
                    "read it with the kubecert that wrote it, or a later one")
        return f"schema: {show_value(value)} is an older major version, which this kubecert no longer reads"


REPORT = Format("kubecert.report", 1, 9)
BASELINE = Format("kubecert.baseline", 3, 0, older_majors=frozenset({1, 2}))
