"""Merging reports of runs that checked different targets (shards of a fleet, nodes checked one by one)
into one report, from which every format is rendered again.

A (rule, target) judged in two reports is kept once when both say the same (status, message, evidence);
when they disagree the merge is refused, naming both files: one of them would be silently wrong.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kubecert.reports.canonical import coverage
from kubecert.reports.results import SCHEMA, Status
from kubecert.text import escaped

_SAME = ("status", "message", "evidence", "accepted")


class MergeError(ValueError):
    """Reports that cannot be merged; the message names the files and the (rule, target)."""


def merge(reports: Sequence[tuple[Path, Mapping[str, Any]]], command_line: list[str]) -> dict[str, Any]:
    """One report of ``reports`` (each with the file it came from); ``command_line`` is the merge's own, redacted."""
    if not reports:
        raise MergeError("nothing to merge: give at least one report")
    results: dict[tuple[str, str], tuple[Path, Mapping[str, Any]]] = {}
    targets: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    for path, report in reports:
        for target in report["targets"]:
            known = targets.get(target["id"])
            if known is not None and known[1]["identity"] != target["identity"]:
                raise MergeError(f"{escaped(target['id'])} is {escaped(known[1]['identity'])} in "
                                 f"{escaped(str(known[0]))} but {escaped(target['identity'])} in {escaped(str(path))}: "
                                 "two different targets under one id")
            targets.setdefault(target["id"], (path, target))
        for result in report["results"]:
            key = (result["rule"], result["target"])
            known_result = results.get(key)
            if known_result is None:
                results[key] = (path, result)
            elif any(known_result[1].get(f) != result.get(f) for f in _SAME):
                raise MergeError(f"{escaped(key[0])} on {escaped(key[1])} is {known_result[1]['status']} in "
                                 f"{escaped(str(known_result[0]))} but {result['status']} in {escaped(str(path))}: "
                                 "conflicting results; merge runs of different targets")
    documents = [report for _, report in reports]
    merged_results = sorted((r for _, r in results.values()), key=lambda r: (r["target"], r["rule"]))
    counts = Counter(r["status"] for r in merged_results)
    profiles = {json.dumps(d["profile"], sort_keys=True) for d in documents}
    first = documents[0]
    merged: dict[str, Any] = {
        **{k: v for k, v in first.items() if k not in ("baseline", "evaluated_as_of", "notes")},
        "schema": SCHEMA,  # written at this kubecert's version: the fields a later minor added were left out
        "command_line": command_line,
        "host": ", ".join(dict.fromkeys(d["host"] for d in documents)),
        "profile": first["profile"] if len(profiles) == 1 else {"name": "per target", "parameters": {},
                                                                "per_target": True},
        "started_at": min(d["started_at"] for d in documents),
        "finished_at": max(d["finished_at"] for d in documents),
        "observed_at": min((d["observed_at"] for d in documents if d.get("observed_at")), default=None),
        "complete": all(d.get("complete", True) for d in documents),
        "targets": [t for _, t in sorted(targets.values(), key=lambda pair: pair[1]["id"])],
        "results": merged_results,
        "summary": {status: counts.get(status, 0) for status in Status},
        "coverage": [dataclasses.asdict(e) for e in coverage(Counter(str(r["rule"]) for r in merged_results))],
    }
    merged["notes"] = [f"merged from {path}, written by: {' '.join(report['command_line'])}"
                       for path, report in reports]
    merged["notes"] += [note for d in documents for note in d.get("notes") or ()]
    as_of = {d["evaluated_as_of"] for d in documents if d.get("evaluated_as_of")}
    if len(as_of) == 1:
        merged["evaluated_as_of"] = as_of.pop()
    elif as_of:
        raise MergeError(f"the reports judge dates as of different moments ({', '.join(sorted(as_of))})")
    return merged
