"""What `kubecert check` prints: a line per rule and target, a summary, skips folded, an error once."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubecert.pytest_plugin.folding import QUERY_WIDTH, Folded, label, legend
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
    skip_lines = [line for line in run.stdout.splitlines() if line.startswith("skipped:")]
    assert skip_lines == [f"skipped: 11 checks (11 rules, KC-CHK-01 … KC-UPG-01 on {label(target)}): they need "
                          "--check-expiration-command, --renew-command, --renew-one-command, --csr-command, "
                          "--upgrade-command"]
    assert not any(LINE.match(line) for line in run.stdout.splitlines())  # -q: no lines for passes
    assert re.search(rf"^{re.escape(label(target))}\s+30\s+0\s+0\s+11\s+0\s+0$", run.stdout, re.M), run.stdout
    assert run.stdout.splitlines()[-1].startswith("30 passed, 11 skipped, exit 0 (no rule failed) in ")


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
                               _skipped("KC-UPG-01", "no upgrade", "--upgrade-profile"),
                               _skipped("KC-REN-07", "no CA is external"), _skipped("KC-X", "no CA is external"),
                               # an option in a message's prose is not one the check needs
                               _skipped("KC-Y", "the target said: give --something")]
    assert folded.skip_lines() == [
        "skipped: 3 checks (KC-REN-01, KC-REN-02, KC-UPG-01 on pki:/x): they need --renew-command, "
        "--allow-disruptive, --upgrade-profile",
        "skipped: 2 checks (KC-REN-07, KC-X on pki:/x): no CA is external",
        "skipped: 1 check (KC-Y on pki:/x): the target said: give --something"]


def test_the_same_reason_on_many_rules_and_targets_is_one_line() -> None:
    """A fleet of a thousand nodes without --check-expiration-command, or of workers that no control-plane rule
    concerns: one line per reason, not one per rule and target."""
    folded = Folded()
    for n in range(5):
        target = f"pki:/n{n}"
        folded.skips[target].append(_skipped("KC-CHK-01", "cannot list", "--check-expiration-command"))
        for rule in ("KC-INV-01", "KC-VAL-01"):
            result, _ = _skipped(rule, f"{rule} concerns control-plane nodes; {target} is a worker node")
            folded.skips[target].append((dataclasses.replace(result, target=target, status=Status.NOT_APPLICABLE), ()))
    assert folded.skip_lines() == [
        "skipped: 5 checks (KC-CHK-01 on 5 targets, pki:/n0 … pki:/n4): they need --check-expiration-command",
        "not applicable: 10 checks (KC-INV-01, KC-VAL-01 on 5 targets, pki:/n0 … pki:/n4): each rule concerns "
        "control-plane nodes; each target is a worker node"]


def test_a_long_target_gets_a_short_label_that_says_what_it_stands_for() -> None:
    one = "palette:https://api.palette.example.com?cluster=6502a7e61e2a4d0c0a1b2c3d&project=5f8e1a2b3c4d5e6f7a8b9c0d"
    other = one.replace("6502a7e6", "77777777")
    assert len(label(one)) <= QUERY_WIDTH + 11 and label(one) != label(other)  # ids that differ in the middle too
    assert label(one).startswith("palette:https://api.palette.example.com?…")
    assert label("pki:/etc/kubernetes/pki") == "pki:/etc/kubernetes/pki"
    assert legend([one, "pki:/x"]) == [f"{label(one)} = {one}"]


def test_a_fleet_of_workers_fits_in_forty_lines_and_ends_with_kubecerts_count(
        tmp_path: Path, reference_tree: Any, reference_worker: Any) -> None:
    targets = ["--target", f"pki:{reference_tree.root / 'pki'}"]
    for n in range(17):
        shutil.copytree(reference_worker.root, tmp_path / f"w{n}", symlinks=True)
        targets += ["--target", f"pki:w{n}/pki"]
    for mode in ((), ("--fleet",)):
        run = check(*targets, "--profile", "palette", "-q", *mode, cwd=tmp_path, env={"NO_COLOR": "1"})
        assert run.returncode == 0, run.stdout + run.stderr
        lines = run.stdout.splitlines()
        assert len(lines) < 40, run.stdout
        assert sum(line.startswith("not applicable: ") for line in lines) == 1, run.stdout
        report = json.loads((tmp_path / "reports" / "kubecert.json").read_text())
        summary = report["summary"]
        closing = (f"{summary['passed']} passed, {summary['skipped']} skipped, {summary['not_applicable']} not "
                   "applicable, exit 0 (no rule failed) in ")
        assert lines[-1].startswith(closing), lines[-1]


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


def test_a_baseline_run_ends_with_a_count_that_agrees_with_its_exit_code(tmp_path: Path, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    first = check("--target", target, "--profile", "kubeadm", "-q", cwd=tmp_path)
    assert first.returncode == 1
    assert first.stdout.splitlines()[-1].startswith("29 passed, 1 failed, 11 skipped, exit 1 (a rule failed) in ")
    written = subprocess.run([sys.executable, "-m", "kubecert", "baseline", "write", "base.json", "--report",
                              "reports/kubecert.json"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert written.returncode == 0, written.stderr
    gated = check("--target", target, "--profile", "kubeadm", "--baseline", "base.json", "-q", cwd=tmp_path)
    assert gated.returncode == 0, gated.stdout
    assert gated.stdout.splitlines()[-1].startswith(
        "29 passed, 1 failed (1 accepted by the baseline), 11 skipped, exit 0 (every failure is accepted by the "
        "baseline) in ")
    plain = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "kubecert.conformance", "-q", "-p",
                            "no:cacheprovider", "--kubecert-target", target, "--kubecert-profile", "kubeadm",
                            "--kubecert-baseline", "base.json"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, check=False)
    # plain pytest keeps pytest's count and exit code (items), and says kubecert's in kubecert's section
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert "kubecert: 29 passed, 1 failed (1 accepted by the baseline), 11 skipped" in plain.stdout.splitlines()
    assert plain.stdout.splitlines()[-1].startswith("1 failed, 29 passed, 11 skipped in ")
