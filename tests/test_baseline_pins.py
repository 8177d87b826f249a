"""A baseline accepts what was observed, not whatever its offender shows later: a key accepted at 0640 is new
at 0666, a re-signed certificate is not the one accepted; an acceptance may carry a reason and expire; an
entry that matches nothing is said to be stale, on the terminal and in every report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import validated


def kubecert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})


def check(tree: Path, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    run = kubecert("check", "--target", f"pki:{tree / 'pki'}", "--profile", "palette", "-q", "--output-dir", "out",
                   *args, cwd=cwd)
    assert "Traceback" not in run.stdout + run.stderr
    return run, validated(json.loads((cwd / "out" / "kubecert.json").read_text()))


def loose_key(tree: Path, mode: int) -> None:
    os.chmod(tree / "pki" / "apiserver.key", mode)


def test_a_key_accepted_at_0640_is_a_new_failure_at_0666(reference_copy: Path, tmp_path: Path) -> None:
    loose_key(reference_copy, 0o640)
    first, _ = check(reference_copy, tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    written = kubecert("baseline", "write", "base.json", "--report", "out/kubecert.json", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    entry = next(e for e in json.loads((tmp_path / "base.json").read_text())["accepted"] if e["rule"] == "KC-FILE-01")
    assert "mode=0640" in entry["observed"]

    same, report = check(reference_copy, tmp_path, "--baseline", "base.json")
    assert same.returncode == 0, same.stdout
    assert report["baseline"]["stale"] == []

    loose_key(reference_copy, 0o666)
    worse, report = check(reference_copy, tmp_path, "--baseline", "base.json")
    assert worse.returncode == 1, worse.stdout
    file01 = next(r for r in report["results"] if r["rule"] == "KC-FILE-01")
    assert file01["status"] == "failed" and "accepted" not in file01
    [stale] = report["baseline"]["stale"]
    assert stale["rule"] == "KC-FILE-01" and stale["offender"].endswith("apiserver.key")
    assert "now shows mode=0666, owner=" in stale["why"] and "not mode=0640" in stale["why"]
    assert "STALE    KC-FILE-01" in worse.stdout and "now shows mode=0666" in worse.stdout
    assert "1 entries stale" in worse.stdout
    assert "entries stale: they matched nothing" in (tmp_path / "out" / "kubecert.html").read_text()


def test_an_entry_whose_offender_passes_again_is_stale(reference_copy: Path, tmp_path: Path) -> None:
    loose_key(reference_copy, 0o644)
    check(reference_copy, tmp_path)
    kubecert("baseline", "write", "base.json", "--report", "out/kubecert.json", "--reason", "ticket OPS-7",
             cwd=tmp_path)
    loose_key(reference_copy, 0o600)
    fixed, report = check(reference_copy, tmp_path, "--baseline", "base.json")
    assert fixed.returncode == 0, fixed.stdout
    [stale] = report["baseline"]["stale"]
    assert stale["why"] == "the offender does not fail any more (accepted because: ticket OPS-7)"


def test_an_acceptance_expires_as_of_the_date_judged(reference_copy: Path, tmp_path: Path) -> None:
    loose_key(reference_copy, 0o640)
    check(reference_copy, tmp_path)
    written = kubecert("baseline", "write", "base.json", "--report", "out/kubecert.json", "--expires", "2099-12-31",
                       cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert all(e["expires"] == "2099-12-31" for e in json.loads((tmp_path / "base.json").read_text())["accepted"])
    today, _ = check(reference_copy, tmp_path, "--baseline", "base.json")
    assert today.returncode == 0, today.stdout
    later, report = check(reference_copy, tmp_path, "--baseline", "base.json", "--at", "2100-01-01")
    assert later.returncode == 1
    assert [s["why"] for s in report["baseline"]["stale"]] == ["its acceptance expired on 2099-12-31"]
    bad = kubecert("baseline", "write", "b2.json", "--report", "out/kubecert.json", "--expires", "soon", cwd=tmp_path)
    assert bad.returncode == 3 and "'soon' is not a date like 2027-01-31" in bad.stderr


def test_a_baseline_written_before_pins_accepts_as_it_did_and_says_so(reference_copy: Path, tmp_path: Path) -> None:
    loose_key(reference_copy, 0o640)
    check(reference_copy, tmp_path)
    kubecert("baseline", "write", "base.json", "--report", "out/kubecert.json", cwd=tmp_path)
    document = json.loads((tmp_path / "base.json").read_text())
    old = {"schema": "kubecert.baseline/v1", "written_from": "x",
           "accepted": [{k: e[k] for k in ("rule", "target", "offender")} for e in document["accepted"]]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    loose_key(reference_copy, 0o666)
    run, report = check(reference_copy, tmp_path, "--baseline", "old.json")
    assert run.returncode == 0, run.stdout  # no pin: any failure of the offender is accepted, as before pins
    assert report["baseline"]["unpinned"] == len(old["accepted"])
    assert "baseline entries pin nothing of what was observed" in run.stdout


def test_a_re_signed_certificate_is_not_the_one_accepted() -> None:
    from kubecert.reports.baseline import Baseline, Entry, observation
    from kubecert.reports.results import Result, Status

    def failing(fingerprint: str) -> Result:
        evidence = [{"subject": "apiserver", "status": "failed", "detail": "400 days", "certificate": "apiserver",
                     "fingerprint_sha256": fingerprint}]
        return Result("KC-VAL-01", "pki:/x", Status.FAILED, "apiserver lives 400 days", evidence, "", "n")

    accepted = failing("aa" * 32)
    baseline = Baseline(Path("b.json"), [Entry("KC-VAL-01", "/x", "apiserver", observation(accepted, "apiserver"))])
    assert baseline.mark(accepted, {"identity": "/x"}).accepted is True
    fresh = Baseline(Path("b.json"), baseline.entries)
    assert fresh.mark(failing("bb" * 32), {"identity": "/x"}).accepted is None
    [stale] = fresh.stale()
    assert stale.why == f"the offender now shows fingerprint_sha256={'bb' * 32}, not fingerprint_sha256={'aa' * 32}"


def test_a_finding_without_a_fingerprint_or_a_mode_is_pinned_by_its_digest() -> None:
    from kubecert.reports.baseline import observation
    from kubecert.reports.results import Result, Status

    def failing(detail: str) -> Result:
        return Result("KC-INV-02", "pki:/x", Status.FAILED, "m", [{"subject": "apiserver", "status": "failed",
                                                                   "detail": detail}], "", "n")

    missing, empty = observation(failing("missing"), "apiserver"), observation(failing("empty file"), "apiserver")
    assert missing != empty and all(p.startswith("finding=sha256:") for p in (*missing, *empty))
    assert observation(failing("missing"), "apiserver") == missing
