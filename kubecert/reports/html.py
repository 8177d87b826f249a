"""The HTML evidence report: the canonical report rendered for a person (auditors file it, print it to PDF).

One self-contained page: no script, no external asset, and a Content-Security-Policy that forbids both (the
page's one style sheet is allowed by its hash), so nothing in a report can make it run or load anything.
It opens with the verdict and the run's facts (command line, host, profile parameters), then summaries by
target (failures first) and by rule (catalog order), then every result: failures and errors first, each
with its offenders' evidence shown and the rest folded, then one line per pass or skip that unfolds
(details/summary: no script), then each target with its certificates on an expiry timeline (inline SVG,
timeline.py). Filters by status and target are radio buttons that CSS alone obeys; a browser without CSS
shows the full list. Every string of the report goes through kubecert.text first (control characters
escaped) and Jinja2's autoescape after, so nothing a target sent can become markup; every value is shown
as words (``displayed``: JSON's null, booleans, lists and objects, never Python's reprs); an address
becomes a link only when it is an http: or https: one (a ``javascript:`` source stays text).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

import jinja2

from kubecert.reports import timeline
from kubecert.reports.results import Report
from kubecert.status import STATUSES
from kubecert.text import escaped_values

if TYPE_CHECKING:
    from kubecert.reports.sources import ResultSource


def displayed(value: Any) -> Any:
    """How a value of the report reads on the page: null as a dash, booleans as yes and no, a list as its
    items and an object as its "key: value" pairs, never Python's ``None``, ``True`` or ``['...']``.
    Every ``{{ }}`` of the templates passes through it (the environment's finalize)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_nested(item) for item in value) if value else "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_nested(item)}" for key, item in value.items()) if value else "—"
    return value


def _nested(value: Any) -> str:
    shown = str(displayed(value))
    return f"({shown})" if isinstance(value, list | tuple | dict) and value else shown


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("kubecert.reports", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
    finalize=displayed,
)
WEB_SCHEMES = ("https", "http")
_ENVIRONMENT.tests["web_address"] = lambda url: web_address(str(url))
# Failures first, then what could not be judged, then what the baseline accepts, then the rest.
ORDER = ("failed", "error", "accepted", "skipped", "passed", "not_applicable")
FILTER_STATUSES = ("failed", "error", "accepted", "passed", "skipped", "not_applicable")
# Past this many targets the page is a fleet's summary: every target's counts, every failure and error in
# full with its target's section, and the results that passed or were skipped counted, not listed (the
# JSON report has each with its evidence). A thousand targets would otherwise make a page of 200 MB.
DETAILED_TARGETS = 16
SHOWN_IN_SUMMARY = ("failed", "error", "accepted")
# What every result of a rule repeats: said once in the section of the rules, and again on each card.
RULE_FACTS = ("statement", "citation", "sources")


def status_of(result: Mapping[str, Any]) -> str:
    return "accepted" if result.get("accepted") else str(result["status"])


def render(report: Report | Mapping[str, Any]) -> str:
    """The HTML of a report (the canonical one, or its JSON as read back from a file)."""
    document = escaped_values(report.to_json() if isinstance(report, Report) else dict(report))
    return _page(view(document))


def write_from(out: TextIO, header: Mapping[str, Any], source: ResultSource) -> None:
    """The page onto ``out`` (outputs.Format), the results read once from ``source``: past DETAILED_TARGETS targets
    a result that passed or was skipped is only counted, so only failures, errors and accepted failures are read
    whole and kept for the page."""
    document = escaped_values({**header, "results": [], "rules": list(source.rules.values())})
    whole = frozenset(SHOWN_IN_SUMMARY) if _summary_page(document["targets"]) else None
    results = (escaped_values(r) for r in source.documents(whole))
    out.write(_page(view(document, results)))


def _page(values: dict[str, Any]) -> str:
    style = _ENVIRONMENT.get_template("style.css.j2").render(**values)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return _ENVIRONMENT.get_template("report.html.j2").render(
        **values, style=style, style_source=f"'sha256-{digest}'")


def web_address(url: str) -> bool:
    """Whether ``url`` may be a link: an http: or https: address, never javascript:, data: or a file."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc)


def view(document: Mapping[str, Any], results: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """What the template draws, derived once here so the template only lays it out. ``results``: the results (their
    strings escaped) when they are not the document's own, read once: a fleet's passes are counted and let go."""
    targets = list(document["targets"])
    many = _summary_page(targets)  # then the page is a summary whatever results say
    catalog = catalog_order(document)
    said = {entry["rule"]: entry for entry in document.get("rules") or ()}  # 1.9: each rule's text once
    by_target: defaultdict[str, Counter[str]] = defaultdict(Counter)
    rules: dict[str, dict[str, Any]] = {}
    rule_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    failing: defaultdict[str, set[str]] = defaultdict(set)
    kept: list[Mapping[str, Any]] = []
    problems = _Problems()
    for result in document["results"] if results is None else results:
        status, rule, target = status_of(result), result["rule"], result["target"]
        by_target[target][status] += 1
        text = result if result.get("citation") else said.get(rule, result)  # a fleet page's pass is counted only
        row = rules.setdefault(rule, {"rule": rule, "title": text.get("title", ""), "cells": {},
                                      **{key: text.get(key) for key in RULE_FACTS}})
        if not many:
            row["cells"][target] = status
        rule_counts[rule][status] += 1
        if result["status"] in ("failed", "error"):
            failing[target].update(str(e["subject"]) for e in result["evidence"]
                                   if e.get("status") in ("failed", "error"))
        if many and problems.takes(result):  # a fleet of unreadable targets: one entry a target, not a result
            continue
        if not many or status in SHOWN_IN_SUMMARY:
            kept.append(result)
    target_ids = sorted({t["id"] for t in targets} | by_target.keys())
    summarised = len(target_ids) > DETAILED_TARGETS
    if summarised and not many:  # the results named more targets than the document lists
        kept = [r for r in kept if status_of(r) in SHOWN_IN_SUMMARY and not problems.takes(r)]
    index = {target: number for number, target in enumerate(target_ids)}
    # A fleet is read from its worst targets down; a target keeps its number (its anchors and filter) whatever
    # its place.
    target_order = sorted(target_ids, key=lambda t: (*(-by_target[t][s] for s in ORDER[:3]), t))
    place = {target: number for number, target in enumerate(target_order)}
    alone, shared = problems.settled(catalog, place)
    shown = sorted([*kept, *alone], key=lambda r: (ORDER.index(status_of(r)), catalog(r["rule"]), place[r["target"]]))
    rule_rows = sorted(rules.values(), key=lambda row: catalog(row["rule"]))
    counts: Counter[str] = sum(by_target.values(), Counter())
    verdict = "failed" if counts["failed"] else "error" if counts["error"] or not counts.total() else "passed"
    if summarised:
        listed = {r["target"] for r in shown} | {p["target"] for p in shared}
        targets = [t for t in targets if t["id"] in listed]
    targets.sort(key=lambda t: place[t["id"]])
    return {
        "summarised": summarised, "rule_counts": {row["rule"]: rule_counts[row["rule"]] for row in rule_rows},
        "report": document, "results": shown, "rule_rows": rule_rows, "target_ids": target_ids,
        "target_order": target_order, "target_index": index, "by_target": by_target,
        "statuses": [*STATUSES, "accepted"], "filter_statuses": FILTER_STATUSES, "status_of": status_of,
        "verdict": verdict,
        "target_views": [_target_view(document, t, failing[t["id"]], index[t["id"]]) for t in targets],
        "not_implemented": [c for c in document.get("coverage", ()) if not c["implemented"]],
        "counts": counts, "problems": shared,
    }


def _summary_page(targets: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the document's targets make the page a fleet's summary (DETAILED_TARGETS)."""
    return len({t["id"] for t in targets}) > DETAILED_TARGETS


def catalog_order(document: Mapping[str, Any]) -> Callable[[str], tuple[int, str]]:
    """The sort key that puts rules in the catalog's order: the report's coverage lists every rule of the
    catalog in that order; a rule it does not list (a report of another version) comes after, by ID."""
    position = {entry["rule"]: number for number, entry in enumerate(document.get("coverage", ()))}
    return lambda rule: (position.get(rule, len(position)), rule)


def folded(evidence: list[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """A result's evidence as shown: its offenders (what failed or could not be judged), and the rest,
    folded under them."""
    offenders = [e for e in evidence if e.get("status") in ("failed", "error")]
    return offenders, [e for e in evidence if e.get("status") not in ("failed", "error")]


def facts(entry: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """An evidence entry's facts beyond its subject, status and detail; a fact that is null says nothing."""
    return [(key, value) for key, value in entry.items()
            if key not in ("status", "subject", "detail") and value is not None]


class _Problems:
    """A fleet's summary shows its problems once: the errors one target's failure gave several checks (the same
    message, nothing judged: the target could not be read) are one problem that names those checks, so a fleet of
    unreadable targets is a page of one entry per target. Each is kept as its first result and its rules' IDs."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], tuple[Mapping[str, Any], list[str]]] = {}

    def takes(self, result: Mapping[str, Any]) -> bool:
        """Whether ``result`` is such an error (it is then kept here, not shown on its own)."""
        if status_of(result) != "error" or result["evidence"]:
            return False
        key = (result["target"], result["message"])
        known = self.groups.get(key)
        if known is None:
            self.groups[key] = (result, [result["rule"]])
        else:
            known[1].append(result["rule"])
        return True

    def settled(self, catalog: Callable[[str], tuple[int, str]],
                place: Mapping[str, int]) -> tuple[list[Mapping[str, Any]], list[dict[str, Any]]]:
        """The errors that stand alone (shown as results), and the problems in the order of their first check."""
        alone = [first for first, rules in self.groups.values() if len(rules) == 1]
        grouped = sorted((catalog(min(rules, key=catalog)), place[target], target, message, sorted(rules, key=catalog))
                         for (target, message), (_, rules) in self.groups.items() if len(rules) > 1)
        return alone, [{"target": target, "message": message, "rules": rules} for *_, target, message, rules in grouped]


def _target_view(document: Mapping[str, Any], target: Mapping[str, Any], failing: set[str],
                 number: int) -> dict[str, Any]:
    judged_at = document.get("evaluated_as_of") or target.get("observed_at") or document["finished_at"]
    parameters = (target.get("profile") or document["profile"]).get("parameters", {})
    horizon = int(parameters.get("min_remaining_days", 30))
    return {"target": target, "number": number, "failing": failing,
            "timeline": timeline.build(target.get("certificates", ()), judged_at, horizon, failing)}


# What the templates' macros call (an imported template sees the environment's globals, not the page's values).
_ENVIRONMENT.globals.update(folded=folded, facts=facts)
