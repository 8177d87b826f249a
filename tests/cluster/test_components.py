"""KC-CL-05 (each component serves the certificate on disk) and KC-CL-06 (components were restarted after their
certificates were renewed), through every target that reads a cluster's nodes: reference:cluster (with the real
etcd where it is installed) before and after a disruptive run and on each fault, kubeconfig:?nodes=pods and
kind: (through the stand-in engine: these machines have no container engine) against the served reference
cluster; then the judgement itself on node trees dated as kubeadm before and after v1.31 dates them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import audit
import pytest

from kubecert.inventory.cluster import ClusterInventory
from kubecert.inventory.components import Component, ComponentsObservation, Missing, NodeComponents, Started
from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.load import load_pki
from kubecert.inventory.model import Inventory
from kubecert.profiles import BUILTIN
from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.kube.faults import FAULTS as CLUSTER_FAULTS
from kubecert.reference.pki import KeyPool, PkiTree
from kubecert.reference.pki.renew import renew
from kubecert.rules import catalog
from kubecert.rules.context import RuleContext
from kubecert.rules.evaluate import evaluate
from kubecert.rules.findings import Verdict
from kubecert.status import Status
from kubecert.targets.base import Target
from kubecert.targets.cluster.podtargets import kubeconfig_target
from kubecert.targets.reference.cluster import ReferenceClusterTarget

from legacy_tree import make_legacy
from reader_support import create_all, kubeconfig_as, rbac_documents
from standin.engine import StandinEngine, engine_env, standin_engine
from support import read_report, result_for, run_check, statuses

RULES = ("KC-CL-05", "KC-CL-06")
NODES = ("cp-1", "cp-2", "cp-3")
PALETTE = BUILTIN["palette"]


def _judged(target: Target, inventory: Inventory) -> dict[str, Verdict]:
    return {rule: evaluate(catalog.get(rule), RuleContext(inventory, target.profile, inventory.observed_at))
            for rule in RULES}


def _findings(verdict: Verdict, status: Status | None = None) -> dict[str, dict[str, Any]]:
    return {f.subject: f.to_evidence() for f in verdict.findings if status is None or f.status is status}


@pytest.fixture
def reference_cluster() -> Iterator[Callable[..., ReferenceClusterTarget]]:
    """``reference_cluster(*faults)``: reference:cluster with the faults, made and served in this process."""
    made: list[ReferenceClusterTarget] = []

    def make(*faults: str) -> ReferenceClusterTarget:
        class Faulty(ReferenceClusterTarget):
            pass

        Faulty.faults = frozenset(faults)
        # A URI of its own: the cluster's parts are shared by URI, and this session's plugin holds reference:cluster.
        made.append(Faulty(f"faultycluster:{'+'.join(faults) or 'none'}-{len(made)}", PALETTE, {}, NodeFacts()))
        return made[-1]

    yield make
    for target in made:
        target.close()


def _disruptive_run(target: ReferenceClusterTarget) -> None:
    """What a run with --allow-disruptive does to the cluster: both renewals of the cluster, and each node's
    renewal checks (a renewal of every certificate, of one, an upgrade renewing them)."""
    target.renew_cluster(True)
    target.renew_cluster(False)
    for node in NODES:
        actions = target.parts.node_actions(node)
        assert actions is not None
        assert actions.renew_all().succeeded and actions.renew_one("apiserver").succeeded
        assert actions.upgrade(True).succeeded


def test_the_reference_cluster_passes_both_rules_before_and_after_a_disruptive_run(
        reference_cluster: Callable[..., ReferenceClusterTarget]) -> None:
    target = reference_cluster()
    before = _judged(target, target.observe())
    assert {rule: v.status for rule, v in before.items()} == dict.fromkeys(RULES, Status.PASSED), before
    served = _findings(before["KC-CL-05"])
    assert sorted(served) == sorted(f"{node} {c}" for node in NODES for c in ("etcd", "kube-apiserver", "kubelet"))
    apiserver = served["cp-2 kube-apiserver"]
    assert apiserver["served"]["fingerprint_sha256"] == apiserver["on_disk"]["fingerprint_sha256"]
    assert apiserver["address"].startswith("127.0.0.1:") and "advertise-address.endpoint" in apiserver["address_from"]
    restarted = _findings(before["KC-CL-06"])
    controller = restarted["cp-2 kube-controller-manager"]
    assert controller["status"] == "passed" and controller["started_at"].endswith("Z")
    assert [c["certificate"] for c in controller["certificates"]] == ["controller-manager.conf"]
    assert restarted["cp-2 etcd"]["status"] == "not_applicable"  # etcd reads its files per connection
    _disruptive_run(target)
    after = _judged(target, target.reobserve())
    assert {rule: v.status for rule, v in after.items()} == dict.fromkeys(RULES, Status.PASSED), after
    again = _findings(after["KC-CL-06"])["cp-2 kube-controller-manager"]
    assert again["started_at"] >= controller["started_at"]
    assert again["certificates"][0]["on_disk"]["serial"] != controller["certificates"][0]["on_disk"]["serial"]


@pytest.mark.parametrize("fault", [name for name, fault in CLUSTER_FAULTS.items() if fault.rule in RULES])
def test_each_fault_fails_its_rule_before_and_after_a_disruptive_run_naming_what_runs(
        reference_cluster: Callable[..., ReferenceClusterTarget], fault: str) -> None:
    rule, offender = CLUSTER_FAULTS[fault].rule, CLUSTER_FAULTS[fault].offender  # what the fault declares
    target = reference_cluster(fault)
    for moment in ("before", "after"):
        if moment == "after":
            _disruptive_run(target)
        verdicts = _judged(target, target.observe() if moment == "before" else target.reobserve())
        other = next(r for r in RULES if r != rule)
        assert (verdicts[rule].status, verdicts[other].status) == (Status.FAILED, Status.PASSED), (moment, verdicts)
        failing = _findings(verdicts[rule], Status.FAILED)
        assert offender in failing, (moment, sorted(failing))
        evidence = failing[offender]
        assert [evidence["node"], evidence["component"]] == offender.split(" ", 1)
        if rule == "KC-CL-06":
            assert sorted(failing) == sorted(f"{node} {c}" for node in NODES
                                             for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"))
            assert "still holds what it loaded at start" in evidence["detail"]
            (held,) = evidence["certificates"]
            assert held["certificate"] == "controller-manager.conf" and held["issued_at"] > evidence["started_at"]
            assert held["issued_at_from"].startswith("NotBefore + 5m backdate")
            assert held["on_disk"]["path"].endswith("/cp-1/controller-manager.conf")
            assert "older than the certificate on disk" in evidence["holds"]
            assert evidence["start_sources"][0]["source"] == "mirror Pod kube-system/kube-controller-manager-cp-1"
        else:
            assert list(failing) == [offender]
            assert evidence["served"]["not_before"] < evidence["on_disk"]["not_before"]
            assert evidence["served"]["fingerprint_sha256"] != evidence["on_disk"]["fingerprint_sha256"]
            assert "serves an older certificate than" in evidence["detail"]
            assert evidence["on_disk"]["path"].endswith("/cp-3/kubelet/pki/kubelet.crt")


# --- the nodes read through pods, against the served reference cluster (its etcd the stand-in)


def _pods_target(kubeconfig: Path) -> Target:
    return kubeconfig_target(f"kubeconfig:{kubeconfig}?nodes=pods", PALETTE, {}, NodeFacts())


def test_through_pods_a_component_that_does_not_answer_is_an_error_naming_it_and_the_address(
        served: ClusterServer, https: Any) -> None:
    create_all(https, served.url, rbac_documents())
    assert served.static_pods is not None
    kubelet = served.static_pods.kubelet("cp-2")
    assert kubelet is not None
    kubelet.stop()  # the kubelet of cp-2 serves nothing any more
    target = _pods_target(served.admin_kubeconfig)
    try:
        verdicts = _judged(target, target.observe())
    finally:
        target.close()
    assert (verdicts["KC-CL-05"].status, verdicts["KC-CL-06"].status) == (Status.ERROR, Status.PASSED)
    bad = [f for f in verdicts["KC-CL-05"].findings if f.status is not Status.PASSED]
    assert [f.subject for f in bad] == ["cp-2 kubelet"]
    address = f"127.0.0.1:{kubelet.port}"
    assert bad[0].message.startswith(f"what it serves at {address} could not be read: no TLS handshake with {address}")
    assert "ERROR cp-2 kubelet" in verdicts["KC-CL-05"].message


def test_through_pods_without_the_static_pods_permission_the_error_names_it(
        tmp_path: Path, served: ClusterServer, https: Any) -> None:
    documents = [d for d in rbac_documents() if d["metadata"]["name"] != "kubecert-static-pods"]
    create_all(https, served.url, documents)
    target = _pods_target(kubeconfig_as(served, https, tmp_path / "kubecert.conf", "kubecert"))
    try:
        verdicts = _judged(target, target.observe())
    finally:
        target.close()
    assert verdicts["KC-CL-06"].status is Status.ERROR
    refused = _findings(verdicts["KC-CL-06"], Status.ERROR)["cp-1 kube-scheduler"]
    assert "listing the pods of cp-1 in kube-system: 403 Forbidden" in refused["detail"]
    assert "kubecert needs list on pods in kube-system" in refused["detail"]
    # Where kube-apiserver and etcd serve is unknown too; the kubelet's address is the Node object's.
    served_findings = _findings(verdicts["KC-CL-05"])
    assert served_findings["cp-1 etcd"]["status"] == "error" and served_findings["cp-1 kubelet"]["status"] == "passed"


# --- kind, through the stand-in engine


@pytest.fixture
def engine(cluster: ReferenceCluster, served: ClusterServer) -> Iterator[StandinEngine]:
    with standin_engine("kind", cluster, served) as running:
        yield running


def test_kind_reads_the_start_times_through_crictl_first_then_the_mirror_pods(
        tmp_path: Path, engine: StandinEngine, served: ClusterServer) -> None:
    run, report = run_check(tmp_path, "--profile", "palette", "--target", "kind:kind", "--rule", "KC-CL-0[56]",
                            env=engine_env(engine, "docker"), timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert statuses(report, "kind:kind") == dict.fromkeys(RULES, "passed")
    findings = {e["subject"]: e for e in result_for(report, "KC-CL-06", "kind:kind")["evidence"]}
    assert served.static_pods is not None
    containers = ("kind-control-plane", "kind-control-plane2", "kind-control-plane3")
    for node, container in zip(NODES, containers, strict=True):
        running = served.static_pods.container(node, "kube-scheduler")
        assert running is not None
        first, second = findings[f"{node} kube-scheduler"]["start_sources"]
        assert first["source"] == f"crictl inspect {running.id} in {container}"
        assert second["source"] == f"mirror Pod kube-system/kube-scheduler-{node}"
        assert first["started_at"].startswith(running.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    inspected = [c for c in engine.calls if c[2:4] == ["crictl", "inspect"]]
    assert len(inspected) == 4 * len(NODES)


@pytest.mark.parametrize(("printed", "said"), [
    (b"[" * 100 + b"]" * 100, "did not print JSON (nested deeper than 64 levels)"),
    (b"\x1b]0;pwned\x07not json", "did not print JSON"),
    (json.dumps({"status": {"metadata": {"name": "kube-scheduler"}, "state": "CONTAINER_EXITED"}}).encode(),
     "not a running container of kube-scheduler (name 'kube-scheduler', state 'CONTAINER_EXITED')"),
    (json.dumps({"status": {"metadata": {"name": "kube-scheduler"}, "state": "CONTAINER_RUNNING",
                            "startedAt": "yesterday\x1b[2J"}}).encode(), "startedAt 'yesterday\\\\x1b[2J' is not"),
])
def test_kind_takes_what_crictl_prints_as_hostile_and_falls_back_to_the_mirror_pod(
        tmp_path: Path, engine: StandinEngine, printed: bytes, said: str) -> None:
    engine.inspections = printed
    report_path = tmp_path / "r.json"
    run, seen = audit.run_audited(["check", "-q", "--json", str(report_path), "--profile", "palette", "--target",
                                   "kind:kind", "--rule", "KC-CL-06"], cwd=tmp_path, env=engine_env(engine, "docker"),
                                  timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr  # judged by the mirror Pods' start times
    assert "Traceback" not in run.stdout + run.stderr
    assert seen.processes_besides(["docker"]) == [] and seen.writes_outside([tmp_path]) == [], seen.events
    report = read_report(report_path)
    finding = next(e for e in result_for(report, "KC-CL-06", "kind:kind")["evidence"]
                   if e["subject"] == "cp-1 kube-scheduler")
    crictl, mirror = finding["start_sources"]
    assert crictl["started_at"] is None and said in crictl["problem"], crictl
    assert mirror["started_at"] == finding["started_at"]
    assert "\x1b" not in json.dumps(report) and "\x07" not in run.stdout + run.stderr


# --- the judgement, on node trees dated as kubeadm dates them


def _restarts(root: Path, started: dt.datetime) -> Verdict:
    """KC-CL-06 on one node whose files are ``root``, its static pods all started at ``started``."""
    files = load_pki(root / "pki", kubeconfig_dir=root, manifests_dir=root / "manifests", machine="cp-1")
    node = NodeComponents("cp-1", started={c: [Started(c, f"mirror Pod kube-system/{c}-cp-1", at=started)]
                                           for c in Component if c is not Component.KUBELET})
    inventory = ClusterInventory(target="test:cluster", observed_at=started, node_files={"cp-1": files},
                                 components=ComponentsObservation({"cp-1": node}))
    return evaluate(catalog.get("KC-CL-06"), RuleContext(inventory, PALETTE, started))


def test_a_kubeadm_1_31_renewal_is_dated_by_its_not_before_to_the_second(reference_copy: Path,
                                                                         key_pool: KeyPool) -> None:
    renewed_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    renew(reference_copy, "all", keys=key_pool, now=renewed_at)
    on_time = _restarts(reference_copy, renewed_at)  # started in the second of the renewal: after it
    assert on_time.status is Status.PASSED, on_time.message
    late = _restarts(reference_copy, renewed_at - dt.timedelta(seconds=1))
    assert late.status is Status.FAILED
    evidence = _findings(late, Status.FAILED)["cp-1 kube-scheduler"]
    (scheduler,) = evidence["certificates"]
    assert scheduler["issued_at"] == renewed_at.isoformat().replace("+00:00", "Z")
    assert scheduler["issued_at_from"] == "NotBefore + 5m backdate (kubeadm v1.31 and later)"


def test_a_renewal_by_kubeadm_before_1_31_is_dated_by_not_after_less_the_lifetime(reference_copy: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signed = now - dt.timedelta(days=100)
    make_legacy(reference_copy, ca_created=now - dt.timedelta(days=1000), leaves_signed=signed)
    assert PkiTree(reference_copy).cert("apiserver").not_valid_before_utc == now - dt.timedelta(days=1000)
    # Started 200 days ago: after the CA (NotBefore + backdate would say the leaves are older still), before
    # the leaves were signed.
    late = _restarts(reference_copy, now - dt.timedelta(days=200))
    assert late.status is Status.FAILED, late.message
    (held,) = _findings(late, Status.FAILED)["cp-1 kube-controller-manager"]["certificates"]
    assert held["issued_at"] == signed.isoformat().replace("+00:00", "Z")
    assert held["issued_at_from"].startswith("NotAfter - 365d: its NotBefore is its CA's")
    assert _restarts(reference_copy, signed).status is Status.PASSED


def test_without_the_nodes_files_both_rules_say_what_is_missing() -> None:
    inventory = ClusterInventory(target="kubeconfig:/k", observed_at=dt.datetime.now(dt.UTC),
                                 components=ComponentsObservation(missing=(Missing.NODE_FILES,)))
    for rule in RULES:
        verdict = evaluate(catalog.get(rule), RuleContext(inventory, PALETTE, inventory.observed_at))
        assert verdict.status is Status.NOT_APPLICABLE
        assert verdict.findings[0].evidence["missing"] == ["node_files"]
        assert "needs the control-plane nodes' files (the certificates on disk)" in verdict.message
