"""Baselines: today's failures, recorded so that a CI gate fails only on new ones.

``kubecert baseline write FILE`` records, from a canonical report, one entry per offender of every failed
result: the rule, the target's identity (its real folder or API and cluster, so a renamed URI still
matches), the offender (the evidence subject that failed; "" when the failure names none) and what was
observed of it (``observed``, the pin): the certificate's fingerprint, the file's mode and owner, or, for a
finding with none of these, a digest of the finding. An entry may carry a ``reason`` and an ``expires`` date.

A run with ``--baseline FILE`` marks a failed result ``accepted`` when every one of its offenders is matched
by an entry that has not expired (as of the date judged: ``--at`` or today) and whose pin is what the run
observes now: a key accepted at 0640 is not accepted at 0666, a re-signed certificate is not the one
accepted. One offender left unmatched makes the whole result new. An entry that matched nothing, though its
rule was judged on its target, is stale, and the run says so and why.

Files written before pins (``kubecert.baseline/v1``), and any entry without ``observed``, stay readable:
such an entry accepts any failure of its offender, as it always did, and every run counts them in a note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.reports.results import BaselineRecord, Result, StaleEntry, Status
from kubecert.reports.versions import BASELINE

BASELINE_SCHEMA = BASELINE.current  # kubecert.baseline/v2.N (versions.py); v2 before minors were written
UNPINNED_SCHEMA = "kubecert.baseline/v1"  # entries without pins: read, never written
MAX_BASELINE_BYTES = 16 * 1024 * 1024
# The facts of an evidence entry that say which thing failed and how: a certificate by its fingerprint, a file
# by its mode and owner. A finding with none of them is pinned by a digest of the whole finding.
PINNED_FACTS = ("fingerprint_sha256", "mode", "owner")
_ENTRY_SCHEMA = {
    "type": "object",
    "required": ["rule", "target", "offender"],
    "properties": {
        "rule": {"type": "string"},
        "target": {"type": "string"},
        "offender": {"type": "string"},
        "observed": {"type": "array", "items": {"type": "string"}},
        "reason": {"type": "string"},
        "expires": {"type": "string", "format": "date"},
    },
    "additionalProperties": False,
}
DOCUMENT_SCHEMA = {
    "type": "object",
    "required": ["schema", "accepted"],
    "properties": {
        "schema": {"type": "string", "pattern": BASELINE.pattern},
        "written_from": {"type": "string"},
        "accepted": {"type": "array", "items": _ENTRY_SCHEMA},
    },
    "additionalProperties": False,
}


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, order=True)
class Entry:
    rule: str
    target: str  # the target's identity
    offender: str
    observed: tuple[str, ...] | None = None  # the pin; None accepts any failure of the offender
    reason: str | None = None
    expires: dt.date | None = None  # accepts nothing after this day

    @property
    def key(self) -> tuple[str, str, str]:
        return self.rule, self.target, self.offender

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"rule": self.rule, "target": self.target, "offender": self.offender}
        if self.observed is not None:
            document["observed"] = list(self.observed)
        if self.reason is not None:
            document["reason"] = self.reason
        if self.expires is not None:
            document["expires"] = self.expires.isoformat()
        return document


def offenders(result: Mapping[str, Any] | Result) -> list[str]:
    """The subjects a failed result names as failing; [""] when it names none."""
    evidence = result.evidence if isinstance(result, Result) else result["evidence"]
    failing = sorted({str(e["subject"]) for e in evidence if e.get("status") == Status.FAILED})
    return failing or [""]


def observation(result: Mapping[str, Any] | Result, offender: str) -> tuple[str, ...]:
    """What a failed result shows of ``offender``: the pin an entry holds and a later run compares."""
    evidence = result.evidence if isinstance(result, Result) else result["evidence"]
    entries = [e for e in evidence if e.get("status") == Status.FAILED and str(e["subject"]) == offender]
    facts = {f"{fact}={entry[fact]}" for entry in entries for fact in PINNED_FACTS
             if isinstance(entry.get(fact), str | int) and not isinstance(entry.get(fact), bool)}
    if facts:
        return tuple(sorted(facts))
    finding = entries or (result.message if isinstance(result, Result) else result["message"])
    digest = hashlib.sha256(json.dumps(finding, sort_keys=True, default=str).encode()).hexdigest()
    return (f"finding=sha256:{digest[:32]}",)


def entries_of(report: Mapping[str, Any], reason: str | None = None, expires: dt.date | None = None) -> list[Entry]:
    """What a baseline written from ``report`` accepts: every offender of every failed result, as observed."""
    identity = {t["id"]: t.get("identity", t["id"]) for t in report["targets"]}
    found = {
        Entry(result["rule"], identity.get(result["target"], result["target"]), offender,
              observation(result, offender), reason, expires)
        for result in report["results"] if result["status"] == Status.FAILED
        for offender in offenders(result)
    }
    return sorted(found)


def dumps(entries: Iterable[Entry], source: str) -> str:
    document = {"schema": BASELINE_SCHEMA, "written_from": source, "accepted": [entry.to_json() for entry in entries]}
    return json.dumps(document, indent=2) + "\n"


def load(path: Path) -> Baseline:
    """The baseline at ``path`` (named by --baseline), read as hostile input (reading.py)."""
    from kubecert.reports import reading

    kind = f"a {BASELINE_SCHEMA} file (write one with kubecert baseline write)"
    try:
        document = reading.read(path, "--baseline", MAX_BASELINE_BYTES, kind, _problem)
    except ValueError as exc:
        raise BaselineError(str(exc)) from None
    entries = [
        Entry(item["rule"], item["target"], item["offender"],
              tuple(item["observed"]) if "observed" in item else None, item.get("reason"),
              dt.date.fromisoformat(item["expires"]) if "expires" in item else None)
        for item in document["accepted"]
    ]
    return Baseline(path, entries)


def _problem(document: dict[str, Any]) -> str | None:
    from kubecert.reports import validate

    version = BASELINE.version_of(document)
    if isinstance(version, str):
        return version
    return validate.problem(document, DOCUMENT_SCHEMA, version.minor, version.later)


class Baseline:
    """A baseline's entries, and what a run's results did with them (results are marked as they arrive)."""

    def __init__(self, path: Path, entries: Iterable[Entry], as_of: dt.date | None = None) -> None:
        self.path = path
        self.entries = list(dict.fromkeys(entries))
        self.as_of = as_of or dt.datetime.now(dt.UTC).date()
        self.by_key: defaultdict[tuple[str, str, str], list[Entry]] = defaultdict(list)
        for entry in self.entries:
            self.by_key[entry.key].append(entry)
        self.used: set[Entry] = set()
        self.judged: set[tuple[str, str]] = set()  # (rule, target identity) judged this run
        self.seen: dict[tuple[str, str, str], tuple[str, ...]] = {}  # what a failing offender showed

    @property
    def unpinned(self) -> int:
        return sum(1 for entry in self.entries if entry.observed is None)

    def mark(self, result: Result, identity: str) -> Result:
        """``result`` marked accepted when it failed and entries match every one of its offenders as observed."""
        self.judged.add((result.rule, identity))
        if result.status is not Status.FAILED:
            return result
        wholly = True
        for offender in offenders(result):
            key = (result.rule, identity, offender)
            seen = self.seen[key] = observation(result, offender)
            entry = next((e for e in self.by_key.get(key, ()) if self._accepts(e, seen)), None)
            if entry is None:
                wholly = False
            else:
                self.used.add(entry)
        return dataclasses.replace(result, accepted=True) if wholly else result

    def _accepts(self, entry: Entry, seen: tuple[str, ...]) -> bool:
        in_time = entry.expires is None or self.as_of <= entry.expires
        return in_time and (entry.observed is None or entry.observed == seen)

    def stale(self) -> list[StaleEntry]:
        """Entries that accepted nothing although their rule was judged on their target, with why."""
        found = []
        for entry in self.entries:
            if entry in self.used or (entry.rule, entry.target) not in self.judged:
                continue
            seen = self.seen.get(entry.key)
            if entry.expires is not None and self.as_of > entry.expires and seen is not None:
                why = f"its acceptance expired on {entry.expires.isoformat()}"
            elif seen is None:
                why = "the offender does not fail any more"
            else:
                why = f"the offender now shows {', '.join(seen)}, not {', '.join(entry.observed or ())}"
            if entry.reason:
                why += f" (accepted because: {entry.reason})"
            found.append(StaleEntry(entry.rule, entry.target, entry.offender, why))
        return found

    def record(self, results: Iterable[Result]) -> BaselineRecord:
        failed = [r for r in results if r.status is Status.FAILED]
        taken = sum(1 for r in failed if r.accepted)
        return BaselineRecord(str(self.path), len(self.entries), taken, len(failed) - taken, stale=self.stale(),
                              unpinned=self.unpinned or None)
