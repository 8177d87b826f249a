"""Reports written from the run's spool (kubecert/reports/spool.py) and report format 1.9's rules section.

A result that passed is not held once its check has ended: its report line is in the spool, and the reports
are written from there. Each rule's text (statement, remediation, citation, sources) is said once, in the
report's ``rules``; a reader puts it back into every result, and a reader of 1.8 (the schema 1.8 shipped,
kept in tests/report_schemas/) still reads a 1.9 report, leaving the section out as a later minor's field.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kubecert.reports import canonical, validate
from kubecert.reports.citations import rule_fields
from kubecert.reports.merge import merge
from kubecert.reports.results import Report, Result, SourceRecord, Status
from kubecert.rules import catalog

from support import SUITE, run_check

V1_8_SCHEMA = Path(__file__).parent / "report_schemas" / "report-v1.8.schema.json"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any) -> list[Path]:
    root = tmp_path_factory.mktemp("nodes")
    for name in ("cp-a", "cp-b"):
        shutil.copytree(reference_tree.root, root / name, symlinks=True, copy_function=shutil.copy2)
    (root / "cp-b" / "pki" / "apiserver.crt").write_bytes(b"")  # failures and errors beside the passes
    return [root / "cp-a", root / "cp-b"]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, two_nodes: list[Path]) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("written")
    run, _ = run_check(folder, *(w for node in two_nodes for w in ("--target", f"pki:{node / 'pki'}")),
                       "--profile", "kubeadm")
    assert run.returncode in (1, 2), run.stdout + run.stderr
    document: dict[str, Any] = json.loads((folder / "r.json").read_text())
    return document


def _text(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: fields[key] for key in canonical.RULE_TEXT}


def test_each_rules_text_is_written_once_and_read_back_into_every_result(written: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    judged = {r["rule"] for r in written["results"]}
    assert [entry["rule"] for entry in written["rules"]] == sorted(judged, key=canonical.rule_order)
    for entry in written["rules"]:
        expected = rule_fields(catalog.get(entry["rule"]))
        assert entry["title"] == expected["title"]
        assert _text(entry) == {**_text(expected), "sources": [vars(s) for s in expected["sources"]]}
    assert all((r["statement"], r["remediation"], r["citation"], r["sources"]) == ("", "", "", [])
               for r in written["results"])
    assert all(r["title"] for r in written["results"])  # a line still reads on its own

    path = tmp_path / "r.json"
    path.write_text(json.dumps(written))
    for result in canonical.load(path)["results"]:
        expected = rule_fields(catalog.get(result["rule"]))
        assert _text(result) == {**_text(expected), "sources": [vars(s) for s in expected["sources"]]}


def test_the_report_keeps_its_fields_order_with_the_rules_section_last(written: dict[str, Any]) -> None:
    """The results stay where they always were among the run's fields, whichever way they were written."""
    order = [f.name for f in dataclasses.fields(Report)]
    assert list(written) == [name for name in order if name in written]
    assert list(written)[-1] == "rules" and list(written).index("results") < list(written).index("summary")


def test_a_reader_of_the_previous_minor_reads_this_one_without_the_rules_section(written: dict[str, Any]) -> None:
    """What kubecert 1.8's reader does with a later minor: validate against its own schema, fields it does not
    know checked for size and left out (validate.problem with ``later``)."""
    previous = json.loads(V1_8_SCHEMA.read_text())
    assert previous["$id"] == "urn:kubecert:report:v1.8"
    document = copy.deepcopy(written)
    assert validate.problem(document, previous, minor=9, later=True) is None
    assert "rules" not in document and len(document["results"]) == len(written["results"])
    # and a 1.8 report is read by this kubecert (every older minor is: test_report_versions.py)


def test_a_result_whose_text_differs_from_its_rules_entry_keeps_its_own() -> None:
    rule = catalog.get("KC-VAL-01")
    fields = rule_fields(rule)
    first = Result(rule=rule.id, target="pki:a", status=Status.PASSED, message="m", evidence=[], nodeid="n",
                   **fields).to_json()
    older = Result(rule=rule.id, target="pki:b", status=Status.PASSED, message="m", evidence=[], nodeid="n",
                   **{**fields, "statement": "what an older catalog said",
                      "sources": [SourceRecord("K8S", "t", "https://kubernetes.io/", "1.28")]}).to_json()
    rules: dict[str, dict[str, Any]] = {}
    canonical.compact(first, rules)
    canonical.compact(older, rules)
    assert first["citation"] == "" and older["statement"] == "what an older catalog said"
    assert canonical.fill(first, rules)["statement"] == rule.statement
    assert canonical.fill(older, rules)["statement"] == "what an older catalog said"


def test_a_merge_keeps_every_results_text(written: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "shard.json"
    path.write_text(json.dumps(written))
    merged = merge([(path, canonical.load(path))], ["kubecert", "report", "merge"])
    text = json.loads(canonical.dumps(merged))
    assert len(text["rules"]) == len({r["rule"] for r in written["results"]})
    (tmp_path / "merged.json").write_text(json.dumps(text))
    for result in canonical.load(tmp_path / "merged.json")["results"]:
        assert result["statement"] == catalog.get(result["rule"]).statement


class CountHeldResults:
    """Counts, once every check has ended, the Result objects of ``targets`` still alive in the process that did not
    fail (a failure is kept whole: the terminal names it and the baseline counts it)."""

    def __init__(self, targets: set[str]) -> None:
        self.targets = targets
        self.held: int | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        gc.collect()
        self.held = sum(1 for o in gc.get_objects()
                        if isinstance(o, Result) and o.status is not Status.FAILED and o.target in self.targets)


@pytest.mark.parametrize("mode", ["--kubecert-fleet", "--kubecert-per-check"])
def test_a_result_that_did_not_fail_is_not_held_once_its_check_has_ended(pytester: pytest.Pytester,
                                                                         two_nodes: list[Path], mode: str) -> None:
    """Passes, skips and errors (a fleet of unreadable targets must cost no more than a readable one)."""
    unreadable = f"pki:{two_nodes[0].parent / 'gone' / 'pki'}"
    targets = {f"pki:{node / 'pki'}" for node in two_nodes} | {unreadable}
    counter = CountHeldResults(targets)
    report = pytester.path / "report.json"
    run = pytester.runpytest(*SUITE, mode, "--kubecert-profile", "kubeadm", "--kubecert-json", str(report),
                             *(w for t in sorted(targets) for w in ("--kubecert-target", t)), plugins=[counter])
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.stdout.str()
    results = json.loads(report.read_text())["results"]
    passed = [r for r in results if r["status"] == "passed"]
    assert len(passed) > 40 and {r["target"] for r in passed} == targets - {unreadable}
    assert sum(r["status"] == "error" and r["target"] == unreadable for r in results) > 20
    assert counter.held == 0
