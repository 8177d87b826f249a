"""Baselines: today's failures, recorded so that a CI gate fails only on new ones.

``kubecert baseline write FILE`` records, from a canonical report, one entry per offender of every failed
result: the rule, the target's identity (its real folder or API and cluster, so a renamed URI still
matches), the offender (the evidence subject that failed, a file named below its target's folder however the
command line spelled that folder: baseline_offenders.py; "" when the failure names none) and what was
observed of it (``observed``, the pin): the certificate's fingerprint, the file's mode and owner, or, for a
finding with none of these, a digest of the finding. An entry may carry a ``reason`` and an ``expires`` date.

A run with ``--baseline FILE`` marks a failed result ``accepted`` when every one of its offenders is matched
by an entry that has not expired (as of the date judged: ``--at`` or today) and whose pin is what the run
observes now: a key accepted at 0640 is not accepted at 0666, a re-signed certificate is not the one
accepted. One offender left unmatched makes the whole result new. An entry that matched nothing, though its
rule was judged on its target, is stale, and the run says so and why.

Files written before pins (``kubecert.baseline/v1``), and any entry without ``observed``, stay readable:
such an entry accepts any failure of its offender, as it always did, and every run counts them in a note.
Files written before offenders were named below their target (``v1``, ``v2``) stay readable too: a file
offender spelled as their run spelled it is matched by what it can be named below the target's folders.
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

from kubecert.reports.baseline_offenders import NO_FOLDERS, Folders, name_of, spelled_names, written_alike
from kubecert.reports.results import BaselineRecord, Result, StaleEntry, Status
from kubecert.reports.versions import BASELINE

BASELINE_SCHEMA = BASELINE.current  # kubecert.baseline/v3.N (versions.py)
UNPINNED_SCHEMA = "kubecert.baseline/v1"  # entries without pins: read, never written
SPELLED_MAJORS = frozenset({1, 2})  # offenders as their run spelled them: read, never written
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
    spelled: bool = False  # read from v1/v2: a file offender as the run that wrote it spelled it

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


def _failing(result: Mapping[str, Any] | Result, subject: str | None = None) -> list[Mapping[str, Any]]:
    evidence = result.evidence if isinstance(result, Result) else result["evidence"]
    return [e for e in evidence if e.get("status") == Status.FAILED and subject in (None, str(e["subject"]))]


def offenders(result: Mapping[str, Any] | Result, folders: Folders = NO_FOLDERS) -> dict[str, str]:
    """The subjects a failed result names as failing, by how a baseline names them (a file below its target's
    folder); {"": ""} when it names none."""
    subjects = sorted({str(e["subject"]) for e in _failing(result)})
    return {name_of(s, _failing(result, s), folders): s for s in subjects} or {"": ""}


def observation(result: Mapping[str, Any] | Result, subject: str, folders: Folders = NO_FOLDERS) -> tuple[str, ...]:
    """What a failed result shows of ``subject``: the pin an entry holds and a later run compares. A digest
    names the paths in the finding below the target's ``folders``, as offenders are named."""
    entries = _failing(result, subject)
    facts = {f"{fact}={entry[fact]}" for entry in entries for fact in PINNED_FACTS
             if isinstance(entry.get(fact), str | int) and not isinstance(entry.get(fact), bool)}
    if facts:
        return tuple(sorted(facts))
    finding = written_alike(entries or (result.message if isinstance(result, Result) else result["message"]),
                            entries, folders)
    digest = hashlib.sha256(json.dumps(finding, sort_keys=True, default=str).encode()).hexdigest()
    return (f"finding=sha256:{digest[:32]}",)


