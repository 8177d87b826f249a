"""The `kubecert` command as users and CI run it: exit codes, reports, the rule list."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.rules import all_rules

from support import validated


def kubecert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def read_report(cwd: Path) -> dict[str, Any]:
    return validated(json.loads((cwd / "reports" / "kubecert.json").read_text()))


def test_check_passes_a_good_tree_and_writes_every_report(tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("kubecert.json", "kubecert.html", "kubecert-junit.xml"):
        assert (tmp_path / "reports" / name).stat().st_size > 0
    report = read_report(tmp_path)
    assert report["summary"]["failed"] == report["summary"]["error"] == 0
    assert "kubecert_rule" in (tmp_path / "reports" / "kubecert-junit.xml").read_text()


def test_a_failed_rule_exits_1(tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "kubeadm", "-q",
                   cwd=tmp_path)
    assert run.returncode == 1
    assert read_report(tmp_path)["summary"]["failed"] == 1  # KC-VAL-02: 3652-day CAs under kubeadm's 3650


@pytest.mark.parametrize(("profile", "fits"), [("kubeadm", "palette"), ("days.yaml", "palette"),
                                               ("no-backdate.yaml", None)])
def test_cas_of_another_builtin_profile_are_said_to_fit_it(tmp_path: Path, reference_tree: Any, profile: str,
                                                           fits: str | None) -> None:
    """The reference tree's CAs are palette's 3652 days, backdated 5 minutes: judged as kubeadm (3650) or by a
    profile of 1000 days, each failure says so and names the profile to check with; judged as palette allowing
    no backdate, no other built-in fits and none is named."""
    (tmp_path / "days.yaml").write_text("ca_days: 1000\n")
    (tmp_path / "no-backdate.yaml").write_text("extends: palette\nbackdate_seconds: 0\n")
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", profile, "-q",
                   "--rule", "KC-VAL-02", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    [result] = read_report(tmp_path)["results"]
    failing = [e for e in result["evidence"] if e["status"] == "failed"]
    assert sorted(e["subject"] for e in failing) == ["ca", "etcd-ca", "front-proxy-ca"]
    assert all(e.get("fits_profile") == fits for e in failing)
    hint = "3652 days is the palette profile's CA lifetime; if the platform is palette's, check with --profile palette"
    assert all((hint in e["detail"]) == (fits is not None) for e in failing)
    assert (hint in run.stdout) == (fits is not None)


def test_a_check_that_cannot_run_exits_2(tmp_path: Path) -> None:
    run = kubecert("check", "--target", "pki:/nonexistent/kubecert", "-q", cwd=tmp_path)
    assert run.returncode == 2
    assert "Traceback" not in run.stdout + run.stderr
    # Every check that can run errors; those the folder could never offer (actions, an API) are skipped.
    assert {r["status"] for r in read_report(tmp_path)["results"]} == {"error", "skipped"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["check", "--target", "ftp:/x"], "unknown target kind 'ftp'"),
        (["check", "--profile", "no-such-profile"], "neither a built-in profile"),
        (["check", "--at", "someday"], "expected a date like"),
        (["check", "--target", "pki:/x?colour=red"], "unknown option 'colour=red'"),
        (["check", "--no-such-flag"], "unrecognized arguments"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_usage_errors_exit_3_with_a_clear_message(tmp_path: Path, args: list[str], words: str) -> None:
    run = kubecert(*args, cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert words in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_rules_lists_the_whole_catalog(tmp_path: Path) -> None:
    run = kubecert("rules", cwd=tmp_path)
    assert run.returncode == 0
    for rule in all_rules():
        assert rule.id in run.stdout
    listed = json.loads(kubecert("rules", "--json", cwd=tmp_path).stdout)
    assert [r["id"] for r in listed["rules"]] == [r.id for r in all_rules()]
    assert {"PAL", "KADM", "K8S", "CIS"} <= set(listed["sources"])
    assert all("implemented" in r for r in listed["rules"])
