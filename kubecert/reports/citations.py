"""What every result says of its rule, taken from the catalog: title, statement, remediation, citation and
the documents cited with their URL and version. A report then stands on its own, without the catalog."""

from __future__ import annotations

from typing import Any

from kubecert.rules.catalog import Rule, sources


def rule_fields(rule: Rule) -> dict[str, Any]:
    """The Result fields that come from ``rule`` (SourceRecord entries as JSON-ready dicts)."""
    from kubecert.reports.results import SourceRecord

    known = sources()
    return {
        "title": rule.title, "statement": rule.statement, "remediation": rule.remediation,
        "citation": f"{rule.citation} [{', '.join(rule.sources)}]",
        "sources": [SourceRecord(**known[key].to_json()) for key in rule.sources if key in known],
    }
