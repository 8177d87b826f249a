"""The JUnit XML report, rendered from the canonical report so that every format says the same.

One ``testsuite`` per target and one ``testcase`` per (rule, target). The test case's name starts with the
rule ID and carries its title, so a CI's test list reads as the catalog does; properties carry the rule,
the target and kubecert's status for tools that filter on them. A failure's text is the rule's statement,
then every offender, then the remediation: what a CI shows on a red line must be enough to act on.
A failure the baseline accepts is ``skipped`` with a message saying so: visible, not failing the job.

The element and attribute set is the one Jenkins' JUnit plugin and GitLab's test report read (the Ant
dialect pytest writes as ``xunit1``: properties allowed on suites and cases).
"""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from kubecert.text import escaped_block

if TYPE_CHECKING:
    from kubecert.reports.sources import ResultSource


def _text(value: Any) -> str:
    return escaped_block(str(value))  # XML 1.0 cannot carry most control characters: escape them visibly


def failure_text(result: Mapping[str, Any]) -> str:
    """The rule's statement, what was found (every offender), and what fixes it."""
    parts = [f"{result['rule']}: {result.get('statement') or result.get('title', '')}", "", result["message"]]
    if result.get("remediation"):
        parts += ["", f"fix: {result['remediation']}"]
    parts += ["", f"source: {result['citation']}"]
    return _text("\n".join(parts))


def render(document: Mapping[str, Any]) -> str:
    """The JUnit XML of a canonical report (its JSON form)."""
    from kubecert.reports.canonical import HeldResults

    out = io.StringIO()  # a target's cases together, in the report's order within it
    write_from(out, document, HeldResults(sorted(document["results"], key=lambda r: str(r["target"]))))
    return out.getvalue()


def write_from(out: TextIO, header: Mapping[str, Any], source: ResultSource) -> None:
    """The JUnit XML onto ``out``, a target's suite at a time (a fleet's results are never held together): the
    totals the root carries come first, from a pass over the results' statuses and durations alone."""
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    elapsed: defaultdict[str, float] = defaultdict(float)
    for result in source.documents(whole=frozenset()):
        totals["tests"] += 1
        outcome = _outcome(result)
        if outcome is not None:
            totals[_COUNTED[outcome]] += 1
        elapsed[result["target"]] += float(result.get("duration_s", 0.0))
    totals["time"] = sum(float(f"{seconds:.3f}") for seconds in elapsed.values())  # as each suite says it
    root = ET.Element("testsuites", name="kubecert")
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    if not totals["tests"]:
        out.write(ET.tostring(root, encoding="unicode") + "\n")
        return
    opening = ET.tostring(root, encoding="unicode")  # <testsuites ... />
    out.write(opening[:-3] + ">\n")
    targets = {t["id"]: t for t in header["targets"]}
    for target_id, results in itertools.groupby(source.documents(), key=lambda r: str(r["target"])):
        suite = _suite(header, target_id, targets.get(target_id, {}), results)
        ET.indent(suite, level=1)
        out.write("  " + ET.tostring(suite, encoding="unicode").rstrip("\n ") + "\n")
    out.write("</testsuites>\n")


_COUNTED = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def _outcome(result: Mapping[str, Any]) -> str | None:
    """The JUnit element a result's case carries: failure, error, skipped (an accepted failure too), or none."""
    if result["status"] == "failed":
        return "skipped" if result.get("accepted") else "failure"
    if result["status"] == "error":
        return "error"
    return "skipped" if result["status"] in ("skipped", "not_applicable") else None


def _suite(document: Mapping[str, Any], target_id: str, target: Mapping[str, Any],
           results: Iterable[Mapping[str, Any]]) -> ET.Element:
    suite = ET.Element("testsuite", name=_text(target_id), timestamp=document["started_at"],
                       hostname=_text(document.get("host") or "localhost"))
    properties = ET.SubElement(suite, "properties")
    profile = target.get("profile") or document["profile"]
    suite_properties = (("kubecert_target", target_id), ("kubecert_kind", target.get("kind", "")),
                        ("kubecert_profile", profile.get("name", "")),
                        ("kubecert_version", document["tool"]["version"]))
    for name, value in suite_properties:
        ET.SubElement(properties, "property", name=name, value=_text(value))
    if not document.get("complete", True):
        ET.SubElement(properties, "property", name="kubecert_complete", value="false")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    elapsed = 0.0
    for result in results:
        case = _case(target_id, target.get("kind", "kubecert"), result)
        suite.append(case)
        counts["tests"] += 1
        elapsed += float(result.get("duration_s", 0.0))
        outcome = _outcome(result)
        if outcome is not None:
            counts[_COUNTED[outcome]] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{elapsed:.3f}")
    return suite


def _case(target_id: str, kind: str, result: Mapping[str, Any]) -> ET.Element:
    name = f"{result['rule']} {result.get('title', '')}".strip()
    case = ET.Element("testcase", classname=_text(f"kubecert.{kind}"), name=_text(f"{name} [{target_id}]"),
                      time=f"{float(result.get('duration_s', 0.0)):.3f}")
    properties = ET.SubElement(case, "properties")
    status = "accepted" if result.get("accepted") else result["status"]
    for key, value in (("kubecert_rule", result["rule"]), ("kubecert_target", target_id), ("kubecert_status", status)):
        ET.SubElement(properties, "property", name=key, value=_text(value))
    first_line = _text(result["message"].split("\n", 1)[0])
    if result["status"] == "failed" and result.get("accepted"):
        ET.SubElement(case, "skipped", message=f"accepted by the baseline: {first_line}")
    elif result["status"] == "failed":
        failure = ET.SubElement(case, "failure", message=first_line, type=result["rule"])
        failure.text = failure_text(result)
    elif result["status"] == "error":
        error = ET.SubElement(case, "error", message=first_line, type="kubecert.error")
        error.text = failure_text(result)
    elif result["status"] in ("skipped", "not_applicable"):
        prefix = "not applicable: " if result["status"] == "not_applicable" else ""
        ET.SubElement(case, "skipped", message=f"{prefix}{first_line}")
    return case
