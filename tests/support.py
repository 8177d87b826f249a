"""Helpers the project's tests share: running the suite through the plugin (its report validated against
the shipped JSON Schema), reading reports, judging a tree in-process, and the faults each layer's tests run."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest

from kubecert.inventory import Inventory, load_pki
from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.kubelet import default_kubelet_dir
from kubecert.reference.faults import Fault, Layer, all_faults
from kubecert.reports import canonical
from kubecert.reports.results import SCHEMA as REPORT_SCHEMA
from kubecert.reports.schema import shipped
from kubecert.rules import BUILTIN_PROFILES, RuleContext, Status, Verdict, all_rules, evaluate_all

SUITE = ("--pyargs", "kubecert.conformance", "-p", "no:cacheprovider")
# What a pki: folder offers, with the kubelet's folder beside it.
NODE_FOLDER = frozenset({"certificates", "x509", "expiry", "files", "owners", "kubeconfigs", "kubelet"})


def validated(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` once it has been checked against the schema the package ships, and read back as kubecert
    reads a report it is given (every report kubecert writes, kubecert can merge)."""
    jsonschema.validate(report, shipped())
    assert canonical.problem(report) is None, canonical.problem(report)
    return report


def read_report(path: Path) -> dict[str, Any]:
    """The canonical report at ``path``, validated; {} when the run wrote none."""
    return validated(json.loads(path.read_text())) if path.exists() else {}


# A plugin that takes KC-VAL-02's result off its report, as a worker that died with it would lose it.
LOSE_KC_VAL_02 = """
import pytest

@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after kubecert attached its result
def pytest_runtest_makereport(item, call):
    report = yield
    if item.name.startswith("KC-VAL-02["):
        report.__dict__.pop("kubecert_results", None)
    return report
"""


def run_suite(pytester: pytest.Pytester, *args: str,
              subprocess: bool = False) -> tuple[pytest.RunResult, dict[str, Any]]:
    """The conformance suite under pytest with ``args``; its result and its (validated) JSON report."""
    report = pytester.path / "report.json"
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    result = run(*SUITE, "--kubecert-json", str(report), *args)
    return result, read_report(report)


def with_signals(argv: list[str], signals: str = "default") -> list[str]:
    """``argv`` started with known SIGINT and SIGTERM dispositions (with_signals.py: both at their defaults, or
    ``sigint-ignored`` or ``sigterm-ignored``), whatever this test worker inherited: for a child a test signals."""
    return [sys.executable, str(Path(__file__).resolve().parent / "with_signals.py"), signals, *argv]


