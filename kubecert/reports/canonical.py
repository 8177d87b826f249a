"""The canonical JSON report (schema kubecert.report/v1.N, versions.py): every other report is rendered from it.

``build`` makes the Report (results.py) from a run's results and targets; ``dumps`` makes its text,
kubecert.atomic_files puts it on disk; ``load`` reads one back, refusing a file that is not one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kubecert._version import __version__
from kubecert.reports.results import (
    SCHEMA,
    BaselineRecord,
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

if TYPE_CHECKING:
    from kubecert.reports.sources import ResultSource


def build(*, results: Iterable[Result], targets: Iterable[TargetRecord], **run: Any) -> Report:
    """The report of ``results`` held in memory: joined to their targets' certificate records, put in the report's
    order and counted; ``run`` is ``assemble``'s keywords."""
    target_list = list(targets)
    shown_by = {t.id: shown_certificates(t.to_json()) for t in target_list}
    ordered = sorted((joined(r, shown_by.get(r.target, {})) for r in results),
                     key=lambda r: (r.target, rule_order(r.rule), r.nodeid))
    return assemble(ordered, Counter(r.status for r in ordered), Counter(r.rule for r in ordered),
                    targets=target_list, **run)


def assemble(
    results: Sequence[Result],
    statuses: Mapping[Status, int],
    judged: Mapping[str, int],
    *,
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
    """The report of ``results`` already joined and in the report's order (a run's spool: spool.py), counted by
    status and by rule. ``command_line`` must already be redacted (redact.py)."""
    target_list = sorted(targets, key=lambda t: t.id)
    observed = [t.observed_at for t in target_list if t.observed_at]
    return Report(
        schema=SCHEMA, tool=Tool("kubecert", __version__), command_line=command_line or [], host=host,
        profile=profile, started_at=isoformat(started_at), finished_at=isoformat(finished_at),
        observed_at=min(observed) if observed else None, complete=complete, targets=target_list,
        results=results, summary={status: statuses.get(status, 0) for status in Status},
        coverage=coverage(judged), evaluated_as_of=isoformat(at) if at is not None else None,
        notes=notes or None, baseline=baseline,
    )


# Evidence fields a certificate record of the target holds too (evidence name → record name).
_IDENTITY = {"path": "path", "subject_dn": "subject", "issuer_dn": "issuer", "not_before": "not_before",
             "not_after": "not_after"}


def shown_certificates(target: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """A target's certificate records (JSON) by SHA-256 fingerprint: what ``joined`` refers evidence to."""
    return {c["fingerprint_sha256"]: c for c in target.get("certificates", ()) if c.get("fingerprint_sha256")}


def joined(result: Result, shown: Mapping[str, Mapping[str, Any]]) -> Result:
    """``result`` with its evidence's certificate identities left to the target's certificate records, joined by
    fingerprint_sha256, where they say the same: a fleet's report would otherwise repeat every certificate under
    every rule that looked at it (three quarters of its bytes). An offender, a certificate seen only after an
    action, or one seen otherwise, keeps its identity in the evidence."""
    return dataclasses.replace(result, evidence=[_without_identity(entry, shown) for entry in result.evidence])


def _without_identity(entry: dict[str, Any], shown: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if entry.get("status") in (Status.FAILED, Status.ERROR):  # an offender is named in full where it is judged
        return entry
    record = shown.get(entry.get("fingerprint_sha256") or "")
    if record is None or any(e in entry and entry[e] != record.get(r) for e, r in _IDENTITY.items()):
        return entry
    return {key: value for key, value in entry.items() if key not in _IDENTITY}


def coverage(judged: Mapping[str, int]) -> list[CoverageEntry]:
    """Every catalog rule, implemented or not, with the number of results that judge it (``judged``: by rule ID)."""
    from kubecert.rules import all_rules

    return [CoverageEntry(rule.id, rule.title, rule.implemented, judged.get(rule.id, 0)) for rule in all_rules()]


def rule_order(rule_id: str) -> tuple[str, int]:
    family, _, number = rule_id.rpartition("-")
    return family, int(number) if number.isdigit() else 0


def exit_code(report: Mapping[str, Any]) -> int:
    """DESIGN's exit codes: 1 a rule failed (a failure the baseline accepts does not count), 2 a check could
    not run or nothing ran, else 0 (tally.py says how, and the last line of a run says it too)."""
    from kubecert.reports.tally import Tally

    return Tally.of_document(report).exit_code()


REPORT_MODE = 0o644  # reports are evidence to share; what could be secret never enters them (redact.py)


_ONE_PER_LINE = ("targets", "results", "rules")
# What a result says of its rule beyond its title: written once, in the report's rules section (1.9).
RULE_TEXT = ("statement", "remediation", "citation", "sources")


def compact(result: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``result`` (JSON, changed in place) with its rule's text left to ``rules``, the report's rules section as it
    fills: the first result of a rule makes the entry; one that says the same has its text emptied; one that says
    otherwise (a shard written by another kubecert, merged) keeps its own."""
    entry = rules.get(result["rule"])
    if entry is None:
        entry = rules[result["rule"]] = {"rule": result["rule"], "title": result.get("title", ""),
                                         **{key: result.get(key, "") for key in RULE_TEXT}}
    if all(result.get(key) == entry[key] for key in RULE_TEXT):
        result.update(statement="", remediation="", citation="", sources=[])
    return result


def fill(result: dict[str, Any], rules: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``result`` (JSON, changed in place) with the text ``compact`` left to its rule's entry taken back."""
    entry = rules.get(result["rule"])
    if entry is not None and not result.get("citation"):
        for key in RULE_TEXT:
            if not result.get(key):  # a list of its own: one result's sources changed must not change another's
                result[key] = [dict(s) for s in entry[key]] if key == "sources" else entry[key]
    return result


class HeldResults:
    """A document's results held whole (a merged report, a report built in a test), read as a run's spool is
    (spool.py; the ResultSource of reports/sources.py)."""

    def __init__(self, results: Sequence[Mapping[str, Any]]) -> None:
        self._results = results
        self.rules: dict[str, dict[str, Any]] = {}
        self._lines = [json.dumps(compact(dict(result), self.rules), default=str) for result in results]

    def lines(self) -> Iterator[str]:
        return iter(self._lines)

    def documents(self, whole: frozenset[str] | None = None) -> Iterator[dict[str, Any]]:
        return (dict(result) for result in self._results)  # held anyway: nothing is saved by leaving some out


def dumps(report: Report | Mapping[str, Any]) -> str:
    """The report's JSON (``write``), of a report held whole: its results' rule text is said once, in ``rules``."""
    document = report.to_json() if isinstance(report, Report) else report
    out = io.StringIO()
    write_from(out, document, HeldResults(document.get("results", ())))
    return out.getvalue()


def write(out: TextIO, document: Mapping[str, Any], results: Iterable[str], rules: list[dict[str, Any]]) -> None:
    """The report's JSON onto ``out``: the run's fields indented, each target and each result on one line of its
    own (a fleet's report is written by the C encoder and still diffs line by line). ``results`` are the result
    lines, compacted (``compact``) against ``rules``, in the report's order: the document's own results and rules
    are not read, so a run's results can come from its spool (spool.py), one at a time."""
    out.write("{\n")
    first = True
    rules = sorted(rules, key=lambda entry: rule_order(entry["rule"]))  # in the results' order, not as they came
    for key, value in {**document, "results": None, "rules": rules}.items():
        if key == "rules" and not rules:  # a report without results says no rule
            continue
        out.write("" if first else ",\n")
        first = False
        out.write(f"  {json.dumps(key)}: ")
        if key == "results":
            _lines(out, results)
        elif key in _ONE_PER_LINE and isinstance(value, list) and value:
            _lines(out, (json.dumps(item, default=str) for item in value))
        else:
            out.write(json.dumps(value, indent=2, default=str).replace("\n", "\n  "))
    out.write("\n}\n")


def write_from(out: TextIO, header: Mapping[str, Any], source: ResultSource) -> None:
    """The report's JSON onto ``out`` from ``source``'s result lines (outputs.Format)."""
    write(out, header, source.lines(), list(source.rules.values()))


def _lines(out: TextIO, lines: Iterable[str]) -> None:
    """A JSON list, an item per line (an empty one as ``[]``)."""
    opened = False
    for line in lines:
        out.write(",\n    " if opened else "[\n    ")
        out.write(line)
        opened = True
    out.write("\n  ]" if opened else "[]")


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
    rules = {entry["rule"]: entry for entry in document.get("rules") or ()}  # 1.9: each rule's text said once
    if rules:
        for result in document["results"]:
            fill(result, rules)


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
