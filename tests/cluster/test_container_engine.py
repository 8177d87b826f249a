"""Against real clusters in containers: k3s through testcontainers (the kubeconfig target) and kind (the
kind target). Both need a container engine that answers; without one they skip saying so. (These
machines have the docker client but no daemon: the kind target's own behaviour is proven against a
stand-in engine in test_kind_target.py.)"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import run_check, statuses


def _engine_answers() -> str | None:
    """Why no container engine can be used here, or None when one answers."""
    for command in ("docker", "podman"):
        if shutil.which(command) is None:
            continue
        try:
            probe = subprocess.run([command, "info"], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{command} info` did not answer: {exc}"
        if probe.returncode == 0:
            return None
        said = probe.stderr.strip().splitlines()
        return f"`{command} info` failed: {said[-1] if said else 'no daemon answers'}"
    return "neither docker nor podman is on PATH"


NO_ENGINE = _engine_answers()
needs_engine = pytest.mark.skipif(NO_ENGINE is not None, reason=f"needs a container engine: {NO_ENGINE}")


def _check(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return run_check(tmp_path, *args, timeout=900)


@pytest.fixture(scope="module")
def k3s_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from testcontainers.community.k3s import K3SContainer

    with K3SContainer() as k3s:
        path = tmp_path_factory.mktemp("k3s") / "k3s.yaml"
        path.write_text(k3s.config_yaml())
        path.chmod(0o600)
        yield path


@needs_engine
def test_k3s_through_its_kubeconfig(tmp_path: Path, k3s_kubeconfig: Path) -> None:
    """k3s is not kubeadm: its PKI lives in /var/lib/rancher/k3s, with no kubeadm-config ConfigMap. What a
    kubeconfig shows still holds: the served certificate (KC-CL-01, names from the kubeconfig's server), the
    published CA (KC-CL-02) and the client certificate's expiry (KC-EXP-01)."""
    run, report = _check(tmp_path, "--target", f"kubeconfig:{k3s_kubeconfig}", "--rule", "KC-CL-*",
                         "--rule", "KC-EXP-01")
    assert run.returncode == 0, run.stdout + run.stderr
    assert statuses(report) == {"KC-CL-01": "passed", "KC-CL-02": "passed", "KC-CL-03": "skipped",
                                "KC-CL-04": "skipped", "KC-EXP-01": "passed"}


@pytest.fixture(scope="module")
def kind_cluster() -> Iterator[str]:
    if shutil.which("kind") is None:
        pytest.skip("needs the kind command (https://kind.sigs.k8s.io: `go install sigs.k8s.io/kind@latest`)")
    name = f"kubecert-{uuid.uuid4().hex[:8]}"
    subprocess.run(["kind", "create", "cluster", "--name", name, "--wait", "180s"], check=True, timeout=600)
    try:
        yield name
    finally:
        subprocess.run(["kind", "delete", "cluster", "--name", name], check=False, timeout=300)


@needs_engine
def test_kind_read_only_then_renewed(tmp_path: Path, kind_cluster: str) -> None:
    run, report = _check(tmp_path, "--target", f"kind:{kind_cluster}")
    assert run.returncode == 0, run.stdout + run.stderr
    node = f"kind:{kind_cluster}/{kind_cluster}-control-plane"
    assert statuses(report, node)["KC-INV-02"] == "passed"
    run, report = _check(tmp_path, "--target", f"kind:{kind_cluster}", "--allow-disruptive")
    assert run.returncode == 0, run.stdout + run.stderr
    assert statuses(report, f"kind:{kind_cluster}")["KC-HA-02"] == "passed"
