"""Every fault of the reference cluster, checked through the plugin in one run (a cluster and its three
control-plane nodes per fault): its rules fail, naming the offender, no other rule fails on any of the
cluster's targets, and the unfaulted cluster passes every rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.faults import Layer
from kubecert.reference.kube.faults import ClusterFault

from support import faults_of, statuses, validated

FAULTS = faults_of(Layer.CLUSTER, ClusterFault)
NODES = ("cp-1", "cp-2", "cp-3")
CLUSTER_RULES = 10  # what runs on reference:cluster; on its nodes, every node rule (as on the unfaulted one's)


@pytest.fixture(scope="module")
def fault_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("cluster-faults")
    report = base / "report.json"
    args = ["--pyargs", "kubecert.conformance", "-p", "no:cacheprovider", "-q", "-n", "2", "-p", "faulty_clusters",
            "--kubecert-json", str(report)]
    for name in ["none", *FAULTS]:
        args += ["--kubecert-target", f"faultycluster:{name}"]  # the cluster and its nodes
    # In a child process: xdist workers of an in-process run would not find the plugin module.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    subprocess.run([sys.executable, "-m", "pytest", *args], cwd=base, env=env, capture_output=True, timeout=600,
                   check=False)  # judged through the report
    return validated(json.loads(report.read_text()))


def _problems(report: dict[str, Any], name: str) -> list[str]:
    fault, cluster = FAULTS[name], f"faultycluster:{name}"
    problems = []
    node_rules = set(statuses(report, "faultycluster:none/cp-1"))
    for node in NODES:
        found = statuses(report, f"{cluster}/{node}")
        if set(found) != node_rules or set(found.values()) - {"passed", "not_applicable"}:
            problems.append(f"{cluster}/{node}: {found}")
    found = statuses(report, cluster)
    if len(found) != CLUSTER_RULES:
        return [*problems, f"{cluster}: {len(found)} results, expected {CLUSTER_RULES}: {found}"]
    problems += [f"{cluster}: {problem}" for problem in fault.disagreements(found)]
    elsewhere = {rule for rule, status in found.items() if status == "not_applicable"} - set(fault.unjudged)
    if elsewhere:  # every rule concerns the cluster: one not applicable is one left unjudged
        problems.append(f"{cluster}: not applicable {sorted(elsewhere)}, which the fault does not declare")
    for result in report["results"]:
        if result["target"] == cluster and result["rule"] == fault.rule:
            failed = [item for item in result["evidence"] if item.get("status") == "failed"]
            if not any(fault.offender in json.dumps(item, ensure_ascii=False) for item in failed):
                problems.append(f"{cluster}: {fault.rule}'s failing evidence does not name {fault.offender!r}")
    return problems


def test_the_reference_cluster_passes_and_each_fault_fails_its_rules_and_no_other(
        fault_report: dict[str, Any]) -> None:
    """One test, so that the one run behind it is made once even when tests are spread over workers."""
    whole = statuses(fault_report, "faultycluster:none")
    assert len(whole) == CLUSTER_RULES and set(whole.values()) == {"passed"}, whole
    node = statuses(fault_report, "faultycluster:none/cp-1")
    assert {"KC-INV-02", "KC-KLT-01", "KC-REN-01"} <= set(node) and set(node.values()) <= {"passed", "not_applicable"}
    problems = [problem for name in FAULTS for problem in _problems(fault_report, name)]
    assert not problems, "\n".join(problems)


def test_a_cluster_the_kubeconfig_cannot_verify_is_unjudged_with_the_reason(fault_report: dict[str, Any]) -> None:
    result = next(r for r in fault_report["results"]
                  if r["target"] == "faultycluster:kubeconfig-other-ca" and r["rule"] == "KC-CL-04")
    assert result["status"] == "error"
    assert "TLS verification of https://127.0.0.1:" in result["message"]
    assert "does not chain to the kubeconfig's CA" in result["message"]
