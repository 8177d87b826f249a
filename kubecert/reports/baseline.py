"""Baselines: today's failures, recorded so that a CI gate fails only on new ones.

``kubecert baseline write FILE`` records, from a canonical report, one entry per offender of every failed
result: the rule, the target's identity (its real folder or API and cluster, so a renamed URI still
matches) and the offender (the evidence subject that failed; "" when the failure names none). A run with
``--baseline FILE`` marks a failed result ``accepted`` when every one of its offenders is in the file: it
stays in every report, shown as accepted, and does not fail the run. One offender the file does not hold
makes the whole result new.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.reports.results import BaselineRecord, Result, Status

BASELINE_SCHEMA = "kubecert.baseline/v1"
MAX_BASELINE_BYTES = 16 * 1024 * 1024


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, order=True)
class Accepted:
    rule: str
    target: str  # the target's identity
    offender: str


def offenders(result: Mapping[str, Any] | Result) -> list[str]:
    """The subjects a failed result names as failing; [""] when it names none."""
    evidence = result.evidence if isinstance(result, Result) else result["evidence"]
    failing = sorted({str(e["subject"]) for e in evidence if e.get("status") == Status.FAILED})
    return failing or [""]


def entries_of(report: Mapping[str, Any]) -> list[Accepted]:
    """What a baseline written from ``report`` accepts: every offender of every failed result."""
    identity = {t["id"]: t.get("identity", t["id"]) for t in report["targets"]}
    found = {
        Accepted(result["rule"], identity.get(result["target"], result["target"]), offender)
        for result in report["results"] if result["status"] == Status.FAILED
        for offender in offenders(result)
    }
    return sorted(found)


def dumps(entries: Iterable[Accepted], source: str) -> str:
    document = {"schema": BASELINE_SCHEMA, "written_from": source,
                "accepted": [dataclasses.asdict(entry) for entry in entries]}
    return json.dumps(document, indent=2) + "\n"


def load(path: Path) -> frozenset[Accepted]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BaselineError(f"--baseline {path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_BASELINE_BYTES:
        raise BaselineError(f"--baseline {path}: larger than {MAX_BASELINE_BYTES} bytes; not a baseline")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"--baseline {path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != BASELINE_SCHEMA:
        raise BaselineError(f"--baseline {path}: not a {BASELINE_SCHEMA} file (write one with kubecert baseline write)")
    entries = document.get("accepted")
    if not isinstance(entries, list):
        raise BaselineError(f"--baseline {path}: 'accepted' must be a list")
    accepted = set()
    for index, entry in enumerate(entries):
        fields = ("rule", "target", "offender")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            raise BaselineError(f"--baseline {path}: accepted[{index}] needs text fields rule, target and offender")
        accepted.add(Accepted(entry["rule"], entry["target"], entry["offender"]))
    return frozenset(accepted)


def mark(result: Result, identity: str, accepted: frozenset[Accepted]) -> Result:
    """``result`` marked accepted when it failed and the baseline accepts every one of its offenders."""
    if result.status is not Status.FAILED:
        return result
    wholly = all(Accepted(result.rule, identity, o) in accepted for o in offenders(result))
    return dataclasses.replace(result, accepted=True) if wholly else result


def record(results: Iterable[Result], accepted: frozenset[Accepted], path: Path) -> BaselineRecord:
    failed = [r for r in results if r.status is Status.FAILED]
    taken = sum(1 for r in failed if r.accepted)
    return BaselineRecord(str(path), len(accepted), taken, len(failed) - taken)
