"""Property: a report the reader accepts (canonical.problem finds nothing) is merged and rendered in every
format without an error. The reader is the one gate between a shard's file and the renderers, so whatever it
lets through (any text where the schema says text, any date it takes, lists emptied or doubled) must be
something every renderer can draw: OSCAL's token-shaped identifiers, JUnit's XML, the HTML's timeline."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubecert.reports import canonical
from kubecert.reports.merge import MergeError, merge
from kubecert.reports.outputs import FORMATS
from kubecert.reports.schema import shipped

TEXTS = ["", " ", "\x1b[31mALL PASSED", "a\u202eb", "<script>alert(1)</script>", "&amp;", "😀", "x" * 2000, "\n\n",
         "\t", "]]>", "\x00", "{{ x }}", "%s", "javascript:alert(1)", "\u2028", "\ufeff", "KC-VAL-01"]
DATES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2027-01-31T12:00:00.123456Z", "1970-01-01T00:00:00Z"]


@pytest.fixture(scope="module")
def good_report(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("property")
    subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--profile", "kubeadm", "--json", "a.json",
                    "--target", f"pki:{reference_tree.root / 'pki'}"], cwd=folder, capture_output=True, timeout=300,
                   check=False)
    report = json.loads((folder / "a.json").read_text())
    report["notes"] = ["a note"]
    report["evaluated_as_of"] = report["finished_at"]
    report["results"].sort(key=lambda r: (not r["evidence"], r["status"] != "failed"))
    assert canonical.problem(report) is None
    return report


def _spots(value: Any, schema: dict[str, Any], root: dict[str, Any],
           path: list[Any]) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """Every place of ``value`` (lists: their first items) with the schema of what may be there."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        choices = [c for c in schema["anyOf"] if c.get("type") != "null"]
        yield from _spots(value, choices[0], root, path)
        return
    yield path, schema
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            yield from _spots(item, properties.get(key, extra if isinstance(extra, dict) else {}), root, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):
            yield from _spots(item, schema.get("items", {}), root, [*path, index])


RULE_IDS = ["KC-VAL-01", "KC-NEW-99", "KC-X509-7"]  # of the catalog's shape: rules of a later version too
BY_KIND: dict[str, list[Any]] = {"integer": [0, 1, 36500, 2**53 - 1, -5], "number": [0.0, 1e300, -1.5, 3],
                                 "boolean": [True, False]}


def _value(schema: dict[str, Any], choice: int, current: Any) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        choices = schema["enum"]
    elif "pattern" in schema:
        choices = RULE_IDS
    elif kind == "string":
        choices = DATES if schema.get("format") == "date-time" else TEXTS
    elif kind == "array":
        choices = [[], current * 2 if isinstance(current, list) else []]
    elif kind == "object":
        choices = [current]  # its fields are places of their own
    else:
        choices = BY_KIND.get(kind or "", [*TEXTS, 1, None, [], {}])
    return choices[choice % len(choices)]


def mutated(report: dict[str, Any], changes: list[tuple[int, int]]) -> dict[str, Any]:
    document = copy.deepcopy(report)
    root = shipped()
    for where, choice in changes:
        spots = [s for s in _spots(document, root, root, []) if s[0] and "const" not in s[1]]
        path, schema = spots[where % len(spots)]
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = _value(schema, choice, parent[path[-1]])
    return document


@settings(max_examples=200, deadline=dt.timedelta(seconds=30),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_a_report_the_reader_accepts_merges_and_renders_in_every_format(good_report: dict[str, Any],
                                                                         seed: int) -> None:
    # Hypothesis draws small integers most: places picked from a seeded stream spread over the whole report.
    stream = random.Random(seed)
    changes = [(stream.randrange(10**6), stream.randrange(10**6)) for _ in range(stream.randint(1, 10))]
    document = mutated(good_report, changes)
    if canonical.problem(document) is not None:
        return  # the reader refuses it: the hostile corpus proves how
    try:
        merged = merge([(Path("a.json"), document)], ["kubecert", "report", "merge", "a.json"])
    except MergeError:
        return  # one (rule, target) judged twice, differently: refused, naming the file
    assert canonical.problem(json.loads(canonical.dumps(merged))) is None  # a merge writes what it would read
    for fmt in FORMATS:
        assert fmt.render(merged)
