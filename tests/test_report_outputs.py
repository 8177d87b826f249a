"""Where reports go: --output-dir moves all, each format's option moves one, plain pytest writes the JSON
by default; paths are checked before the run, stale reports removed; baselines and merges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reports.outputs import FORMATS
from kubecert.reports.results import SCHEMA

from support import SUITE, validate_every_report, validated

NAMES = sorted(fmt.file_name for fmt in FORMATS)


def kubecert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})
    validate_every_report(cwd)
    return run


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_output_dir_moves_every_report(tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   "--output-dir", "ci/out", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert files_under(tmp_path) == [f"ci/out/{name}" for name in NAMES]
    assert validate_every_report(tmp_path) == 1


@pytest.mark.parametrize("fmt", [fmt.option for fmt in FORMATS])
def test_each_format_alone_writes_only_itself(tmp_path: Path, reference_tree: Any, fmt: str) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   f"--{fmt}", "mine/report", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert files_under(tmp_path) == ["mine/report"]


def test_a_format_option_beside_output_dir_moves_that_format_out_of_it(tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   "--output-dir", "out", "--junitxml", "ci/junit.xml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert files_under(tmp_path) == sorted(["ci/junit.xml", *(f"out/{f.file_name}" for f in FORMATS
                                                              if f.option != "junitxml")])


def test_without_any_report_option_the_command_writes_every_format_into_reports(
    tmp_path: Path, reference_tree: Any
) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert files_under(tmp_path) == [f"reports/{name}" for name in NAMES]


def test_plain_pytest_writes_the_json_by_default_under_the_rootdir(
    pytester: pytest.Pytester, reference_tree: Any
) -> None:
    result = pytester.runpytest(*SUITE, "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                                "--kubecert-profile", "palette")
    assert result.ret == 0
    written = pytester.path / "reports" / "kubecert.json"
    assert validated(json.loads(written.read_text()))["summary"]["passed"] == 30
    assert [p.name for p in (pytester.path / "reports").iterdir()] == ["kubecert.json"]
    result.stdout.fnmatch_lines([f"report: {written}"])


def test_plain_pytest_output_dir_writes_every_format(pytester: pytest.Pytester, reference_tree: Any) -> None:
    result = pytester.runpytest(*SUITE, "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                                "--kubecert-profile", "palette", "--kubecert-output-dir", "out")
    assert result.ret == 0
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == NAMES
    assert not (pytester.path / "reports").exists()


def test_a_pytest_session_without_checks_writes_no_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing_of_kubecerts(): pass")
    assert pytester.runpytest("-p", "no:cacheprovider").ret == 0
    assert not (pytester.path / "reports").exists()


def test_an_unwritable_format_path_stops_the_run_before_any_check(tmp_path: Path, reference_tree: Any) -> None:
    (tmp_path / "a-file").write_text("x")
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--oscal", "a-file/r.json",
                   cwd=tmp_path)
    assert run.returncode == 3
    assert "--oscal" in run.stderr and "a-file" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "reports").exists()


def test_stale_reports_of_every_format_are_removed(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in NAMES:
        (reports / name).write_text("an earlier run's report")
    # KC-API-*: rules of a management API, which no pki: target is judged by
    run = kubecert("check", "--target", f"pki:{tmp_path / 'nowhere'}", "--rule", "KC-API-*", cwd=tmp_path)
    assert run.returncode == 2  # nothing was checked
    assert [p.name for p in reports.iterdir() if p.read_text() == "an earlier run's report"] == []


# ---------------------------------------------------------------- baselines


def test_a_baseline_accepts_todays_failures_and_only_new_ones_fail(tmp_path: Path, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    first = kubecert("check", "--target", target, "--profile", "kubeadm", "-q", cwd=tmp_path)
    assert first.returncode == 1
    written = kubecert("baseline", "write", "base.json", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "3 accepted offenders" in written.stdout
    again = kubecert("check", "--target", target, "--profile", "kubeadm", "--baseline", "base.json", cwd=tmp_path)
    assert again.returncode == 0, again.stdout
    assert "ACCEPTED KC-VAL-02" in again.stdout and "1 failures accepted, 0 new" in again.stdout
    report = validated(json.loads((tmp_path / "reports" / "kubecert.json").read_text()))
    val02 = next(r for r in report["results"] if r["rule"] == "KC-VAL-02")
    assert val02["status"] == "failed" and val02["accepted"] is True
    assert report["baseline"] == {"path": "base.json", "entries": 3, "accepted": 1, "new": 0, "stale": []}
    assert 'name="kubecert_status" value="accepted"' in (tmp_path / "reports" / "kubecert-junit.xml").read_text()
    assert 'kubecert_rule_status{rule="KC-VAL-02",status="accepted"' in (
        tmp_path / "reports" / "kubecert.prom").read_text()

    # One offender the baseline does not hold makes the result new: the run fails again.
    document = json.loads((tmp_path / "base.json").read_text())
    document["accepted"] = [e for e in document["accepted"] if e["offender"] != "etcd-ca"]
    (tmp_path / "base.json").write_text(json.dumps(document))
    new = kubecert("check", "--target", target, "--profile", "kubeadm", "--baseline", "base.json", "-q",
                   cwd=tmp_path)
    assert new.returncode == 1 and "0 failures accepted, 1 new" in new.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{", "not JSON"),
    ('{"schema": "other"}', "not a kubecert.baseline/v3.0 file (write one with kubecert baseline write): schema: "
                            '"other" is not a version of kubecert.baseline (e.g. kubecert.baseline/v3.0)'),
    ('{"schema": "kubecert.baseline/v1", "accepted": [{"rule": 1, "target": "t", "offender": ""}]}',
     "not a kubecert.baseline/v3.0 file (write one with kubecert baseline write): accepted[0].rule: expected text, "
     "got 1"),
])
def test_a_bad_baseline_is_a_usage_error_naming_the_file(tmp_path: Path, reference_tree: Any, content: str,
                                                          message: str) -> None:
    (tmp_path / "base.json").write_text(content)
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--baseline", "base.json",
                   cwd=tmp_path)
    assert run.returncode == 3
    assert f"--baseline base.json: {message}" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "reports").exists()


def test_baseline_write_refuses_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("[]")
    run = kubecert("baseline", "write", "b.json", "--report", "r.json", cwd=tmp_path)
    assert run.returncode == 3 and f"r.json: not a {SCHEMA} report" in run.stderr, run.stderr
    assert not (tmp_path / "b.json").exists()


# ---------------------------------------------------------------- merging


def test_merge_joins_runs_of_different_targets_into_every_format(tmp_path: Path, reference_tree: Any) -> None:
    assert kubecert("reference", "pki", "init", "--dir", "other", cwd=tmp_path).returncode == 0
    first = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "kubeadm", "-q",
                     "--output-dir", "a", cwd=tmp_path)
    second = kubecert("check", "--target", "pki:other/pki", "-q", "--output-dir", "b", cwd=tmp_path)
    assert (first.returncode, second.returncode) == (1, 0)
    merged = kubecert("report", "merge", "a/kubecert.json", "b/kubecert.json", "--output-dir", "m", cwd=tmp_path)
    assert merged.returncode == 1, merged.stderr  # the exit code of the whole: a rule failed
    said = merged.stdout.splitlines()  # what failed, and the count that agrees with the exit code
    assert any(line.startswith("FAILED  KC-VAL-02 pki:") for line in said), said
    assert said[-1].startswith("merged 2 reports: ") and said[-1].endswith("; exit 1: a rule failed"), said[-1]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == NAMES
    report = validated(json.loads((tmp_path / "m" / "kubecert.json").read_text()))
    parts = [json.loads((tmp_path / d / "kubecert.json").read_text()) for d in ("a", "b")]
    assert len(report["results"]) == sum(len(p["results"]) for p in parts)
    assert [t["id"] for t in report["targets"]] == sorted(t["id"] for p in parts for t in p["targets"])
    assert report["profile"]["name"] == "kubeadm"  # both judged by it: one profile, not per target
    assert report["command_line"][:3] == ["kubecert", "report", "merge"]


def test_merge_refuses_conflicting_results(tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "kubeadm", "-q",
                   "--json", "a.json", cwd=tmp_path)
    assert run.returncode == 1
    document = json.loads((tmp_path / "a.json").read_text())
    for result in document["results"]:
        if result["rule"] == "KC-VAL-02":
            result["status"] = "passed"
    (tmp_path / "b.json").write_text(json.dumps(document))
    merged = kubecert("report", "merge", "a.json", "b.json", "--output-dir", "m", cwd=tmp_path)
    assert merged.returncode == 3
    assert "KC-VAL-02 on" in merged.stderr and "failed in a.json but passed in b.json" in merged.stderr
    assert not (tmp_path / "m").exists()


def test_without_the_reports_extra_output_dir_leaves_oscal_and_metrics_out_and_asking_for_them_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import dataclasses

    from kubecert.reports import outputs

    missing = tuple(dataclasses.replace(f, needs="kubecert_no_such_module") if f.needs else f for f in FORMATS)
    monkeypatch.setattr(outputs, "FORMATS", missing)
    paths = outputs.ReportPaths.resolve({}, tmp_path)
    assert sorted(paths.paths) == ["html", "json", "junitxml"] and paths.left_out == ("oscal", "metrics")
    assert paths.problems() == []
    asked = outputs.ReportPaths.resolve({"oscal": tmp_path / "o.json"}, None)
    assert asked.problems() == ["--oscal needs kubecert's 'reports' extra (kubecert_no_such_module is not installed): "
                                "pip install 'kubecert[reports]' (from a clone of kubecert, in its folder: "
                                "pip install '.[reports]')"]


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.pop("targets"), "targets: missing (a required field)"),
    (lambda d: d["results"][0].pop("status"), "results[0].status: missing (a required field)"),
    (lambda d: d["results"].__setitem__(1, "KC-VAL-01"), 'results[1]: expected an object, got "KC-VAL-01"'),
    (lambda d: d["results"][0].__setitem__("evidence", "none"), 'results[0].evidence: expected a list, got "none"'),
])
def test_a_damaged_report_is_refused_naming_the_file_and_field(tmp_path: Path, reference_tree: Any,
                                                                change: Any, field: str) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "-q", "--json", "a.json", cwd=tmp_path)
    assert run.returncode == 1
    document = json.loads((tmp_path / "a.json").read_text())
    change(document)
    (tmp_path / "b.json").write_text(json.dumps(document))
    for command in (["baseline", "write", "base.json", "--report", "b.json"],
                    ["report", "merge", "a.json", "b.json", "--output-dir", "m"]):
        refused = subprocess.run([sys.executable, "-m", "kubecert", *command], cwd=tmp_path, capture_output=True,
                                 text=True, timeout=120, check=False)
        assert refused.returncode == 3, refused.stderr
        assert f"b.json: not a {SCHEMA} report: {field}" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "base.json").exists() and not (tmp_path / "m").exists()
