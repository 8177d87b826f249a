"""The renewal checks through the plugin on ``pki:`` targets that act through the user's commands: the
disruptive gate, the judgement of a renewal made by another renewer, the report, timeouts and mistakes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from kubecert.capabilities import Action
from kubecert.reference.pki import FreshKeys
from kubecert.reference.pki.renew import renew
from kubecert.rules import get
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.lock import LockTimeout, target_lock

from nodes import NODE_RULES, checksums
from support import read_report, result_for, statuses
from support import run_suite as run_plugin

RENEWAL_RULES = NODE_RULES
DISRUPTIVE = sorted(set(RENEWAL_RULES) - {"KC-CHK-01"})
RENEW_ALL_RULES = sorted(rule for rule in RENEWAL_RULES if get(rule).action is Action.RENEW_ALL)
# The reference implementation's verbs, as a user would give them for a node (its light entry point).
REFERENCE = f"{shlex.quote(sys.executable)} -m kubecert reference pki"


def node_commands(fault: str = "") -> list[str]:
    """Every action option, done by the reference implementation's commands."""
    renew_fault = f" --fault {fault}" if fault else ""
    return [
        "--kubecert-renew-command", f"{REFERENCE} renew all --dir {{kubeconfig_dir}}{renew_fault}",
        "--kubecert-renew-one-command", f"{REFERENCE} renew {{name}} --dir {{kubeconfig_dir}}",
        "--kubecert-csr-command", f"{REFERENCE} generate-csr --dir {{kubeconfig_dir}} --csr-dir {{csr_dir}}",
        "--kubecert-check-expiration-command", f"{REFERENCE} check-expiration --dir {{kubeconfig_dir}} -o json",
        "--kubecert-upgrade-command",
        f"{REFERENCE} upgrade --dir {{kubeconfig_dir}} --certificate-renewal={{certificate_renewal}}",
    ]