def entries_of(report: Mapping[str, Any], reason: str | None = None, expires: dt.date | None = None) -> list[Entry]:
    """What a baseline written from ``report`` accepts: every offender of every failed result, as observed."""
    targets = {t["id"]: t for t in report["targets"]}
    found = set()
    for result in report["results"]:
        if result["status"] != Status.FAILED:
            continue
        target = targets.get(result["target"], {})
        folders = Folders.of(target.get("location"))
        for name, subject in offenders(result, folders).items():
            found.add(Entry(result["rule"], target.get("identity", result["target"]), name,
                            observation(result, subject, folders), reason, expires))
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
    version = BASELINE.version_of(document)
    spelled = not isinstance(version, str) and version.major in SPELLED_MAJORS
    entries = [
        Entry(item["rule"], item["target"], item["offender"],
              tuple(item["observed"]) if "observed" in item else None, item.get("reason"),
              dt.date.fromisoformat(item["expires"]) if "expires" in item else None, spelled)
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
        self.spelled: defaultdict[tuple[str, str], list[Entry]] = defaultdict(list)  # by (rule, target)
        for entry in self.entries:
            if entry.spelled:
                self.spelled[entry.rule, entry.target].append(entry)
            else:
                self.by_key[entry.key].append(entry)
        self.used: set[Entry] = set()
        self.judged: set[tuple[str, str]] = set()  # (rule, target identity) judged this run
        self.seen: dict[Entry, tuple[str, ...]] = {}  # what the failing offender an entry names showed
        self._real: dict[str, Folders] = {}  # a target's folders by their real paths, by identity
        self._spelled_names: dict[Entry, set[str]] = {}  # what a v1/v2 entry's offender can be named now

    @property
    def unpinned(self) -> int:
        return sum(1 for entry in self.entries if entry.observed is None)

    def mark(self, result: Result, target: Mapping[str, Any] | None) -> Result:
        """``result`` marked accepted when it failed and entries match every one of its offenders as observed.
        ``target`` is its target as the report describes it (identity and location), None when unknown."""
        identity = str(target["identity"]) if target else result.target
        folders = Folders.of(target.get("location") if target else None)
        self.judged.add((result.rule, identity))
        if result.status is not Status.FAILED:
            return result
        wholly = True
        for name, subject in offenders(result, folders).items():
            seen = observation(result, subject, folders)
            as_spelled = observation(result, subject)  # the pin a baseline before v3 took of the same finding
            candidates = [*self.by_key.get((result.rule, identity, name), ()),
                          *self._spelled_as(name, result.rule, identity, folders)]
            self.seen.update((entry, seen) for entry in candidates)
            entry = next((e for e in candidates if self._accepts(e, (seen, as_spelled) if e.spelled else (seen,))),
                         None)
            if entry is None:
                wholly = False
            else:
                self.used.add(entry)
        return dataclasses.replace(result, accepted=True) if wholly else result

    def _spelled_as(self, name: str, rule: str, identity: str, folders: Folders) -> list[Entry]:
        """The entries of a baseline before v3 on (rule, target) whose offender can be ``name``."""
        entries = self.spelled.get((rule, identity), [])
        if not entries:
            return []
        if identity not in self._real:
            self._real[identity] = folders.real()
        names = self._spelled_names
        for entry in entries:  # each once per run: the file is hostile, and may hold many
            if entry not in names:
                names[entry] = spelled_names(entry.offender, folders, self._real[identity])
        return [entry for entry in entries if name in names[entry]]

    def _accepts(self, entry: Entry, seen: tuple[tuple[str, ...], ...]) -> bool:
        in_time = entry.expires is None or self.as_of <= entry.expires
        return in_time and (entry.observed is None or entry.observed in seen)

    def stale(self) -> list[StaleEntry]:
        """Entries that accepted nothing although their rule was judged on their target, with why."""
        found = []
        for entry in self.entries:
            if entry in self.used or (entry.rule, entry.target) not in self.judged:
                continue
            seen = self.seen.get(entry)
            if entry.expires is not None and self.as_of > entry.expires and seen is not None:
                why = f"its acceptance expired on {entry.expires.isoformat()}"
            elif seen is None:
                why = "the offender does not fail any more"
            else:
                why = f"the offender now shows {', '.join(seen)}, not {', '.join(entry.observed or ())}"
                if entry.spelled and any(pin.startswith("finding=") for pin in entry.observed or ()):
                    why += (" (a digest in a baseline before v3 holds the paths as the command line of its run "
                            "spelled them: write the baseline again)")
            if entry.reason:
                why += f" (accepted because: {entry.reason})"
            found.append(StaleEntry(entry.rule, entry.target, entry.offender, why))
        return found

    def record(self, results: Iterable[Result]) -> BaselineRecord:
        failed = [r for r in results if r.status is Status.FAILED]
        taken = sum(1 for r in failed if r.accepted)
        return BaselineRecord(str(self.path), len(self.entries), taken, len(failed) - taken, stale=self.stale(),
                              unpinned=self.unpinned or None)
