"""``kubecert reference cluster serve``: serves until SIGTERM, reuses its folder, refuses bad usage with one
line and exit code 3, and is made to the profile ``kubecert check`` judges its kubeconfig by."""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubecert.cli import EXIT_USAGE, main
from kubecert.reference.kube import FAULTS, ReferenceCluster

from reader_support import create_all, rbac_documents
from support import run_check, with_signals

READY_TIMEOUT_S = 30.0


def _serve(folder: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the command and read its announcement up to "ready"."""
    command = [sys.executable, "-m", "kubecert", "reference", "cluster", "serve", "--dir", str(folder), *extra]
    # With SIGINT at its default whatever this worker inherited: the command keeps an ignored one ignored.
    process = subprocess.Popen(with_signals(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    received: queue.Queue[str] = queue.Queue()
    # A thread reads the output, so waiting for a line can time out.
    threading.Thread(target=lambda: [received.put(line) for line in process.stdout or ()], daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not (lines and lines[-1].startswith("ready")):
        try:
            lines.append(received.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n"))
        except queue.Empty:
            process.kill()
            process.wait(5)
            errors = process.stderr.read() if process.stderr else ""
            pytest.fail(f"no ready line within {READY_TIMEOUT_S} s: {lines} {errors}")
    return process, lines


def _stop(process: subprocess.Popen[str], signal_number: int = signal.SIGTERM) -> int:
    process.send_signal(signal_number)
    try:
        return process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_announces_serves_and_stops_on_sigterm(tmp_path: Path,
                                                     https_for: Callable[[ReferenceCluster], Any]) -> None:
    folder = tmp_path / "cluster"
    process, lines = _serve(folder, "--encryption-algorithm", "ECDSA-P256", "--workers", "1")
    try:
        url = re.fullmatch(r"kubecert reference cluster serving at (https://127\.0\.0\.1:\d+)", lines[0])
        assert url is not None
        assert lines[1] == f"admin kubeconfig: {(folder / 'admin.conf').resolve()}"
        assert sum(line.startswith("control-plane node cp-") for line in lines) == 3
        assert "workers: worker-1" in lines
        etcd = "etcd from PATH" if shutil.which("etcd") else "a stand-in (no etcd on PATH)"
        assert f"etcd: {etcd}, one member a control-plane node" in lines
        cluster = ReferenceCluster(folder)
        https = https_for(cluster)
        nodes = https.call(url.group(1), "/api/v1/nodes", client=https.admin()).json()
        assert [n["metadata"]["name"] for n in nodes["items"]] == ["cp-1", "cp-2", "cp-3", "worker-1"]
        assert (folder / "admin.conf").stat().st_mode & 0o777 == 0o600
    finally:
        assert _stop(process) == 0
    uid = cluster.info.uid
    again, lines = _serve(folder, "--port", "0")  # the same folder: the same cluster
    try:
        assert f"cluster reference-cluster uid {uid} namespace cluster-{uid}" in lines
    finally:
        assert _stop(again) == 0


@pytest.mark.parametrize(("arguments", "message"), [
    (["--fault", "nope"], "unknown fault 'nope'; known faults: kubeconfig-other-ca, "),
    ([], "--dir is required"),
    (["--port", "70000"], "--port 70000 is not a port"),
    (["--control-planes", "0"], "control-plane nodes must be 1 to 9"),
    (["--encryption-algorithm", "DSA"], "unknown encryption algorithm 'DSA'"),
    (["--profile", "cis"], "unknown profile 'cis'; expected one of kubeadm, palette"),
])
def test_usage_errors_are_one_line_and_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              arguments: list[str], message: str) -> None:
    folder = ["--dir", str(tmp_path / "c")] if arguments != [] else []
    assert main(["reference", "cluster", "serve", *folder, *arguments]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_a_reused_folder_keeps_its_shape(cluster: ReferenceCluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "cluster", "serve", "--dir", str(cluster.folder), "--workers", "4"]) == EXIT_USAGE
    assert "made with --workers 2; use a new folder" in capsys.readouterr().err


def test_a_reused_folder_keeps_its_profile(cluster: ReferenceCluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "cluster", "serve", "--dir", str(cluster.folder), "--profile", "kubeadm"]) == EXIT_USAGE
    assert "made with --profile palette; use a new folder" in capsys.readouterr().err


def test_the_served_cluster_passes_through_its_own_kubeconfig_with_the_profile_auto_picks(
        tmp_path: Path, https_for: Callable[[ReferenceCluster], Any]) -> None:
    """As a user runs it: serve, then check the admin kubeconfig it prints with no --profile (auto: kubeadm's
    for kubeconfig:), the cluster and, through pods, every node. Judged as palette, the CAs fail, and the failure
    names the profile they fit."""
    folder = tmp_path / "cluster"
    process, lines = _serve(folder, "--encryption-algorithm", "ECDSA-P256", "--workers", "1")
    try:
        assert "profile kubeadm: CAs valid 3650 days" in lines
        served = re.fullmatch(r"kubecert reference cluster serving at (\S+)", lines[0])
        admin = re.fullmatch(r"admin kubeconfig: (\S+)", lines[1])
        assert served is not None and admin is not None
        create_all(https_for(ReferenceCluster(folder)), served.group(1), rbac_documents())  # what ?nodes=pods needs
        for target in (f"kubeconfig:{admin.group(1)}", f"kubeconfig:{admin.group(1)}?nodes=pods"):
            run, report = run_check(tmp_path, "--target", target, timeout=600)
            assert run.returncode == 0, run.stdout
            assert report["summary"]["failed"] == 0 and report["summary"]["passed"] > 0
        run, report = run_check(tmp_path, "--target", f"kubeconfig:{admin.group(1)}?nodes=pods",
                                "--profile", "palette", "--rule", "KC-CL-02", "--rule", "KC-VAL-02", timeout=600)
        assert run.returncode == 1
        failing = [e for r in report["results"] for e in r["evidence"] if e["status"] == "failed"]
        assert {r["rule"] for r in report["results"] if r["status"] == "failed"} == {"KC-CL-02", "KC-VAL-02"}
        assert failing and all(e["fits_profile"] == "kubeadm" for e in failing)
        assert all("3650 days is the kubeadm profile's CA lifetime" in e["detail"] and
                   "check with --profile kubeadm" in e["detail"] for e in failing)
    finally:
        assert _stop(process) == 0


def test_list_faults_needs_no_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "cluster", "serve", "--list-faults"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(FAULTS)
    assert listed[0].startswith("kubeconfig-other-ca") and "KC-CL-01" in listed[0]


def test_ctrl_c_stops_the_command(tmp_path: Path) -> None:
    process, _ = _serve(tmp_path / "c", "--encryption-algorithm", "ECDSA-P256", "--control-planes", "1",
                        "--workers", "0")
    assert _stop(process, signal.SIGINT) == 0
    assert process.stderr is not None and process.stderr.read() == ""