def run_suite(pytester: pytest.Pytester, root: Path, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    return run_plugin(pytester, "-p", "no:randomly", "--kubecert-target", f"pki:{root / 'pki'}",
                      "--kubecert-profile", "palette", *args)


def test_without_the_opt_in_nothing_changes(pytester: pytest.Pytester, node: Path) -> None:
    before = checksums(node)
    run, report = run_suite(pytester, node, *node_commands())
    assert checksums(node) == before
    found = statuses(report)
    assert {found[rule] for rule in DISRUPTIVE} == {"skipped"}
    assert "changes the target; pass --allow-disruptive to run it" in result_for(report, "KC-REN-01")["message"]
    assert found["KC-CHK-01"] == "passed"  # listing expirations changes nothing
    assert "failed" not in found.values() and "error" not in found.values()
    assert run.ret == 0


def test_the_reference_renewer_passes_and_read_only_checks_saw_the_node_as_found(
    pytester: pytest.Pytester, node: Path
) -> None:
    apiserver = (node / "pki" / "apiserver.crt").read_bytes()
    run, report = run_suite(pytester, node, *node_commands(), "--kubecert-allow-disruptive", "-v")
    found = statuses(report)
    assert found.pop("KC-REN-07") == "not_applicable"
    assert {found[rule] for rule in RENEWAL_RULES if rule in found} == {"passed"}, report["results"]
    # Disruptive checks ran last: every read-only check judged the certificates from before the renewal.
    order = [line.split("::")[1].split("[")[0] for line in run.outlines if "::" in line and "PASSED" in line]
    first_disruptive = min(order.index(name) for name in ("KC-REN-01", "KC-UPG-01"))
    assert order.index("KC-VAL-01") < first_disruptive and order.index("KC-VAL-02") < first_disruptive
    # A certificate that passed is named by its fingerprint; its dates are in the target's certificates.
    shown = {c["fingerprint_sha256"]: c for t in report["targets"] for c in t["certificates"]}
    validity = {e["subject"]: {**shown[e["fingerprint_sha256"]], **e}
                for e in result_for(report, "KC-VAL-01")["evidence"]}
    assert (node / "pki" / "apiserver.crt").read_bytes() != apiserver
    assert validity["apiserver"]["not_before"] < (dt.datetime.now(dt.UTC) - dt.timedelta(days=99)).isoformat()
    action = result_for(report, "KC-REN-01")["evidence"][0]
    assert action["action"] == "renew all" and action["exit_code"] == 0
    assert action["command"].endswith(f"renew all --dir {node}")
    assert "PRIVATE KEY" not in json.dumps(report)


def test_a_renewal_by_another_renewer_is_judged_the_same(pytester: pytest.Pytester, node: Path,
                                                         tmp_path: Path) -> None:
    # The same node renewed another way, ahead of time (in-process), and a command that swaps it in.
    renewed = tmp_path / "renewed"
    shutil.copytree(node, renewed)
    renew(renewed, "all", keys=FreshKeys(), now=dt.datetime.now(dt.UTC))
    swap = tmp_path / "swap_in.py"
    swap.write_text(textwrap.dedent(f"""
        import shutil, sys
        from pathlib import Path
        source, target = Path({str(renewed)!r}), Path(sys.argv[1])
        for path in sorted(source.rglob("*")):
            if path.is_file():
                shutil.copy2(path, target / path.relative_to(source))
        print("swapped in a renewed tree")
    """))
    mine = tmp_path / "mine"
    shutil.copytree(node, mine)
    _, swapped = run_suite(pytester, node, "--kubecert-allow-disruptive", "--kubecert-rule", "KC-REN-*",
                           "--kubecert-renew-command", f"{shlex.quote(sys.executable)} {swap} {{kubeconfig_dir}}")
    _, reference = run_suite(pytester, mine, "--kubecert-allow-disruptive", "--kubecert-rule", "KC-REN-*",
                             *node_commands())
    judged = {rule: statuses(swapped)[rule] for rule in RENEW_ALL_RULES}
    assert judged == {rule: statuses(reference)[rule] for rule in RENEW_ALL_RULES}
    assert set(judged.values()) == {"passed", "not_applicable"}

    def renewed_subjects(report: dict[str, Any]) -> set[str]:
        evidence = result_for(report, "KC-REN-04")["evidence"]
        return {e["subject"] for e in evidence if e["status"] == "passed" and not e["subject"].startswith("action")}

    assert renewed_subjects(swapped) == renewed_subjects(reference) and len(renewed_subjects(swapped)) == 11
    action = result_for(swapped, "KC-REN-01")["evidence"][0]  # what ran and how much it said; its words only on failure
    assert action["stdout_bytes"] == len("swapped in a renewed tree\n") and "stdout_tail" not in action
    skipped = result_for(swapped, "KC-REN-05")
    assert skipped["status"] == "skipped" and "give --renew-one-command" in skipped["message"]


def test_a_faulty_renewer_fails_in_the_report(pytester: pytest.Pytester, node: Path) -> None:
    run, report = run_suite(pytester, node, "--kubecert-allow-disruptive", "--kubecert-rule", "KC-REN-0[1-4]",
                            *node_commands(fault="dropped-san"))
    assert statuses(report) == {"KC-REN-01": "passed", "KC-REN-02": "failed", "KC-REN-03": "passed",
                                "KC-REN-04": "passed"}
    entry = next(e for e in result_for(report, "KC-REN-02")["evidence"] if e["status"] == "failed")
    assert entry["subject"] == "apiserver"
    assert "kubernetes.default" in entry["changed"]["DNS SANs"]["before"]
    assert "kubernetes.default" not in entry["changed"]["DNS SANs"]["after"]
    assert entry["before"]["fingerprint_sha256"] != entry["after"]["fingerprint_sha256"]
    assert run.ret == pytest.ExitCode.TESTS_FAILED


def test_a_command_that_hangs_is_stopped_and_reported(pytester: pytest.Pytester, node: Path) -> None:
    started = dt.datetime.now(dt.UTC)
    _, report = run_suite(pytester, node, "--kubecert-allow-disruptive", "--kubecert-rule", "KC-REN-01",
                          "--kubecert-renew-command", f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(60)'",
                          "--kubecert-action-timeout", "1")
    assert dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=30)
    found = result_for(report, "KC-REN-01")
    assert found["status"] == "error" and "timed out after 1s and was stopped" in found["message"]


