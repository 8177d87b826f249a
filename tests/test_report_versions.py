"""Reports and baselines across versions (kubecert/reports/versions.py, docs/report-format.md): one of a later
minor is read, its unknown fields left out; one of a later major is refused, naming its version; every
older minor still reads. The older minors are made here from a report of this version by removing what
each later minor added (the schema's ``x-since``), as CHANGELOG.md lists it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reports.results import SCHEMA
from kubecert.reports.schema import shipped
from kubecert.reports.validate import since_minor
from kubecert.reports.versions import BASELINE, REPORT


def kubecert(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any) -> dict[str, Any]:
    """A report of this version with failures (the palette tree judged by kubeadm's profile)."""
    folder = tmp_path_factory.mktemp("versions")
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "-q", "--json", "a.json", cwd=folder)
    assert run.returncode == 1, run.stdout + run.stderr
    document: dict[str, Any] = json.loads((folder / "a.json").read_text())
    assert document["schema"] == SCHEMA == f"kubecert.report/v{REPORT.major}.{REPORT.minor}"
    return document


def as_of_minor(document: dict[str, Any], minor: int) -> dict[str, Any]:
    """``document`` as minor ``minor`` wrote it: every field a later minor added removed, wherever it is."""
    root = shipped()
    older = copy.deepcopy(document)

    def strip(value: Any, schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
        for choice in schema.get("anyOf", ()):
            strip(value, choice)
        if isinstance(value, dict) and "properties" in schema:
            for name, field in schema["properties"].items():
                if name in value and since_minor(field) > minor:
                    del value[name]
                elif name in value:
                    strip(value[name], field)
        elif isinstance(value, list) and "items" in schema:
            for item in value:
                strip(item, schema["items"])

    strip(older, root)
    older["schema"] = f"kubecert.report/v1.{minor}"
    return older


def later_minor(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as a later minor might write it: fields this kubecert does not know, at every level."""
    later = copy.deepcopy(document)
    later["schema"] = f"kubecert.report/v{REPORT.major}.{REPORT.minor + 1}"
    later["waivers"] = {"KC-VAL-01": {"title": "a section of a later minor", "since": "a later minor"}}
    later["targets"][0]["cluster_uid"] = "c-1"
    with_evidence = next(r for r in later["results"] if r["evidence"])
    with_evidence["rule_ref"] = "#/rules/KC-VAL-01"
    with_evidence["evidence"][0]["new_fact"] = {"nested": [1, 2]}  # evidence is open: kept as it is
    return later


def _write(folder: Path, name: str, document: dict[str, Any]) -> str:
    (folder / name).write_text(json.dumps(document))
    return name


def test_a_later_minor_is_read_by_merge_and_baseline_write_without_its_unknown_fields(
    report: dict[str, Any], tmp_path: Path
) -> None:
    name = _write(tmp_path, "later.json", later_minor(report))
    merged = kubecert("report", "merge", name, "--output-dir", "merged", cwd=tmp_path)
    assert merged.returncode == 1, merged.stderr  # the shard's failures, merged
    document = json.loads((tmp_path / "merged" / "kubecert.json").read_text())
    assert document["schema"] == SCHEMA
    assert "waivers" not in document and "cluster_uid" not in document["targets"][0]
    assert all("rule_ref" not in r for r in document["results"])
    assert len(document["results"]) == len(report["results"])
    written = kubecert("baseline", "write", "base.json", "--report", name, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    from_now = kubecert("baseline", "write", "now.json", "--report", _write(tmp_path, "now.json.in", report),
                        cwd=tmp_path)
    assert from_now.returncode == 0, from_now.stderr
    base = json.loads((tmp_path / "base.json").read_text())
    assert base["accepted"] == json.loads((tmp_path / "now.json").read_text())["accepted"] != []
    assert base["schema"] == BASELINE.current


def test_a_later_minor_baseline_is_read_by_check(report: dict[str, Any], tmp_path: Path, reference_tree: Any) -> None:
    written = kubecert("baseline", "write", "base.json", "--report", _write(tmp_path, "a.json", report), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    base = json.loads((tmp_path / "base.json").read_text())
    base["schema"] = f"kubecert.baseline/v{BASELINE.major}.{BASELINE.minor + 1}"
    base["owner"] = "platform team"
    base["accepted"][0]["ticket"] = "PKI-1"
    _write(tmp_path, "later-base.json", base)
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "-q", "--baseline", "later-base.json",
                   "--json", "b.json", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr  # every failure accepted by the later minor's entries
    judged = json.loads((tmp_path / "b.json").read_text())
    assert judged["baseline"]["accepted"] > 0 and judged["baseline"]["new"] == 0


@pytest.mark.parametrize("command", ["merge", "baseline-write"])
def test_a_later_major_report_is_refused_naming_its_version(
    report: dict[str, Any], tmp_path: Path, command: str
) -> None:
    name = _write(tmp_path, "v2.json", {**later_minor(report), "schema": "kubecert.report/v2.0"})
    argv = (["report", "merge", name, "--output-dir", "out"] if command == "merge"
            else ["baseline", "write", "base.json", "--report", name])
    run = kubecert(*argv, cwd=tmp_path)
    assert run.returncode == 3
    assert f'v2.json: not a {SCHEMA} report: schema: "kubecert.report/v2.0" is a later major version' \
        in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "out").exists() and not (tmp_path / "base.json").exists()


def test_a_later_major_baseline_is_refused_naming_its_version(tmp_path: Path, reference_tree: Any) -> None:
    later = f"kubecert.baseline/v{BASELINE.major + 1}.0"
    _write(tmp_path, "later.json", {"schema": later, "accepted": []})
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "-q", "--baseline", "later.json",
                   "--json", "b.json", cwd=tmp_path)
    assert run.returncode == 3
    assert f'schema: "{later}" is a later major version' in run.stderr, run.stderr
    assert not (tmp_path / "b.json").exists()


def test_every_older_minor_reads(report: dict[str, Any], tmp_path: Path) -> None:
    """Each minor from 1.0, and the name kubecert wrote before minors (``kubecert.report/v1``, read as 1.0),
    merged and written as a baseline."""
    versions = [(f"v1.{minor}", as_of_minor(report, minor)) for minor in range(REPORT.minor + 1)]
    versions.append(("v1", {**as_of_minor(report, 0), "schema": "kubecert.report/v1"}))
    assert "command_line" not in versions[0][1] and "identity" not in versions[0][1]["targets"][0]
    assert "certificates" in versions[2][1]["targets"][0] and "role" not in versions[2][1]["targets"][0]
    for label, document in versions:
        name = _write(tmp_path, f"{label}.json", document)
        merged = kubecert("report", "merge", name, "--output-dir", f"merged-{label}", cwd=tmp_path)
        assert merged.returncode == 1, f"{label}: {merged.stderr}"
        again = json.loads((tmp_path / f"merged-{label}" / "kubecert.json").read_text())
        assert again["schema"] == SCHEMA and len(again["results"]) == len(report["results"])
        assert all(t["identity"] for t in again["targets"]), label
        written = kubecert("baseline", "write", f"base-{label}.json", "--report", name, cwd=tmp_path)
        assert written.returncode == 0, f"{label}: {written.stderr}"
        assert json.loads((tmp_path / f"base-{label}.json").read_text())["accepted"], label


def test_the_schema_id_is_a_urn_of_this_version() -> None:
    schema = shipped()
    assert schema["$id"] == f"urn:kubecert:report:v{REPORT.major}.{REPORT.minor}"
    assert schema["properties"]["schema"]["pattern"] == REPORT.pattern
