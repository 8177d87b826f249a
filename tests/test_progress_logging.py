"""Progress and warnings go through logging (the logger "kubecert"): kubecert's run shows them on its terminal
as ``[kubecert] LINE``, as it always did; pytest's live logging shows them when it is on, and then kubecert's
handler steps aside."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support import run_suite


def twice(pytester: pytest.Pytester, reference_tree: Any) -> tuple[str, str, list[str]]:
    """One folder named two ways (through a link): the second is said once as progress, and checked once."""
    (pytester.path / "link").symlink_to(reference_tree.root)
    first, second = f"pki:{reference_tree.root / 'pki'}", f"pki:{pytester.path / 'link' / 'pki'}"
    return first, second, ["--kubecert-target", first, "--kubecert-target", second,
                           "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-01"]


def test_a_run_shows_its_progress_on_the_terminal(pytester: pytest.Pytester, reference_tree: Any) -> None:
    first, second, args = twice(pytester, reference_tree)
    result, report = run_suite(pytester, *args)
    # Said while the targets are opened, before pytest's terminal exists: on stderr then (an xdist worker's too).
    said = [line for line in result.outlines + result.errlines if line.startswith("[kubecert] ")]
    assert said == [f"[kubecert] {second} is {first} ({first}); it is checked once, as {first}"], result.outlines
    assert len(report["results"]) == 1


# A test of the user's beside kubecert's checks, logging a line as a target's progress does.
LOGS_PROGRESS = """
import logging

def test_progress():
    logging.getLogger("kubecert").info("renewal: 2 of 3 machines, state Running")
"""


def test_progress_is_logged_for_pytest_to_capture_and_show_live(pytester: pytest.Pytester,
                                                               reference_tree: Any) -> None:
    pytester.makepyfile(test_mine=LOGS_PROGRESS)
    target = ["--kubecert-target", f"pki:{reference_tree.root / 'pki'}", "--kubecert-profile", "palette",
              "--kubecert-rule", "KC-VAL-01", "-p", "no:cacheprovider"]
    shown = pytester.runpytest("test_mine.py", *target)
    assert "[kubecert] renewal: 2 of 3 machines, state Running" in shown.outlines
    captured = pytester.runpytest("test_mine.py", *target, "-rP")  # the passed test's sections: its log
    assert any(line.startswith("INFO     kubecert:test_mine.py:") and line.endswith("machines, state Running")
               for line in captured.outlines), captured.outlines
    live = pytester.runpytest("test_mine.py", *target, "--log-cli-level=INFO")
    assert "[kubecert] renewal: 2 of 3 machines, state Running" not in live.outlines
    assert any(line.endswith("renewal: 2 of 3 machines, state Running") and "INFO" in line for line in live.outlines)


# A plugin of the user's (kubecert check --plugin) that logs a line while each check runs, as a renewal's wait does.
LOGS_WHILE_CHECKING = """
import logging

def pytest_runtest_call(item):
    logging.getLogger("kubecert").info("renewal: 2 of 3 machines, state Running")
"""


def checked_by_the_command(folder: Path, reference_tree: Any, *pytest_args: str) -> str:
    """What ``kubecert check -v`` shows, a plugin logging while each check runs; -rP asks pytest to show passed
    checks' sections (a "Captured log" section would be there)."""
    (folder / "logs_while_checking.py").write_text(LOGS_WHILE_CHECKING)
    run = subprocess.run(
        [sys.executable, "-m", "kubecert", "check", "-v", "--plugin", "logs_while_checking", "--json",
         str(folder / "r.json"), "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette",
         "--rule", "KC-VAL-01", "--", "-rP", *pytest_args],
        cwd=folder, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])},
        capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_the_command_shows_progress_once_as_it_always_did(tmp_path: Path, reference_tree: Any) -> None:
    said = checked_by_the_command(tmp_path, reference_tree)
    assert said.count("renewal: 2 of 3 machines, state Running") == 1, said
    assert "[kubecert] renewal: 2 of 3 machines, state Running" in said, said
    assert "Captured log" not in said, said


def test_the_commands_workers_keep_no_progress_for_a_captured_section(tmp_path: Path, reference_tree: Any) -> None:
    # What a worker says while a check runs does not reach the command's terminal (it did not before either).
    said = checked_by_the_command(tmp_path, reference_tree, "-n", "1")
    assert "1 passed" in said and "Captured log" not in said, said
