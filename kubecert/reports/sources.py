"""What the report formats read a report's results from (outputs.Format): a run's spool (spool.py), or a document's
results held whole (canonical.HeldResults)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class ResultSource(Protocol):
    """A report's results as the formats read them (outputs.py): a run's spool, or a document's held results."""

    rules: dict[str, dict[str, Any]]  # the report's rules section, by rule ID

    def lines(self) -> Iterator[str]: ...  # each result's report line, compacted against ``rules``

    def documents(self, whole: frozenset[str] | None = None) -> Iterator[dict[str, Any]]: ...
