"""Every report format read back by a real reader of that format: the JSON Schema, junitparser for JUnit,
compliance-trestle's models for OSCAL, prometheus_client's parsers for OpenMetrics."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Properties, Skipped
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as classic_families
from trestle.oscal.assessment_results import AssessmentResults

from kubecert.reports import junit, metrics, oscal
from kubecert.reports.outputs import FORMATS

from support import run_suite, validated


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any) -> tuple[Path, dict[str, Any]]:
    """One run of the reference node judged by kubeadm's profile (its 3652-day CAs fail KC-VAL-02), every
    format written to one folder by --kubecert-output-dir."""
    folder = tmp_path_factory.mktemp("formats")
    out = folder / "out"
    target = f"pki:{reference_tree.root / 'pki'}"
    run = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "kubecert.conformance", "-p", "no:cacheprovider",
                          "--kubecert-target", target, "--kubecert-profile", "kubeadm",
                          "--kubecert-output-dir", str(out)],
                         cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    return out, validated(json.loads((out / "kubecert.json").read_text()))


def test_output_dir_writes_every_format(failing_run: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = failing_run
    assert sorted(p.name for p in folder.iterdir()) == sorted(fmt.file_name for fmt in FORMATS)


def test_junit_has_the_rule_in_every_name_and_property_and_the_statement_and_offenders_in_failures(
    failing_run: tuple[Path, dict[str, Any]]
) -> None:
    folder, report = failing_run
    xml = JUnitXml.fromfile(str(folder / "kubecert-junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(report["results"])
    for case in cases:
        rule = case.name.split(" ", 1)[0]
        properties = {p.name: p.value for p in case.child(Properties)}
        assert properties["kubecert_rule"] == rule and properties["kubecert_target"] == report["targets"][0]["id"]
    failed = [case for case in cases if any(isinstance(r, Failure) for r in case.result)]
    assert [case.name.split(" ", 1)[0] for case in failed] == ["KC-VAL-02"]
    text = failed[0].result[0].text
    rule = next(r for r in report["results"] if r["rule"] == "KC-VAL-02")
    assert rule["statement"] in text
    for ca in ("ca", "front-proxy-ca", "etcd-ca"):
        assert f"FAILED {ca}: valid 3652d" in text
    assert f"fix: {rule['remediation']}" in text
    skipped = sum(1 for case in cases if any(isinstance(r, Skipped) for r in case.result))
    assert skipped == report["summary"]["skipped"] + report["summary"]["not_applicable"]
    suite = next(iter(xml))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
        len(cases), 1, report["summary"]["error"], skipped)
    assert not any(isinstance(r, Error) for case in cases for r in case.result)


def test_oscal_validates_with_compliance_trestle_and_keeps_each_rule_with_its_citation(
    failing_run: tuple[Path, dict[str, Any]]
) -> None:
    folder, report = failing_run
    model = AssessmentResults.oscal_read(folder / "kubecert-oscal.json")
    assert model is not None
    result = model.results[0]
    assert len(result.observations) == len(result.findings) == len(report["results"])
    finding = next(f for f in result.findings if f.title.startswith("KC-VAL-02 "))
    assert finding.target.status.state.value == "not-satisfied"
    assert any(p.name == "citation" and "3652" in p.value for p in finding.props)
    sources = {r.uuid: r for r in model.back_matter.resources}
    cited = [sources[link.href.removeprefix("#")] for link in finding.links]
    assert {r.rlinks[0].href for r in cited} == {s["url"] for s in next(
        r for r in report["results"] if r["rule"] == "KC-VAL-02")["sources"]}
    passed = next(f for f in result.findings if f.title.startswith("KC-VAL-01 "))
    assert passed.target.status.state.value == "satisfied"


def test_oscal_refuses_what_oscal_does_not_allow(failing_run: tuple[Path, dict[str, Any]]) -> None:
    """The models validate: a document kubecert made wrong would fail here, not in an auditor's tool."""
    _, report = failing_run
    document = oscal.document(report)
    document["results"][0]["findings"][0]["target"]["status"]["state"] = "fine"
    with pytest.raises(ValueError, match="state"):
        AssessmentResults.model_validate(document)


