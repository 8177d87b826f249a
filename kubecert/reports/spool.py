"""A run's results, written to a temporary file as they come in, and nothing of a passing one kept in memory.

A fleet's results used to be held until the end of the run and then copied twice more to be written (as a
document of dicts, then as text): memory grew with the fleet (9 GiB at 10,000 clusters). Each result is now
made into its report line when its check ends (its passing certificates joined to the target's records,
its rule's text left to the rules section: canonical.compact) and appended to an unlinked temporary file;
what stays is an index entry (where the line is, its status and duration) and, for a failure, the Result
itself (the terminal names them, the baseline counts them; an error is said by the terminal's folding, and a
fleet of unreadable targets must cost no more than a readable one). The reports are then written from
that file, a line at a time, in the report's order.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from kubecert.reports import canonical
from kubecert.reports.results import Result
from kubecert.status import Status

Key = tuple[str, str, str]  # the check's node id, the rule, the target: one result each
KEPT = (Status.FAILED,)  # results held whole: few, named at the end of the run and counted by the baseline


@dataclass(frozen=True, slots=True)  # one per result of the run
class Entry:
    offset: int
    length: int
    status: Status
    accepted: bool
    duration_s: float


class ResultSpool(Sequence[Result]):
    """The run's results, in the report's order when read (by target, catalog order of the rule, node id)."""

    def __init__(self) -> None:
        # unlinked at once: nothing is left behind by a run that dies, and no other process can open it
        self._file = tempfile.TemporaryFile(prefix="kubecert-results-")  # noqa: SIM115 - open for the run
        self._end = 0
        self._index: dict[Key, Entry] = {}
        self._order: list[Key] | None = None
        self.rules: dict[str, dict[str, Any]] = {}  # the report's rules section, as results fill it
        self.kept: dict[Key, Result] = {}  # failures, whole
        self.by_target: defaultdict[str, Counter[str]] = defaultdict(Counter)  # status label → count

    def add(self, key: Key, result: Result, certificates: Mapping[str, Mapping[str, Any]]) -> None:
        """``result`` as the report will hold it; ``certificates``: its target's records by SHA-256 fingerprint.
        A second result for one key replaces the first (its line stays in the file, no longer indexed)."""
        line = json.dumps(canonical.compact(canonical.joined(result, certificates).to_json(), self.rules),
                          default=str).encode()
        self._file.seek(self._end)
        self._file.write(line)
        known = self._index.get(key)
        if known is not None:
            self.by_target[key[2]][_label(known.status, known.accepted)] -= 1
        accepted = bool(result.accepted)
        self._index[key] = Entry(self._end, len(line), result.status, accepted, result.duration_s)
        self.by_target[key[2]][_label(result.status, accepted)] += 1
        self._end += len(line)
        self._order = None
        if result.status in KEPT:
            self.kept[key] = result
        else:
            self.kept.pop(key, None)

    def keys(self) -> set[Key]:
        return set(self._index)

    def by_status(self) -> Counter[Status]:
        return Counter(entry.status for entry in self._index.values())

    def by_rule(self) -> Counter[str]:
        return Counter(key[1] for key in self._index)

    def __len__(self) -> int:
        return len(self._index)

    def _ordered(self) -> list[Key]:
        if self._order is None:
            self._order = sorted(self._index, key=lambda k: (k[2], canonical.rule_order(k[1]), k[0]))
        return self._order

    def lines(self) -> Iterator[str]:
        """Each result's report line (compacted against ``rules``), in the report's order."""
        return (self._line(self._index[key]) for key in self._ordered())

    def documents(self, whole: frozenset[str] | None = None) -> Iterator[dict[str, Any]]:
        """Each result as JSON with its rule's text, in the report's order; with ``whole``, a result whose status
        label is not in it is only its rule, target, status and duration (what a fleet's page and JUnit's
        totals count), and its line is not read."""
        for key in self._ordered():
            entry = self._index[key]
            if whole is not None and _label(entry.status, entry.accepted) not in whole:
                yield {"rule": key[1], "target": key[2], "status": str(entry.status),
                       "duration_s": entry.duration_s, **({"accepted": True} if entry.accepted else {})}
            else:
                yield canonical.fill(json.loads(self._line(entry)), self.rules)

    def _line(self, entry: Entry) -> str:
        self._file.seek(entry.offset)
        return self._file.read(entry.length).decode()

    @overload
    def __getitem__(self, index: int) -> Result: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Result]: ...
    def __getitem__(self, index: int | slice) -> Result | Sequence[Result]:
        """A result read back from the file (as the report holds it: a passing certificate named by reference)."""
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return Result.from_json(canonical.fill(json.loads(self._line(self._index[self._ordered()[index]])), self.rules))

    def __iter__(self) -> Iterator[Result]:
        for document in self.documents():
            yield Result.from_json(document)

    def close(self) -> None:
        self._file.close()


def _label(status: Status, accepted: bool) -> str:
    """The status a table shows: a failure the baseline accepts is "accepted"."""
    return "accepted" if status is Status.FAILED and accepted else str(status)