def test_a_command_that_is_not_there_is_an_error_without_traceback(pytester: pytest.Pytester, node: Path) -> None:
    run, report = run_suite(pytester, node, "--kubecert-allow-disruptive", "--kubecert-rule", "KC-REN-01",
                            "--kubecert-renew-command", "/nonexistent/kubeadm certs renew all")
    found = result_for(report, "KC-REN-01")
    assert found["status"] == "error" and "could not start '/nonexistent/kubeadm'" in found["message"]
    assert "Traceback" not in run.stdout.str()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kubecert-renew-one-command", "kubeadm certs renew apiserver"], "must use {name}"),
        (["--kubecert-upgrade-command", "kubeadm upgrade node"], "must use {certificate_renewal}"),
        (["--kubecert-csr-command", "kubeadm certs renew all --csr-only"], "must use {csr_dir}"),
        (["--kubecert-renew-command", "kubeadm 'unclosed"], "No closing quotation"),
        (["--kubecert-renew-command", "true", "--kubecert-action-timeout", "soon"], "--action-timeout 'soon'"),
    ],
)
def test_command_mistakes_are_usage_errors(pytester: pytest.Pytester, node: Path, args: list[str],
                                           words: str) -> None:
    run = pytester.runpytest("--pyargs", "kubecert.conformance", "-p", "no:cacheprovider",
                             "--kubecert-target", f"pki:{node / 'pki'}", *args)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert words in run.stderr.str() and "Traceback" not in run.stderr.str()


def test_forced_load_distribution_still_acts_one_at_a_time(pytester: pytest.Pytester, node: Path) -> None:
    # --dist load spreads one target's checks over both workers; the target lock serialises the actions.
    run, report = run_suite(pytester, node, "-n", "2", "--dist", "load", "--kubecert-allow-disruptive",
                            "--kubecert-rule", "KC-REN-0[1-4]", "--kubecert-rule", "KC-VAL-0[12]",
                            *node_commands())
    assert set(statuses(report).values()) == {"passed"}, report["results"]
    assert run.ret == 0


def test_the_target_lock_keeps_other_processes_out(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from kubecert.targets.lock import target_lock
        with target_lock({str(tmp_path)!r}, shared=False, timeout=5):
            print("held", flush=True)
            time.sleep(1.5)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockTimeout, match="kept the target busy"), \
                target_lock(str(tmp_path), shared=True, timeout=0.2):
            pass
        started = time.monotonic()
        with target_lock(str(tmp_path), shared=True, timeout=10):  # waits for the holder to finish
            assert time.monotonic() - started > 0.5
    finally:
        holder.wait(timeout=10)


def test_kubecert_check_without_a_target_renews_the_reference(tmp_path: Path) -> None:
    """`kubecert check` on the embedded reference: both control-plane nodes pass every renewal rule."""
    families = ["--rule", "KC-REN-*", "--rule", "KC-CSR-*", "--rule", "KC-CHK-*", "--rule", "KC-UPG-*"]
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", *families], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    report = read_report(tmp_path / "reports" / "kubecert.json")
    by_target: dict[str, dict[str, str]] = {}
    for entry in report["results"]:
        by_target.setdefault(entry["target"], {})[entry["rule"]] = entry["status"]
    assert by_target["reference:pki"] == {rule: "not_applicable" if rule == "KC-REN-07" else "passed"
                                          for rule in RENEWAL_RULES}
    assert by_target["reference:pki-external-ca"] == dict.fromkeys(RENEWAL_RULES, "passed")


def test_the_lock_folder_is_private_and_goes_with_its_last_lock(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    folder = tmp_path / f"kubecert-locks-{os.getuid()}"
    with target_lock("pki:/x", shared=True, timeout=1), target_lock("pki:/y", shared=False, timeout=1):
        assert oct(folder.stat().st_mode & 0o777) == "0o700" and len(list(folder.iterdir())) == 2
    assert not folder.exists()
    folder.mkdir(mode=0o755)  # left loose by someone else: its files could redirect our locks
    folder.chmod(0o755)
    with pytest.raises(TargetUnavailable, match="is not a private folder of this user"), \
            target_lock("pki:/x", shared=True, timeout=1):
        pass