def test_metrics_parse_back_with_x509_exporter_names(failing_run: tuple[Path, dict[str, Any]]) -> None:
    folder, report = failing_run
    text = (folder / "kubecert.prom").read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    certificates = report["targets"][0]["certificates"]
    not_after = {s.labels["name"]: s.value for s in families["x509_cert_not_after"].samples}
    assert not_after.keys() == {c["name"] for c in certificates}
    apiserver = next(c for c in certificates if c["name"] == "apiserver")
    expiry = dt.datetime.fromisoformat(apiserver["not_after"].replace("Z", "+00:00"))
    assert not_after["apiserver"] == expiry.timestamp()
    sample = next(s for s in families["x509_cert_expired"].samples if s.labels["name"] == "apiserver")
    assert sample.value == 0.0
    assert sample.labels["subject_CN"] == "kube-apiserver" and sample.labels["issuer_CN"] == "kubernetes"
    assert sample.labels["filepath"].endswith("pki/apiserver.crt")
    status = {(s.labels["rule"], s.labels["status"]): s.value for s in families["kubecert_rule_status"].samples}
    assert status[("KC-VAL-02", "failed")] == 1.0 and status[("KC-VAL-02", "passed")] == 0.0
    # node-exporter's textfile collector reads the classic text format: the same file parses there too.
    assert {f.name for f in classic_families(text)} >= {"x509_cert_not_after", "x509_cert_expired"}


def test_an_expired_certificate_is_expired_in_the_metrics(failing_run: tuple[Path, dict[str, Any]]) -> None:
    _, report = failing_run
    later = {**report, "evaluated_as_of": "2099-01-01T00:00:00Z"}
    families = {f.name: f for f in text_string_to_metric_families(metrics.render(later))}
    assert {s.value for s in families["x509_cert_expired"].samples} == {1.0}


def test_an_accepted_failure_is_a_skipped_case_that_says_so(failing_run: tuple[Path, dict[str, Any]]) -> None:
    _, report = failing_run
    accepted = {**report, "results": [{**r, "accepted": True} if r["status"] == "failed" else r
                                      for r in report["results"]]}
    xml = JUnitXml.fromstring(junit.render(accepted).split("\n", 1)[1])
    case = next(c for suite in xml for c in suite if c.name.startswith("KC-VAL-02 "))
    assert isinstance(case.result[0], Skipped) and case.result[0].message.startswith("accepted by the baseline")


def test_a_partial_report_says_so_in_junit(failing_run: tuple[Path, dict[str, Any]]) -> None:
    _, report = failing_run
    text = junit.render({**report, "complete": False})
    assert '<property name="kubecert_complete" value="false" />' in text


def test_run_suite_reports_validate(pytester: pytest.Pytester, reference_tree: Any) -> None:
    """The JSON the plugin writes carries what an auditor needs: host, command line, coverage, sources."""
    target = f"pki:{reference_tree.root / 'pki'}"
    _, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "palette")
    assert report["host"] and report["command_line"][0] == "pytest"
    assert "--kubecert-target" in report["command_line"]
    assert {c["rule"] for c in report["coverage"]} >= {r["rule"] for r in report["results"]}
    first = report["results"][0]
    assert first["title"] and first["statement"] and first["remediation"]
    assert all(s["url"].startswith("https://") and s["version"] for s in first["sources"])
    assert len(report["targets"][0]["certificates"]) == 16  # pki/ 10, kubeconfigs 4, kubelet 2


def test_a_run_of_the_reference_writes_every_format_and_each_reads_back(tmp_path: Path) -> None:
    """`kubecert check` as `make check` runs it (the default target: the whole reference platform, renewals
    included), every format validated by its own reader."""
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--output-dir", "out"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(fmt.file_name for fmt in FORMATS)
    report = validated(json.loads((out / "kubecert.json").read_text()))
    assert all(t["id"].startswith("reference:") for t in report["targets"]) and len(report["targets"]) > 1
    assert report["summary"]["failed"] == report["summary"]["error"] == 0
    cases = [case for suite in JUnitXml.fromfile(str(out / "kubecert-junit.xml")) for case in suite]
    assert len(cases) == len(report["results"])
    model = AssessmentResults.oscal_read(out / "kubecert-oscal.json")
    assert model is not None and len(model.results[0].findings) == len(report["results"])
    families = {f.name: f for f in text_string_to_metric_families((out / "kubecert.prom").read_text())}
    dated = sum(1 for t in report["targets"] for c in t["certificates"] if c["not_after"])
    assert len(families["x509_cert_not_after"].samples) == dated > 0
    assert "<script" not in (out / "kubecert.html").read_text()