def run_check(folder: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``kubecert check ARGS`` as a user runs it, in ``folder``: its outcome (never a traceback) and its
    validated JSON report."""
    report = folder / "r.json"
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--json", str(report), *args], cwd=folder,
                         env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    return run, validated(json.loads(report.read_text()))


def statuses(report: dict[str, Any], target: str | None = None) -> dict[str, str]:
    """Rule → status of a report's results (of one target, when given)."""
    return {r["rule"]: r["status"] for r in report["results"] if target is None or r["target"] == target}


def by_rule(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in report["results"]}


def result_for(report: dict[str, Any], rule: str, target: str | None = None) -> dict[str, Any]:
    return next(r for r in report["results"] if r["rule"] == rule and (target is None or r["target"] == target))


def static_rules() -> list[str]:
    """The rules a node folder is judged by without acting on it: what ``judge`` gives a verdict for."""
    return [r.id for r in all_rules() if r.implemented and r.action is None and r.probe is None
            and set(r.capabilities) <= NODE_FOLDER]


def observe(root: Path, profile: str = "palette", facts: NodeFacts | None = None,
            **overrides: Any) -> tuple[Inventory, Any]:
    chosen = dataclasses.replace(BUILTIN_PROFILES[profile], **overrides) if overrides else BUILTIN_PROFILES[profile]
    kubelet = default_kubelet_dir(root / "pki", root)
    return load_pki(root / "pki", kubelet_dir=kubelet, declared=facts), chosen


def judge(root: Path, profile: str = "palette", at: dt.datetime | None = None, facts: NodeFacts | None = None,
          **overrides: Any) -> dict[str, Verdict]:
    """Every implemented static rule's verdict on the node at ``root`` (``root/pki``, the kubeconfigs, and the
    kubelet's folder ``root/kubelet`` when there is one)."""
    inventory, chosen = observe(root, profile, facts, **overrides)
    context = RuleContext(inventory=inventory, profile=chosen, now=at or inventory.observed_at)
    return evaluate_all(context, NODE_FOLDER)


def verdict_statuses(verdicts: dict[str, Verdict]) -> dict[str, Status]:
    return {rule: verdict.status for rule, verdict in verdicts.items()}


def not_passing(verdicts: dict[str, Verdict]) -> dict[str, str]:
    """Rules that did not pass (not_applicable is a pass here), with their messages: an assertion's best view."""
    return {
        rule: f"{v.status}: {v.message}" for rule, v in verdicts.items()
        if v.status not in (Status.PASSED, Status.NOT_APPLICABLE)
    }


# --- the faults the tests run: each layer's tests parametrize over faults_of(layer), so every fault of
# all_faults() is run by construction; tests/test_detection_matrix.py checks that no layer is left out.

FAULT_RUNS: dict[Layer, str] = {
    Layer.TREE: "tests/test_fault_reports.py",  # one plugin run, a pki: target per fault
    Layer.RENEWER: "tests/test_renewal_rules.py",  # in-process, the fault's action on a fresh node
    Layer.PLATFORM: "tests/platform/test_api_faults.py",  # one plugin run, a faulty: target per fault
    Layer.CLUSTER: "tests/cluster/test_cluster_fault_runs.py",  # one plugin run, a faultycluster: per fault
}
# How the runs meet what a fault may require: a requirement not listed here would leave its faults unrun.
REQUIREMENTS: dict[str, str] = {
    "root": "run when the tests run as root, skipped (saying so) otherwise",
    "external-ca": "run on a second node made without ca.key",
}

FaultType = TypeVar("FaultType", bound=Fault)


def faults_of(layer: Layer, kind: type[FaultType]) -> dict[str, FaultType]:
    """Every registered fault of ``layer``, by name: what that layer's tests run."""
    found = {fault.name: fault for fault in all_faults() if fault.layer is layer and isinstance(fault, kind)}
    assert len(found) == sum(1 for fault in all_faults() if fault.layer is layer), f"a {layer} fault is no {kind}"
    return found


def cannot_run_here(fault: Fault) -> str | None:
    """Why this machine cannot run ``fault`` (its test is skipped with this reason), or None."""
    if "root" in fault.requires and os.geteuid() != 0:
        return "the fault changes a file's owner, which needs root"
    return None


@dataclasses.dataclass
class Cost:
    """What one piece of work cost: wall and CPU seconds, and its peak Python allocation."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_bytes: int = 0

    def within(self, *, cpu_s: float, memory: int, hang_s: float) -> bool:
        """Held to a bound of work (CPU: what the input made kubecert do, whatever else shares the machine) and
        of memory, and to a much longer wall-clock bound that only a hang could reach."""
        return self.cpu_s < cpu_s and self.peak_bytes < memory and self.wall_s < hang_s


@contextmanager
def measured() -> Iterator[Cost]:
    cost = Cost()
    tracemalloc.start()
    wall, cpu = time.monotonic(), time.process_time()
    try:
        yield cost
    finally:
        cost.wall_s, cost.cpu_s = time.monotonic() - wall, time.process_time() - cpu
        cost.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
@contextlib.contextmanager
def reference_api(folder: Path, api_key: str, mode: str = "repave") -> Iterator[tuple[Any, str, str]]:
    """The reference Palette-like API on loopback with one cluster (2 control planes, 1 worker) that renews by
    ``mode`` and fast platform time: the server, the cluster's uid and its project's uid."""
    from kubecert.reference.api.cli import seed
    from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
    from kubecert.reference.pki import KeyPool
    from kubecert.reference.platform.engine import Timing

    settings = ServerSettings(state_file=folder / "state.db", api_key=api_key,
                              timing=Timing(provision_s=0.3, delete_s=0.15, renew_machine_s=0.15, scale=1.0))
    server = ReferenceApiServer(settings, keys=KeyPool(size=12))
    seed(server.platform, 1, mode=mode, control_planes=2, workers=1, age_days=100)
    server.start()
    try:
        with server.platform.store.snapshot() as db:
            row = db.execute("SELECT uid, project_uid FROM clusters").fetchone()
        yield server, row["uid"], row["project_uid"]
    finally:
        server.stop()


def validate_every_report(folder: Path) -> int:
    """Validate every canonical report written anywhere under ``folder`` (finished or partial) against the
    shipped schema; how many there were."""
    found = 0
    for path in sorted(folder.rglob("*.json*")):
        if path.suffix not in (".json", ".partial") or not path.is_file():
            continue
        try:
            document = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(document, dict) and document.get("schema") == REPORT_SCHEMA:
            validated(document)
            found += 1
    return found
