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

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from kubecert.text import escaped_block


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
    by_target: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for result in document["results"]:
        by_target[result["target"]].append(result)
    targets = {t["id"]: t for t in document["targets"]}
    root = ET.Element("testsuites", name="kubecert")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for target_id in sorted(by_target):
        suite = _suite(document, target_id, targets.get(target_id, {}), by_target[target_id])
        root.append(suite)
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(suite.get(key, "0"))
        totals["time"] += float(suite.get("time", "0"))
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(document: Mapping[str, Any], target_id: str, target: Mapping[str, Any],
           results: list[Mapping[str, Any]]) -> ET.Element:
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
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome == "failure":
            counts["failures"] += 1
        elif outcome == "error":
            counts["errors"] += 1
        elif outcome == "skipped":
            counts["skipped"] += 1
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
