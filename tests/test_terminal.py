"""What `kubecert check` prints: a line per rule and target, a summary, skips folded, an error once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubecert.pytest_plugin.terminal import FOLDED_TARGETS, Folded
from kubecert.reports.results import Result, Status

from support import validate_every_report

LINE = re.compile(r"^(pass|FAIL|ERROR|ACCEPTED)\s+(KC-[A-Z0-9]+-\d{2})\s+(\S+)\s+(.*)$")


def check(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", *args], cwd=cwd, capture_output=True,
                         text=True, timeout=300, check=False, env={**os.environ, **(env or {})})
    validate_every_report(cwd)
    return run


def test_one_line_per_rule_and_target_with_the_first_offender(tmp_path: Path, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    run = check("--target", target, "--profile", "kubeadm", cwd=tmp_path, env={"NO_COLOR": "1"})
    assert run.returncode == 1, run.stdout + run.stderr
    lines = [m.groups() for m in map(LINE.match, run.stdout.splitlines()) if m]
    judged = [(rule, where) for _, rule, where, _ in lines]
    assert len(judged) == len(set(judged)) == 30  # every read-only check once, the kubelet's included; skips folded
    failed = [line for line in lines if line[0] == "FAIL"]
    assert failed == [("FAIL", "KC-VAL-02", target,
                       "ca: valid 3652d 0h 5m, expected 3650d (+ up to 5m backdate): 3652 days is the palette "
                       "profile's CA lifetime; if the platform is palette's, check with --profile palette (+2 more)")]
    assert "::" not in run.stdout and "plugin.py" not in run.stdout  # no test ids, no plugin locations
    assert "\x1b[" not in run.stdout  # not a terminal, and NO_COLOR: no colour


def test_expected_skips_fold_into_one_line_naming_the_options(tmp_path: Path, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    run = check("--target", target, "--profile", "palette", "-q", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    skip_lines = [line for line in run.stdout.splitlines() if "skipped" in line and line.startswith(target)]
    assert skip_lines == [f"{target}: 11 checks skipped; they need --check-expiration-command, --renew-command, "
                          "--renew-one-command, --csr-command, --upgrade-command"]
    assert not any(LINE.match(line) for line in run.stdout.splitlines())  # -q: no lines for passes
    assert re.search(rf"^{re.escape(target)}\s+30\s+0\s+0\s+11\s+0\s+0$", run.stdout, re.M), run.stdout


def test_a_wrong_path_is_said_once(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "pki"
    run = check("--target", f"pki:{missing}", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stdout.count(f"the folder {missing} does not exist") == 1, run.stdout
    assert "25 checks could not run" in run.stdout


def test_verbose_gives_pytests_own_lines(tmp_path: Path, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    run = check("--target", target, "--profile", "palette", "-v", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"test_rules.py::KC-VAL-01[{target}] PASSED" in run.stdout


def test_every_failure_comes_with_its_fix(tmp_path: Path, reference_tree: Any) -> None:
    run = check("--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "kubeadm", "-q", cwd=tmp_path)
    assert "    fix: Judge with the profile that made the CAs" in run.stdout


def _skipped(rule: str, message: str, *options: str) -> tuple[Result, tuple[str, ...]]:
    return (Result(rule=rule, target="pki:/x", status=Status.SKIPPED, message=message, evidence=[], citation="",
                   nodeid=rule), options)


def test_skips_without_an_option_to_give_are_folded_by_reason() -> None:
    folded = Folded()
    folded.skips["pki:/x"] += [_skipped("KC-REN-01", "pki:/x cannot offer renew", "--renew-command"),
                               _skipped("KC-REN-02", "KC-REN-02 changes the target", "--allow-disruptive"),
                               _skipped("KC-UPG-01", "no upgrade", "--upgrade-profile", "--upgrade-version"),
                               _skipped("KC-REN-07", "no CA is external"), _skipped("KC-X", "no CA is external"),
                               # an option in a message's prose is not one the check needs
                               _skipped("KC-Y", "the target said: give --something")]
    assert folded.skip_lines() == [
        "pki:/x: 3 checks skipped; they need --renew-command, --allow-disruptive, --upgrade-profile, "
        "--upgrade-version",
        "pki:/x: 2 checks skipped: no CA is external", "pki:/x: 1 check skipped: the target said: give --something"]


def test_the_same_skip_on_many_targets_is_one_line() -> None:
    """A fleet of a thousand nodes without --check-expiration-command: one line, not a thousand."""
    folded = Folded()
    for n in range(FOLDED_TARGETS + 2):
        folded.skips[f"pki:/n{n}"].append(_skipped("KC-CHK-01", "cannot list", "--check-expiration-command"))
    folded.skips["pki:/other"].append(_skipped("KC-EXT-01", "no CA is external"))
    assert folded.skip_lines() == [
        f"{FOLDED_TARGETS + 2} targets (pki:/n0, ...): 1 check skipped; they need --check-expiration-command each",
        "pki:/other: 1 check skipped: no CA is external"]


def run_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What ``kubecert check`` prints when its output is a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "PY_COLORS")}
    process = subprocess.Popen([sys.executable, "-m", "kubecert", "check", *args], cwd=cwd, stdin=follower,
                               stdout=follower, stderr=follower, env={**clean, "TERM": "xterm", **env})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_colour_on_a_terminal_and_none_with_no_color(tmp_path: Path, reference_tree: Any) -> None:
    args = ["--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "kubeadm", "-q"]
    coloured = run_on_a_terminal(args, tmp_path, {})
    assert "\x1b[31m" in coloured and "FAIL" in coloured  # the failure in red
    plain = run_on_a_terminal(args, tmp_path, {"NO_COLOR": "1"})
    assert "FAIL" in plain and "\x1b[" not in plain


def test_a_multi_line_error_shows_as_lines_and_a_targets_line_break_stays_escaped(
        tmp_path: Path, reference_copy: Path) -> None:
    """An error said once keeps its own line breaks, its further lines indented under the first; a file name that
    holds a line break (the target's text) is shown escaped on its one line, so it cannot forge a line."""
    pki = reference_copy / "pki"
    (pki / "front-proxy-client.crt").write_bytes(b"\0" * (2 << 20))  # past the 1 MiB bound: an error, not a verdict
    forged = pki / "stray\nFAILED nothing: ALL PASSED.key"
    forged.write_bytes(b"not a key")
    forged.chmod(0o644)  # a key file readable by all: KC-FILE-01 names it
    run = check("--target", f"pki:{pki}", "--rule", "KC-INV-02", "--rule", "KC-FILE-01", cwd=tmp_path,
                env={"NO_COLOR": "1"})
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith(f"ERROR pki:{pki}: "))
    assert lines[head] == f"ERROR pki:{pki}: 1 could not be checked of 7 checked (KC-INV-02 could not run)"
    said = f"      ERROR front-proxy-client: could not be read: {pki}/front-proxy-client.crt"
    assert lines[head + 1].startswith(said)  # under the first line, as a failure's lines are
    assert "\\x0a  ERROR" not in run.stdout  # kubecert's own line break is a line break
    named = [line for line in lines if "stray" in line]
    assert named and all("stray\\x0aFAILED nothing: ALL PASSED.key" in line for line in named), named
    assert not any(line.startswith(("FAILED nothing", "    FAILED nothing")) for line in lines)
