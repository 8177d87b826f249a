"""The canonical JSON report (schema kubecert.report/v1.N, versions.py): every other report is rendered from it.

``build`` makes the Report (results.py) from a run's results and targets; ``dumps`` makes its text,
kubecert.atomic_files puts it on disk; ``load`` reads one back, refusing a file that is not one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kubecert._version import __version__
from kubecert.reports.results import (
    SCHEMA,
    BaselineRecord,
    CertificateRecord,
    CoverageEntry,
    ProfileRecord,
    Report,
    Result,
    Status,
    TargetRecord,
    Tool,
)
from kubecert.reports.versions import REPORT
from kubecert.timestamps import isoformat


def build(
    *,
    results: Iterable[Result],
    targets: Iterable[TargetRecord],
    profile: ProfileRecord,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    complete: bool,
    at: dt.datetime | None = None,
    notes: list[str] | None = None,
    command_line: list[str] | None = None,
    host: str = "",
    baseline: BaselineRecord | None = None,
) -> Report:
    """``command_line`` must already be redacted (redact.py)."""
    target_list = sorted(targets, key=lambda t: t.id)
    shown_by = {t.id: {c.fingerprint_sha256: c for c in t.certificates if c.fingerprint_sha256} for t in target_list}
    ordered = sorted((_joined(r, shown_by.get(r.target, {})) for r in results),
                     key=lambda r: (r.target, _rule_order(r.rule), r.nodeid))
    observed = [t.observed_at for t in target_list if t.observed_at]
    counts = Counter(r.status for r in ordered)
    return Report(
        schema=SCHEMA, tool=Tool("kubecert", __version__), command_line=command_line or [], host=host,
        profile=profile, started_at=isoformat(started_at), finished_at=isoformat(finished_at),
        observed_at=min(observed) if observed else None, complete=complete, targets=target_list,
        results=ordered, summary={status: counts.get(status, 0) for status in Status},
        coverage=coverage(ordered), evaluated_as_of=isoformat(at) if at is not None else None,
        notes=notes or None, baseline=baseline,
    )


# Evidence fields a certificate record of the target holds too (evidence name → record name).
_IDENTITY = {"path": "path", "subject_dn": "subject", "issuer_dn": "issuer", "not_before": "not_before",
             "not_after": "not_after"}


def _joined(result: Result, shown: Mapping[str, CertificateRecord]) -> Result:
    """``result`` with its evidence's certificate identities left to the target's certificate records, joined by
    fingerprint_sha256, where they say the same: a fleet's report would otherwise repeat every certificate under
    every rule that looked at it (three quarters of its bytes). An offender, a certificate seen only after an
    action, or one seen otherwise, keeps its identity in the evidence."""
    return dataclasses.replace(result, evidence=[_without_identity(entry, shown) for entry in result.evidence])


def _without_identity(entry: dict[str, Any], shown: Mapping[str, CertificateRecord]) -> dict[str, Any]:
    if entry.get("status") in (Status.FAILED, Status.ERROR):  # an offender is named in full where it is judged
        return entry
    record = shown.get(entry.get("fingerprint_sha256") or "")
    if record is None or any(e in entry and entry[e] != getattr(record, r) for e, r in _IDENTITY.items()):
        return entry
    return {key: value for key, value in entry.items() if key not in _IDENTITY}


def coverage(results: Iterable[Result]) -> list[CoverageEntry]:
    """Every catalog rule, implemented or not, with the number of results that judge it."""
    from kubecert.rules import all_rules

    judged = Counter(r.rule for r in results)
    return [CoverageEntry(rule.id, rule.title, rule.implemented, judged.get(rule.id, 0)) for rule in all_rules()]


def _rule_order(rule_id: str) -> tuple[str, int]:
    family, _, number = rule_id.rpartition("-")
    return family, int(number) if number.isdigit() else 0


def exit_code(report: Mapping[str, Any]) -> int:
    """DESIGN's exit codes: 1 a rule failed (a failure the baseline accepts does not count), 2 a check could
    not run or nothing ran, else 0 (tally.py says how, and the last line of a run says it too)."""
    from kubecert.reports.tally import Tally

    return Tally.of_document(report).exit_code()


REPORT_MODE = 0o644  # reports are evidence to share; what could be secret never enters them (redact.py)


_ONE_PER_LINE = ("targets", "results")


def dumps(report: Report | Mapping[str, Any]) -> str:
    """The report's JSON: the run's fields indented, each target and each result on one line of its own, so
    a fleet's report is written by the C encoder (indenting runs in Python, ten times slower) and still
    diffs line by line."""
    document = report.to_json() if isinstance(report, Report) else report
    fields = []
    for key, value in document.items():
        if key in _ONE_PER_LINE and isinstance(value, list) and value:
            text = "[\n" + ",\n".join("    " + json.dumps(item, default=str) for item in value) + "\n  ]"
        else:
            text = json.dumps(value, indent=2, default=str).replace("\n", "\n  ")
        fields.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def load(path: Path, option: str = "") -> dict[str, Any]:
    """A report written by kubecert, read as hostile input (reading.py) and valid by ``problem``; ValueError
    names the file (as ``option`` names it) and the field when it is not one."""
    from kubecert.reports import reading

    return reading.read(path, option, reading.MAX_REPORT_BYTES, f"a {SCHEMA} report", problem)


def upgraded(document: dict[str, Any]) -> None:
    """``document``, of any minor version, given what the fields added since its own hold when a run has nothing
    for them, so that what reads it may index every field of this version (CHANGELOG.md lists them)."""
    for target in document["targets"]:
        target.setdefault("identity", target["id"])  # 1.1: until then a target was what its URI named
        target.setdefault("certificates", [])  # 1.2
    for result in document["results"]:
        for text in ("title", "statement", "remediation"):  # 1.2
            result.setdefault(text, "")
        result.setdefault("sources", [])
    document.setdefault("command_line", [])  # 1.2
    document.setdefault("host", "")
    document.setdefault("coverage", [])


def problem(document: dict[str, Any]) -> str | None:
    """Where ``document`` is not a report kubecert wrote (its schema, types included, and the profile
    parameters' types and ranges), or None: what reads it afterwards may index and render it."""
    from kubecert.profiles import parameters_problem
    from kubecert.reports import validate
    from kubecert.reports.schema import shipped

    version = REPORT.version_of(document)
    if isinstance(version, str):
        return version
    found = validate.problem(document, shipped(), version.minor, version.later)
    if found is not None:
        return found
    upgraded(document)
    profiles = [("profile", document["profile"])]
    profiles += [(f"targets[{n}].profile", t["profile"]) for n, t in enumerate(document["targets"])]
    return next((f"{where}.parameters.{wrong}" for where, profile in profiles
                 if (wrong := parameters_problem(profile["parameters"])) is not None), None)
