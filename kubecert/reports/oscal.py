"""The report as an OSCAL assessment-results document (``--oscal FILE``), for compliance tools.

The document is written in OSCAL's JSON form and then validated by compliance-trestle's pydantic models
(``AssessmentResults.model_validate``), which serialize it: a value OSCAL does not allow fails here, not in
the auditor's tool. Each target is an inventory item; each (rule, target) is an observation (what was
seen: the message and the evidence) and a finding (the rule as the objective, satisfied or not, with the
remediation); the documents the rules cite are back-matter resources with their URL and version, linked
from every finding. UUIDs are derived from the run, the rule and the target, so rendering the same report
twice gives the same document. compliance-trestle is imported here only, when the file is asked for
(``pip install 'kubecert[reports]'``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kubecert.text import escaped

_NAMESPACE = uuid.UUID("6f1c2a7e-3b9d-4c1e-9a55-2d8e7b4f0c11")  # kubecert's own: UUIDs stable per report
PROPERTY_NS = "https://kubecert.invalid/ns/oscal"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def _one_line(text: str) -> str:
    """OSCAL titles and property values are single lines without outer spaces."""
    return escaped(" ".join(text.split())) or "-"


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": _one_line(value), "ns": PROPERTY_NS}


def document(report: Mapping[str, Any]) -> dict[str, Any]:
    """The assessment-results document in OSCAL's JSON form (not yet validated)."""
    run = report["started_at"]
    sources = {s["key"]: s for r in report["results"] for s in r.get("sources", ())}
    result: dict[str, Any] = {
        "uuid": _uuid(run, "result"), "title": f"kubecert {report['tool']['version']} run",
        "description": f"Every rule of kubecert's catalog judged on every target ({report['profile']['name']} "
                       "profile).",
        "start": report["started_at"], "end": report["finished_at"],
        "props": [_prop("complete", str(bool(report.get("complete", True))).lower())],
        "reviewed-controls": {"control-selections": [{"include-all": {}}]},
    }
    if report["targets"]:
        result["local-definitions"] = {"inventory-items": [
            {"uuid": _uuid(run, "target", t["id"]), "description": _one_line(t["id"]),
             "props": [_prop("kind", t["kind"]), _prop("identity", t["identity"])]}
            for t in report["targets"]]}
    if report["results"]:
        result["observations"] = [_observation(report, r) for r in report["results"]]
        result["findings"] = [_finding(report, r) for r in report["results"]]
    return {
        "uuid": _uuid(run, "assessment-results"),
        "metadata": {"title": "kubecert: Kubernetes PKI certificate management", "last-modified": report["finished_at"],
                     "version": _one_line(report["tool"]["version"]), "oscal-version": _oscal_version()},
        "import-ap": {"href": "#" + _uuid(run, "catalog"),
                      "remarks": "kubecert runs no separate assessment plan: its rule catalog is the plan"},
        "results": [result],
        "back-matter": {"resources": [
            {"uuid": _uuid(run, "catalog"), "title": "kubecert rule catalog",
             "description": "The rules kubecert judged, each citing the documents below."},
            *({"uuid": _uuid(run, "source", key), "title": _one_line(s["title"]),
               "description": f"{s['title']} ({s['version']})", "props": [_prop("version", s["version"])],
               "rlinks": [{"href": s["url"]}]} for key, s in sorted(sources.items())),
        ]},
    }


def _oscal_version() -> str:
    from trestle.oscal import OSCAL_VERSION

    return str(OSCAL_VERSION)


def render(report: Mapping[str, Any]) -> str:
    from trestle.oscal.assessment_results import AssessmentResults

    model = AssessmentResults.model_validate(document(report))
    return str(model.oscal_serialize_json(pretty=True)) + "\n"  # wrapped in {"assessment-results": ...}


def _status(result: Mapping[str, Any]) -> str:
    return "accepted" if result.get("accepted") else str(result["status"])


def _observation(report: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    run = report["started_at"]
    target: Mapping[str, Any] = next((t for t in report["targets"] if t["id"] == result["target"]), {})
    observation: dict[str, Any] = {
        "uuid": _uuid(run, result["rule"], result["target"], "observation"),
        "title": _one_line(f"{result['rule']} on {result['target']}"),
        "description": escaped(result["message"]) or _status(result), "methods": ["TEST"],
        "types": ["finding"] if result["status"] == "failed" else ["discovery"],
        "subjects": [{"subject-uuid": _uuid(run, "target", result["target"]), "type": "inventory-item"}],
        "collected": target.get("observed_at") or report["finished_at"],
        "props": [_prop("rule", result["rule"]), _prop("status", _status(result))],
    }
    evidence = [{"description": _evidence_line(entry)} for entry in result["evidence"][:200]]
    if evidence:
        observation["relevant-evidence"] = evidence
    return observation


def _finding(report: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    run = report["started_at"]
    satisfied = result["status"] in ("passed", "not_applicable")
    status: dict[str, Any] = {"state": "satisfied" if satisfied else "not-satisfied",
                              "reason": "pass" if satisfied else ("fail" if result["status"] == "failed" else "other")}
    if not satisfied:
        status["remarks"] = f"kubecert status: {_status(result)}"
    finding: dict[str, Any] = {
        "uuid": _uuid(run, result["rule"], result["target"], "finding"),
        "title": _one_line(f"{result['rule']} {result.get('title', '')}"),
        "description": result.get("statement") or result["rule"],
        "target": {"type": "objective-id", "target-id": result["rule"].lower(), "status": status},
        "props": [_prop("citation", result["citation"]), _prop("target", result["target"])],
        "related-observations": [{"observation-uuid": _uuid(run, result["rule"], result["target"], "observation")}],
    }
    links = [{"href": "#" + _uuid(run, "source", s["key"]), "rel": "reference"} for s in result.get("sources", ())]
    if links:
        finding["links"] = links
    if result.get("remediation"):
        finding["remarks"] = f"remediation: {result['remediation']}"
    return finding


def _evidence_line(entry: Mapping[str, Any]) -> str:
    facts = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("subject", "status", "detail"))
    return escaped(f"{entry['status']}: {entry['subject']}: {entry['detail']}" + (f" ({facts})" if facts else ""))
