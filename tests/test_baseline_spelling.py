"""A baseline names an offender relative to its target, so the same node checked from another folder, through a
linked folder, with a trailing slash or by its absolute path is judged by the same entries: file offenders (by
mode and owner), certificate offenders by fingerprint and a missing certificate (pinned by a digest of a finding
that names its path). Baselines written before (kubecert.baseline/v2, offenders as their run spelled them) still
match, but for a digest that holds a path as then spelled; the offenders such a file names are only ever
compared, never looked up on disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import audit
import pytest

from kubecert.reports.baseline import observation
from kubecert.reports.versions import BASELINE

# The reference tree is built to the palette profile: judged as kubeadm, its three CAs fail KC-VAL-02 (by
# fingerprint). A loose key fails KC-FILE-01 (mode and owner), a missing leaf KC-INV-02 (a digest of "PATH: missing").
FAILING = {"KC-FILE-01", "KC-INV-02", "KC-VAL-02"}


def kubecert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})


def check(target: str, cwd: Path, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    run = kubecert("check", "--target", f"pki:{target}", "--profile", "kubeadm", "-q", "--output-dir", str(out),
                   *args, cwd=cwd)
    assert "Traceback" not in run.stdout + run.stderr
    return run, json.loads((out / "kubecert.json").read_text())


@pytest.fixture
def site(reference_copy: Path, tmp_path: Path) -> Path:
    """A folder holding fleet/node-13 (the reference tree with three kinds of failure), a link to the node's
    folder (``link``) and a folder beside it (``elsewhere``)."""
    node = tmp_path / "site" / "fleet" / "node-13"
    node.parent.mkdir(parents=True)
    shutil.move(reference_copy, node)
    os.chmod(node / "pki" / "apiserver.key", 0o644)
    (node / "pki" / "front-proxy-client.crt").unlink()
    (tmp_path / "site" / "link").symlink_to(Path("fleet") / "node-13")
    (tmp_path / "site" / "elsewhere").mkdir()
    return tmp_path / "site"


def spellings(site: Path) -> list[tuple[Path, str]]:
    """(where the command runs, how it names the node's pki folder), none of them the way the baseline did."""
    return [(site / "elsewhere", "../fleet/node-13/pki"), (Path("/"), str(site / "fleet" / "node-13" / "pki")),
            (site, "link/pki"), (site, "fleet/node-13/pki/")]


def written(site: Path, target: str, cwd: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A baseline written from a run that named the node ``target`` from ``cwd``, and that run's report."""
    first, report = check(target, cwd, site / "first")
    assert first.returncode == 1, first.stdout + first.stderr
    assert {r["rule"] for r in report["results"] if r["status"] == "failed"} == FAILING
    made = kubecert("baseline", "write", "base.json", "--report", "first/kubecert.json", cwd=site)
    assert made.returncode == 0, made.stderr
    return json.loads((site / "base.json").read_text()), report


def accepted_by_spelling(site: Path, baseline: Path) -> dict[tuple[Path, str], set[str]]:
    """The rules whose failures the baseline accepts from each other spelling of the node's folder; a run that
    accepts them all exits 0."""
    accepted = {}
    for cwd, target in spellings(site):
        run, report = check(target, cwd, site / "again", "--baseline", str(baseline))
        rules = {r["rule"] for r in report["results"] if r.get("accepted")}
        assert run.returncode == (0 if rules == FAILING else 1), f"{target} from {cwd}:\n{run.stdout}"
        assert report["baseline"]["accepted"] == len(rules), target
        accepted[cwd, target] = rules
    return accepted


def test_a_baseline_written_from_one_folder_spelling_matches_from_every_other(site: Path) -> None:
    document, _ = written(site, "fleet/node-13/pki", site)
    assert document["schema"] == BASELINE.current == "kubecert.baseline/v3.0"
    offenders = {(e["rule"], e["offender"]) for e in document["accepted"]}
    assert offenders == {("KC-FILE-01", "pki/apiserver.key"), ("KC-INV-02", "front-proxy-client"),
                         ("KC-VAL-02", "ca"), ("KC-VAL-02", "front-proxy-ca"), ("KC-VAL-02", "etcd-ca")}
    assert all(rules == FAILING for rules in accepted_by_spelling(site, site / "base.json").values())
    _, report = check("link/pki", site, site / "again", "--baseline", "base.json")
    assert report["baseline"].get("stale", []) == []


def test_a_changed_offender_is_still_new_however_the_folder_is_named(site: Path) -> None:
    written(site, "fleet/node-13/pki", site)
    os.chmod(site / "fleet" / "node-13" / "pki" / "apiserver.key", 0o666)
    run, report = check("link/pki", site, site / "again", "--baseline", "base.json")
    assert run.returncode == 1
    [stale] = report["baseline"]["stale"]
    assert stale["offender"] == "pki/apiserver.key" and "now shows mode=0666" in stale["why"]


def spelled_as_before(report: dict[str, Any]) -> dict[str, Any]:
    """The kubecert.baseline/v2.0 file kubecert wrote from ``report`` before offenders were named below their
    target: each failing subject as the run spelled it, pinned with nothing renamed."""
    [target] = report["targets"]
    entries = [{"rule": r["rule"], "target": target["identity"], "offender": subject,
                "observed": list(observation(r, subject))}
               for r in report["results"] if r["status"] == "failed"
               for subject in sorted({e["subject"] for e in r["evidence"] if e["status"] == "failed"})]
    return {"schema": "kubecert.baseline/v2.0", "written_from": "first/kubecert.json", "accepted": entries}


@pytest.mark.parametrize("named", ["relative", "absolute"])
def test_a_baseline_written_before_v3_still_matches_from_every_spelling(site: Path, named: str) -> None:
    cwd, target = (site, "fleet/node-13/pki") if named == "relative" else (Path("/"), str(site / "fleet/node-13/pki"))
    _, report = written(site, target, cwd)
    old = spelled_as_before(report)
    spelled = {e["offender"] for e in old["accepted"] if e["rule"] == "KC-FILE-01"}
    assert spelled == {f"{target}/apiserver.key"}
    (site / "old.json").write_text(json.dumps(old))
    same, _ = check(target, cwd, site / "again", "--baseline", str(site / "old.json"))
    assert same.returncode == 0, same.stdout
    # Files and certificates by fingerprint match from any spelling. A finding pinned by its digest (a missing
    # leaf: "PATH: missing") was digested with the path as that run spelled it: from another spelling it is new,
    # and the stale entry says to write the baseline again. A trailing slash spells the path the same.
    for (other_cwd, other), rules in accepted_by_spelling(site, site / "old.json").items():
        same_spelling = other.rstrip("/") == target and (named == "absolute" or other_cwd == cwd)
        assert rules == (FAILING if same_spelling else FAILING - {"KC-INV-02"}), (other_cwd, other)
    _, report = check("link/pki", site, site / "again", "--baseline", "old.json")
    [stale] = report["baseline"]["stale"]
    assert stale["rule"] == "KC-INV-02" and "write the baseline again" in stale["why"]


def test_offenders_an_old_baseline_names_are_compared_never_opened(site: Path) -> None:
    """A v2 file's offenders are spelled paths from an unknown folder: kubecert compares them with what the run
    found and never looks them up, wherever they point and however long they are."""
    bait = site / "bait"
    bait.write_text("not for kubecert")
    _, report = written(site, "fleet/node-13/pki", site)
    identity = report["targets"][0]["identity"]
    hostile = [str(bait), "../" * 2000 + "etc/shadow", "/proc/self/mem", "a/" * 200_000 + "apiserver.key",
               "link/../../../bait", "pki/../../bait", ""]
    old = {"schema": "kubecert.baseline/v2.0", "written_from": "x", "accepted": [
        {"rule": "KC-FILE-01", "target": identity, "offender": offender} for offender in hostile]}
    (site / "old.json").write_text(json.dumps(old))
    with audit.opens_of([bait]) as opened:
        run, seen = audit.run_audited(["check", "--target", "pki:link/pki", "--profile", "kubeadm", "-q",
                                       "--output-dir", "again", "--baseline", "old.json"], cwd=site)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert "0 failures accepted, 3 new" in run.stdout
    assert opened == []
    assert seen.writes_outside([site / "again"]) == [] and seen.processes == []
