"""Dates at the ends of the calendar: a run judged as of 9999-12-31 writes every report; an option out of range
is a usage error naming it; year 1 is written with four digits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reports.outputs import FORMATS

NAMES = sorted(fmt.file_name for fmt in FORMATS)


def kubecert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("at", ["9999-12-31", "9999-12-31T23:59:59Z", "0001-01-01"])
def test_a_run_judged_at_either_end_of_the_calendar_writes_every_report(tmp_path: Path, reference_tree: Any,
                                                                        at: str) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   "--at", at, "--min-remaining", "36500", "--output-dir", "out", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr  # expired, or not yet valid: failures, not a crash
    assert "Traceback" not in run.stdout + run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == NAMES
    assert "horizon +36500d" in (tmp_path / "out" / "kubecert.html").read_text()


@pytest.mark.parametrize(("options", "says"), [
    (["--min-remaining", "999999999"], "--min-remaining 999999999: at most 36500 days"),
    (["--min-remaining", "36501"], "--min-remaining 36501: at most 36500 days"),
    (["--at", "9999-12-31T23:59:59-01:00"], "--at '9999-12-31T23:59:59-01:00': in UTC that is outside the years"),
    (["--at", "0001-01-01T00:00:00+01:00"], "--at '0001-01-01T00:00:00+01:00': in UTC that is outside the years"),
])
def test_an_option_out_of_range_is_a_usage_error(tmp_path: Path, reference_tree: Any, options: list[str],
                                                 says: str) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", *options, "--output-dir", "out",
                   cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert says in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_profile_with_a_period_past_the_calendar_is_a_usage_error(tmp_path: Path, reference_tree: Any) -> None:
    (tmp_path / "p.yaml").write_text("extends: kubeadm\nleaf_days: 3000000\n")
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "p.yaml", cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "leaf_days must be a whole number from 0 to 36500, got 3000000" in run.stderr


def test_year_one_is_written_with_four_digits(tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                   "--at", "0001-01-01", "--json", "r.json", cwd=tmp_path)
    assert "from 0001-01-01 00:00:00 UTC" in run.stdout
    assert " 1-01-01" not in run.stdout


def test_a_timeline_over_the_whole_calendar_has_few_ticks_and_a_horizon_past_it() -> None:
    from kubecert.reports import timeline

    certificates = [{"name": "old", "path": "p", "is_ca": True, "not_before": "0001-01-01T00:00:00Z",
                     "not_after": "9999-12-31T23:59:59Z"}]
    drawn = timeline.build(certificates, "9999-12-31T00:00:00Z", 36500, set())
    assert drawn is not None
    assert 1 <= len(drawn.ticks) <= timeline.MAX_TICKS
    assert all(len(t.label) == 4 for t in drawn.ticks)
    horizon = drawn.marks[1]
    assert horizon.label == "horizon +36500d" and horizon.x == timeline.LABEL_WIDTH + timeline.PLOT  # the far end
