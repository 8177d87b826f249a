"""``kind:NAME`` through the command, against a stand-in container engine (tests/cluster/standin/: these
machines have none) whose kind cluster is the reference cluster: the nodes are found by their labels, each
control-plane node's files are copied out and judged as a target of its own, the API is reached on the
published port, and renewal runs kubeadm in every node and restarts its API server."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.kube import ClusterServer, ReferenceCluster

from standin.engine import StandinEngine, engine_env, standin_engine
from support import run_check, statuses

NODES = ("cp-1", "cp-2", "cp-3")
CLUSTER_RULES = ("KC-CL-01", "KC-CL-02", "KC-CL-03", "KC-CL-04", "KC-CL-05", "KC-CL-06", "KC-EXP-01", "KC-HA-01",
                 "KC-HA-02", "KC-VAL-04")


@pytest.fixture
def engine(cluster: ReferenceCluster, served: ClusterServer) -> Iterator[StandinEngine]:
    with standin_engine("kind", cluster, served) as running:
        yield running


def _check(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return run_check(tmp_path, "--profile", "palette", *args, env=env, timeout=600)


def test_kind_read_only_judges_every_node_and_the_cluster(tmp_path: Path, engine: StandinEngine) -> None:
    run, report = _check(tmp_path, engine_env(engine, "docker"), "--target", "kind:kind")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted({r["target"] for r in report["results"]}) == ["kind:kind", *(f"kind:kind/{n}" for n in NODES)]
    whole = statuses(report, "kind:kind")
    assert sorted(whole) == sorted(CLUSTER_RULES)
    assert {rule for rule, status in whole.items() if status == "skipped"} == {"KC-CL-04", "KC-HA-02"}  # disruptive
    for node in NODES:
        found = statuses(report, f"kind:kind/{node}")
        assert "failed" not in found.values() and "error" not in found.values(), found
        assert found["KC-INV-02"] == found["KC-KCFG-01"] == found["KC-FILE-01"] == "passed"
        kubelet = {rule: status for rule, status in found.items() if rule.startswith("KC-KLT-")}
        assert len(kubelet) == 5 and set(kubelet.values()) == {"passed"}, kubelet  # /var/lib/kubelet copied too
        assert found["KC-REN-01"] == "skipped"  # acting on a node needs the opt-in
    every_node = next(r for r in report["results"] if r["target"] == "kind:kind" and r["rule"] == "KC-CL-03")
    assert [e["subject"] for e in every_node["evidence"]] == list(NODES)
    execs = [" ".join(call[2:]) for call in engine.calls if call[0] == "exec"]
    assert "kubeadm certs check-expiration" in execs  # KC-CHK-01's listing: a read
    acting = ("kubeadm certs renew", "kubeadm certs generate-csr", "kubeadm upgrade", "crictl stop", "mktemp")
    assert not [e for e in execs if e.startswith(acting)]  # read-only means it


def test_kind_renewal_reaches_every_node_and_restarts_the_api_servers(
        tmp_path: Path, engine: StandinEngine, served: ClusterServer) -> None:
    before = {node: served.node_urls[node] for node in NODES}
    run, report = _check(tmp_path, engine_env(engine, "docker"), "--target", "kind:kind", "--allow-disruptive")
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(statuses(report, "kind:kind").values()) == {"passed"}, statuses(report, "kind:kind")
    for node in NODES:
        found = statuses(report, f"kind:kind/{node}")
        assert set(found.values()) <= {"passed", "not_applicable"}, found
        assert found["KC-REN-01"] == found["KC-CSR-01"] == found["KC-UPG-01"] == "passed"
    # Every renewal in a node (the two of the cluster, KC-CL-04's control-plane-only one and KC-HA-02's full one,
    # and each node renewal check's) is followed by a restart of its four static pods before anything else renews.
    for container in {c[1] for c in engine.calls if c[:1] == ["exec"]}:
        steps = "".join(_renewal_step(call) for call in engine.calls if call[:2] == ["exec", container])
        assert re.fullmatch(r"(RSSSS)+", steps) and steps.count("R") >= 2, (container, steps)
    assert served.node_urls == before  # the same API servers, restarted in place
    renewal = next(r for r in report["results"] if r["target"] == "kind:kind" and r["rule"] == "KC-HA-02")
    assert [e["subject"] for e in renewal["evidence"]] == list(NODES)
    assert not engine.scratch  # the CSR scratch folders were removed from the node


def test_kind_csr_folders_pass_kc_csr_02(tmp_path: Path, engine: StandinEngine) -> None:
    _, report = _check(tmp_path, engine_env(engine, "docker"), "--target", "kind:kind", "--allow-disruptive",
                       "--rule", "KC-CSR-02")
    assert [statuses(report, f"kind:kind/{node}")["KC-CSR-02"] for node in NODES] == ["passed"] * len(NODES)


def _renewal_step(call: list[str]) -> str:
    """R for kubeadm renewing in a node, S for crictl stopping a container, nothing for any other call."""
    command = call[2:]
    upgrade_renewing = command[:3] == ["kubeadm", "upgrade", "node"] and "--certificate-renewal=true" in command
    if command[:3] == ["kubeadm", "certs", "renew"] or upgrade_renewing:
        return "R"
    return "S" if command[:2] == ["crictl", "stop"] else ""


def test_podman_is_chosen_in_the_uri(tmp_path: Path, engine: StandinEngine) -> None:
    run, report = _check(tmp_path, engine_env(engine, "podman"), "--target", "kind:kind?runtime=podman",
                         "--rule", "KC-CL-*")
    assert run.returncode == 0, run.stdout + run.stderr
    assert statuses(report, "kind:kind?runtime=podman") == {
        "KC-CL-01": "passed", "KC-CL-02": "passed", "KC-CL-03": "passed", "KC-CL-04": "skipped", "KC-CL-05": "passed",
        "KC-CL-06": "passed"}


def test_an_unknown_cluster_is_an_error_naming_it(tmp_path: Path, engine: StandinEngine) -> None:
    run, report = _check(tmp_path, engine_env(engine, "docker"), "--target", "kind:other", "--rule", "KC-CL-*")
    assert run.returncode == 2
    for result in report["results"]:
        assert result["status"] in ("error", "skipped")
    assert "no kind cluster 'other'" in report["results"][0]["message"]
    assert "io.x-k8s.kind.cluster=other" in report["results"][0]["message"]


def test_without_a_container_engine_the_run_says_so(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path)}
    run, report = _check(tmp_path, env, "--target", "kind:kind", "--rule", "KC-CL-01")
    assert run.returncode == 2
    assert "docker is not on PATH" in report["results"][0]["message"]
