"""Worker nodes: recognised from their files or declared, judged by the rules that concern a worker, and
told "not applicable" by every other rule of the catalog, never "missing"."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kubecert import cli
from kubecert.capabilities import NodeRole
from kubecert.inventory.role import recognise_role
from kubecert.profiles import BUILTIN
from kubecert.reference.pki import InitResult
from kubecert.rules import Status, all_rules
from kubecert.targets.pki import PkiTarget
from kubecert.targets.reference import expand_reference

from support import judge, not_passing, run_suite

WORKER_RULES = sorted(r.id for r in all_rules() if r.implemented and NodeRole.WORKER in r.roles)
CONTROL_PLANE_ONLY = sorted(r.id for r in all_rules() if r.implemented and r.roles and NodeRole.WORKER not in r.roles)


def _role(root: Path) -> tuple[str, str]:
    return recognise_role(root / "pki", root, root / "manifests")


def test_a_workers_files_make_a_worker_and_any_control_plane_file_a_control_plane(
        reference_worker: InitResult, reference_copy: Path, worker_copy: Path) -> None:
    assert _role(reference_worker.root) == (
        "worker", "recognised: kubelet.conf and no CA key, control-plane certificate, kubeconfig or manifest")
    assert _role(reference_copy)[0] == "control-plane"
    (reference_copy / "pki/apiserver.crt").unlink()  # a broken control plane is no worker
    assert _role(reference_copy) == ("control-plane", f"recognised by {reference_copy / 'pki/ca.key'}")
    assert "KC-INV-02" in not_passing(judge(reference_copy))
    (worker_copy / "scheduler.conf").write_text("left behind")
    assert _role(worker_copy) == ("control-plane", f"recognised by {worker_copy / 'scheduler.conf'}")
    (worker_copy / "scheduler.conf").unlink()
    (worker_copy / "kubelet.conf").unlink()
    assert _role(worker_copy) == ("control-plane", "recognised: no kubelet.conf, so no worker")


def test_a_control_plane_folder_without_its_ca_keys_and_leaves_is_still_no_worker_while_a_manifest_is_there(
        reference_copy: Path) -> None:
    pki = reference_copy / "pki"
    for path in {*pki.rglob("*.key"), *pki.rglob("*.crt"), *pki.glob("sa.*")} - {pki / "ca.crt"}:
        path.unlink()
    for name in ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"):
        (reference_copy / name).unlink()
    assert _role(reference_copy)[0] == "control-plane"  # the static pod manifests are still there
    shutil.rmtree(reference_copy / "manifests")
    assert _role(reference_copy)[0] == "worker"


def _worker_results(report: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in report["results"] if r["target"] == target}


def test_the_whole_catalog_on_a_worker_never_fails_or_errs_where_it_cannot_concern_one(
        pytester: pytest.Pytester, reference_worker: InitResult, tmp_path: Path) -> None:
    marker = tmp_path / "acted"
    target = f"pki:{reference_worker.root / 'pki'}"
    # Commands for every action, so that only the role keeps the renewal rules from acting on the worker.
    command = f"touch {marker} {{name}} {{csr_dir}} {{certificate_renewal}}"
    acting = [arg for option in ("renew", "renew-one", "csr", "check-expiration", "upgrade")
              for arg in (f"--kubecert-{option}-command", command)]
    result, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "palette",
                               "--kubecert-allow-disruptive", *acting)
    results = _worker_results(report, target)
    statuses = {rule: r["status"] for rule, r in results.items()}
    assert not marker.exists(), "a command acted on a worker"
    assert set(statuses.values()) <= {"passed", "not_applicable"}, statuses
    concerned = PkiTarget(target, BUILTIN["palette"], {}).concerns
    catalog = {r.id for r in all_rules() if r.implemented and concerned(r.capabilities)}
    assert set(results) == catalog  # every rule a node folder can be judged by has its result
    for rule in sorted(set(CONTROL_PLANE_ONLY) & catalog):  # of the rules a node folder can be judged by
        assert statuses[rule] == "not_applicable", rule
        assert f"{rule} concerns control-plane nodes; {target} is a worker node (recognised" in results[rule]["message"]
    for rule in WORKER_RULES:
        assert statuses[rule] == "passed", (rule, results[rule]["message"])
    [record] = [t for t in report["targets"] if t["id"] == target]
    assert record["role"] == "worker" and record["declared"] == {}
    assert "Traceback" not in result.stdout.str()


def test_a_worker_without_its_kubelet_folder_is_told_which_option_gives_it(
        pytester: pytest.Pytester, worker_copy: Path) -> None:
    shutil.rmtree(worker_copy / "kubelet")
    target = f"pki:{worker_copy / 'pki'}"
    _, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "palette")
    results = _worker_results(report, target)
    assert {r["status"] for r in results.values()} <= {"passed", "not_applicable", "skipped"}
    for rule in (r for r in WORKER_RULES if r.startswith("KC-KLT")):
        assert results[rule]["status"] == "skipped"
        assert "add ?kubelet=DIR (the node's /var/lib/kubelet, or a copy of it)" in results[rule]["message"]
    assert results["KC-EXP-01"]["status"] == "passed"  # ca.crt still counts


def test_the_role_declared_in_the_uri_overrides_what_the_files_say(
        pytester: pytest.Pytester, reference_worker: InitResult, reference_tree: InitResult) -> None:
    worker = f"pki:{reference_worker.root / 'pki'}?role=control-plane"
    control_plane = f"pki:{reference_tree.root / 'pki'}?role=worker&kubelet={reference_tree.root / 'kubelet'}"
    _, report = run_suite(pytester, "--kubecert-target", worker, "--kubecert-target", control_plane,
                          "--kubecert-profile", "palette", "--kubecert-rule", "KC-INV-*", "--kubecert-rule", "KC-KLT-*")
    as_control_plane, as_worker = _worker_results(report, worker), _worker_results(report, control_plane)
    assert as_control_plane["KC-INV-01"]["status"] == "failed"  # a worker has no CA keys and leaves
    assert "front-proxy-ca" in as_control_plane["KC-INV-01"]["message"]
    assert as_worker["KC-INV-01"]["status"] == "not_applicable"
    assert "is a worker node (declared in the target URI)" in as_worker["KC-INV-01"]["message"]
    assert {r["status"] for rule, r in as_worker.items() if rule.startswith("KC-KLT")} == {"passed"}
    declared = {t["id"]: (t["declared"], t["role"]) for t in report["targets"]}
    assert declared[control_plane] == ({"role": "worker"}, "worker")
    assert declared[worker] == ({"role": "control-plane"}, "control-plane")


def test_an_unknown_role_is_a_usage_error(pytester: pytest.Pytester, reference_worker: InitResult) -> None:
    result, report = run_suite(pytester, "--kubecert-target", f"pki:{reference_worker.root / 'pki'}?role=master")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "role 'master' is not a node role (control-plane, worker)" in result.stderr.str()
    assert not report


def test_evaluated_outside_pytest_the_role_gives_the_same_answer(reference_worker: InitResult) -> None:
    verdicts = judge(reference_worker.root)
    assert {rule for rule, v in verdicts.items() if v.status is Status.NOT_APPLICABLE} >= (
        set(CONTROL_PLANE_ONLY) & set(verdicts))
    assert not_passing(verdicts) == {}


def test_the_reference_stands_for_a_worker_too(pytester: pytest.Pytester) -> None:
    assert "reference:worker" in expand_reference("reference")
    _, report = run_suite(pytester, "--kubecert-target", "reference:worker")
    statuses = {r["rule"]: r["status"] for r in report["results"]}
    assert set(statuses.values()) <= {"passed", "not_applicable"}, statuses
    assert all(statuses[rule] == "passed" for rule in WORKER_RULES)
    assert all(statuses[rule] == "not_applicable" for rule in CONTROL_PLANE_ONLY if rule in statuses)
    assert report["targets"][0]["role"] == "worker"


def test_reference_init_writes_a_worker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "w"
    assert cli.main(["reference", "pki", "init", "--role", "worker", "--dir", str(root),
                     "--encryption-algorithm", "ECDSA-P256"]) == 0
    out, _ = capsys.readouterr()
    assert "This node has joined the cluster" in out and "PRIVATE KEY" not in out
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("kubelet/")] == ["kubelet.conf", "pki/ca.crt"]
    assert not_passing(judge(root)) == {}
    assert cli.main(["reference", "pki", "init", "--role", "worker", "--dir", str(tmp_path / "x"),
                     "--external-ca", "ca"]) == 3
    assert "--external-ca concerns control-plane nodes, not --role worker" in capsys.readouterr().err
