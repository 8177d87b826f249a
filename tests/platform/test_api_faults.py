"""Every fault of the reference platform's API, checked through the plugin in one run (one target per
fault, on a cluster that renews the way the fault needs): its rule fails, no other rule fails, and the
unfaulted platform passes every API and RPV rule of the way it renews, by repave and in place alike, the
other way's rules not applicable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.faults import Layer
from kubecert.reference.platform.faults import PlatformFault

from support import faults_of, validated

FAULTS = faults_of(Layer.PLATFORM, PlatformFault)

RESULTS = 19  # each target's: KC-API-01..08 and KC-RPV-01..11
# A fault is checked on a cluster of each way of renewing it declares (its in-place code path may differ).
TARGETS = (["faulty:repave:none", "faulty:in-place:none"]
           + [f"faulty:{mode}:{name}" for name, fault in FAULTS.items() for mode in fault.renewal_modes])
# The rules of the other way of renewing: not applicable, and saying why.
OTHER_MODE = {"repave": ("KC-RPV-11",), "in-place": ("KC-RPV-04", "KC-RPV-05")}


@pytest.fixture(scope="module")
def fault_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("api-faults")
    report = base / "report.json"
    args = ["--pyargs", "kubecert.conformance", "-p", "no:cacheprovider", "-q", "-n", "2", "-p", "faulty_targets",
            "--kubecert-json", str(report), "--kubecert-rule", "KC-API-*", "--kubecert-rule", "KC-RPV-*",
            "--kubecert-renewal-deadline", "30"]
    for target in TARGETS:
        args += ["--kubecert-target", target]
    # In a child process: xdist workers of an in-process run would not find the plugin module.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    subprocess.run([sys.executable, "-m", "pytest", *args], cwd=base, env=env, capture_output=True, timeout=600,
                   check=False)  # judged through the report
    return validated(json.loads(report.read_text()))


def _statuses(report: dict[str, Any], target: str) -> dict[str, str]:
    return {r["rule"]: r["status"] for r in report["results"] if r["target"] == target}


def _fault_problems(report: dict[str, Any], target: str) -> list[str]:
    fault = FAULTS[target.rsplit(":", 1)[1]]
    statuses = _statuses(report, target)
    if len(statuses) != RESULTS:
        return [f"{target}: {len(statuses)} results, expected {RESULTS}: {statuses}"]
    problems = [f"{target}: {problem}" for problem in fault.disagreements(statuses)]
    judged_as = fault.pinned or target.split(":")[1]  # the way the renewal is judged: pinned, else the platform's
    elsewhere = {rule for rule, status in statuses.items() if status == "not_applicable"}
    if elsewhere != set(OTHER_MODE[judged_as]):
        problems.append(f"{target}: not applicable {sorted(elsewhere)}, expected {sorted(OTHER_MODE[judged_as])}")
    for result in report["results"]:
        if result["target"] == target and result["rule"] in fault.rules and not result["evidence"]:
            problems.append(f"{target}: {result['rule']} failed without evidence")
    return problems


def test_the_reference_api_passes_and_each_fault_fails_its_rules_and_no_other(fault_report: dict[str, Any]) -> None:
    """One test, so that the one run behind it is made once even when tests are spread over workers."""
    for mode, other in OTHER_MODE.items():
        statuses = _statuses(fault_report, f"faulty:{mode}:none")
        assert len(statuses) == RESULTS, statuses
        assert {rule for rule, status in statuses.items() if status != "passed"} == set(other), statuses
        assert {statuses[rule] for rule in other} == {"not_applicable"}, statuses
    problems = [problem for target in TARGETS[2:] for problem in _fault_problems(fault_report, target)]
    assert not problems, "\n".join(problems)
    echo = next(r for r in fault_report["results"]
                if r["target"] == "faulty:repave:echo-key" and r["rule"] == "KC-API-06")
    # The echo-key fault repeats the key in error bodies: the report shows them redacted.
    assert "ApiKey: <redacted>" in json.dumps(echo["evidence"])
