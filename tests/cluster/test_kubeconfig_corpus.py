"""The hostile kubeconfig corpus (kubeconfig_corpus.py) through every way kubecert takes a kubeconfig: the
``kubeconfig:`` target, ``kubeconfig:...?nodes=pods``, ``kind:`` (its kubeconfig comes from the node:
the stand-in engine serves it) and ``--palette-kubeconfig``. Each case is refused with an error naming the
kubeconfig and the field, under the audit guard: no command started (the marker a command would make is
never made), no file the kubeconfig names opened (inotify sees what OpenSSL opens too), no socket it names
dialled, nothing written outside the run's folders. A kubeconfig taken from a node is refused with the
operator's opt-ins given."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import audit
import pytest
from kubeconfig_corpus import CASES, PASSWORD, SECRET_TEXT, Baits, Case, baits

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import resolve
from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.pki.kubeconfig import parse_kubeconfig
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.targets.registry import Registry

from standin.engine import StandinEngine, engine_env, standin_engine

PATHS = ("kubeconfig", "nodes=pods", "kind", "palette")
KIND_NODE_FILE = "kind-control-plane:/etc/kubernetes/admin.conf"
OPT_INS = {"allow-kubeconfig-exec": True, "allow-kubeconfig-files": True}


@pytest.fixture(scope="module")
def engine(shared_cluster: ReferenceCluster, shared_served: ClusterServer) -> Iterator[StandinEngine]:
    with standin_engine("kind", shared_cluster, shared_served) as running:
        yield running


@pytest.fixture
def node_admin_conf(shared_cluster: ReferenceCluster) -> Iterator[Path]:
    """cp-1's admin.conf, which the stand-in engine serves as kind's node file; put back after the test."""
    path = shared_cluster.node_root(shared_cluster.control_plane_nodes()[0]) / "admin.conf"
    saved = path.read_bytes()
    yield path
    path.write_bytes(saved)


def _observe(uri: str, options: dict[str, Any]) -> str:
    """Expand, open and observe ``uri`` as a run does; what stopped it (every case must stop it)."""
    registry = Registry()
    target = None
    try:
        uris = registry.expand([uri], options)
        target = registry.open(uris[0], resolve("kubeadm", "kubeadm"), options, NodeFacts())
        target.observe()
    except (TargetError, TargetUnavailable) as exc:
        return str(exc)
    finally:
        if target is not None:
            target.close()
    raise AssertionError(f"{uri} was observed")


def _through(path: str, case: Case, bait: Baits, served: ClusterServer, node_file: Path,
             monkeypatch: pytest.MonkeyPatch, engine: StandinEngine) -> tuple[str, str, dict[str, Any]]:
    """(URI, what the error must name as the kubeconfig, options) for ``case`` taken through ``path``."""
    kubeconfig = case.write(parse_kubeconfig(served.admin_kubeconfig.read_bytes()), bait)
    if path == "kubeconfig":
        return f"kubeconfig:{kubeconfig}", f"the kubeconfig {kubeconfig}", {}
    if path == "nodes=pods":
        return f"kubeconfig:{kubeconfig}?nodes=pods", f"the kubeconfig {kubeconfig}", {}
    if path == "kind":
        node_file.write_bytes(kubeconfig.read_bytes())
        for name, value in engine_env(engine, "docker").items():
            monkeypatch.setenv(name, value)
        return "kind:kind", KIND_NODE_FILE, OPT_INS  # the operator's opt-ins never reach a node's kubeconfig
    monkeypatch.setenv("PALETTE_API_KEY", "corpus-key-0123456789")
    return ("palette:https://127.0.0.1:1?cluster=c1", f"--palette-kubeconfig: the kubeconfig {kubeconfig}",
            {"palette-kubeconfig": str(kubeconfig)})


def _applies(path: str, case: Case) -> bool:
    return path != "kind" or case.server_kept


@pytest.mark.parametrize(("path", "case"), [pytest.param(path, case, id=f"{path}-{case.name}")
                                            for path in PATHS for case in CASES if _applies(path, case)])
def test_a_hostile_kubeconfig_is_refused_naming_its_field_and_touching_nothing(
        path: str, case: Case, tmp_path: Path, shared_served: ClusterServer, node_admin_conf: Path,
        monkeypatch: pytest.MonkeyPatch, engine: StandinEngine) -> None:
    with baits(tmp_path) as bait:
        uri, source, options = _through(path, case, bait, shared_served, node_admin_conf, monkeypatch, engine)
        with audit.guard() as seen, audit.opens_of([bait.secret]) as opened:
            problem = _observe(uri, options)
        assert source in problem, problem
        assert case.named in problem, problem
        assert PASSWORD not in problem and SECRET_TEXT.strip() not in problem
        assert not bait.marker.exists(), "a command the kubeconfig names ran"
        assert opened == [], "a file the kubeconfig names was opened"
        assert not bait.dialled(), "an address the kubeconfig names was dialled"
    assert seen.processes_besides(["docker"] if path == "kind" else []) == []
    assert seen.writes_outside([tmp_path]) == []


@pytest.mark.parametrize("path", PATHS)
def test_the_good_kubeconfig_goes_through_the_same_paths(
        path: str, tmp_path: Path, shared_served: ClusterServer, node_admin_conf: Path,
        monkeypatch: pytest.MonkeyPatch, engine: StandinEngine) -> None:
    """The corpus's control: its source, unchanged, is used on every path (so each refusal is the field's)."""
    good = Case("good", "", lambda document, bait: document)
    with baits(tmp_path) as bait:
        uri, _, options = _through(path, good, bait, shared_served, node_admin_conf, monkeypatch, engine)
        registry = Registry()
        with audit.guard() as seen:
            uris = registry.expand([uri], options)
            target = registry.open(uris[0], resolve("kubeadm", "kubeadm"), options, NodeFacts())
            try:
                if path != "palette":  # palette's kubeconfig serves only the annotation, checked when opened
                    assert target.observe().cluster.served is not None  # type: ignore[attr-defined]
            finally:
                target.close()
    if path in ("nodes=pods", "kind"):
        assert len(uris) == 4, uris  # the cluster and its three control-plane nodes, listed through the API
    assert seen.processes_besides(["docker"] if path == "kind" else []) == []
    assert seen.writes_outside([tmp_path]) == []


def test_the_whole_corpus_through_the_command(tmp_path: Path, shared_served: ClusterServer) -> None:
    """One ``kubecert check`` of every case as ``kubeconfig:`` and as ``?nodes=pods``, audited from its first
    line: each target is an error naming its field, and the run touched nothing any kubeconfig names."""
    with baits(tmp_path) as bait:
        paths = {case.name: case.write(parse_kubeconfig(shared_served.admin_kubeconfig.read_bytes()), bait)
                 for case in CASES}
        targets = [uri for path in paths.values() for uri in (f"kubeconfig:{path}", f"kubeconfig:{path}?nodes=pods")]
        report = tmp_path / "report.json"
        with audit.opens_of([bait.secret]) as opened:
            run, seen = audit.run_audited(
                ["check", "-q", "--json", str(report), "--rule", "KC-CL-*", "--rule", "KC-EXP-01",
                 *(word for uri in targets for word in ("--target", uri))], cwd=tmp_path)
        assert run.returncode == 2, run.stdout + run.stderr
        assert "Traceback" not in run.stdout + run.stderr
        assert not bait.marker.exists() and opened == [] and not bait.dialled()
    found = json.loads(report.read_text())
    for case in CASES:
        for uri in (f"kubeconfig:{paths[case.name]}", f"kubeconfig:{paths[case.name]}?nodes=pods"):
            results = [r for r in found["results"] if r["target"] == uri]
            assert {r["status"] for r in results} <= {"error", "skipped"}, (uri, results)
            errors = [r["message"] for r in results if r["status"] == "error"]
            assert errors and all(case.named in m and str(paths[case.name]) in m for m in errors), (uri, errors)
    unverified = next(r for r in found["results"] if r["rule"] == "KC-CL-01"
                      and r["target"] == f"kubeconfig:{paths['insecure-skip-tls-verify']}")
    assert unverified["status"] == "error"  # never a pass: kubecert verifies, or says why it cannot
    assert "clusters[0].cluster.insecure-skip-tls-verify is true" in unverified["message"]
    text = report.read_text() + run.stdout + run.stderr
    assert PASSWORD not in text and SECRET_TEXT.strip() not in text
    assert seen.processes == []
    assert seen.writes_outside([tmp_path]) == []


@pytest.fixture
def own_engine(cluster: ReferenceCluster, served: ClusterServer) -> Iterator[StandinEngine]:
    with standin_engine("kind", cluster, served) as running:
        yield running


@pytest.mark.parametrize("opt_ins", [(), ("--allow-kubeconfig-exec", "--allow-kubeconfig-files")],
                         ids=["plain", "with-opt-ins"])
def test_a_kind_nodes_exec_kubeconfig_never_runs_whatever_the_options(
        tmp_path: Path, cluster: ReferenceCluster, served: ClusterServer, own_engine: StandinEngine,
        opt_ins: tuple[str, ...]) -> None:
    """Through the command: the node's admin.conf asks to run a command, with or without the operator's
    opt-ins; the cluster target is an error naming the node's file and the field, and its nodes are still
    judged."""
    exec_case = next(case for case in CASES if case.name == "exec-touch")
    with baits(tmp_path) as bait:
        hostile = exec_case.write(parse_kubeconfig(served.admin_kubeconfig.read_bytes()), bait)
        (cluster.node_root("cp-1") / "admin.conf").write_bytes(hostile.read_bytes())
        report = tmp_path / "report.json"
        run, seen = audit.run_audited(
            ["check", "-q", "--profile", "palette", "--json", str(report), "--target", "kind:kind", *opt_ins,
             "--rule", "KC-CL-01", "--rule", "KC-INV-01"],
            cwd=tmp_path, env=engine_env(own_engine, "docker"))
        assert not bait.marker.exists(), "the node's kubeconfig ran a command on the host"
    assert run.returncode == 2, run.stdout + run.stderr
    found = json.loads(report.read_text())["results"]
    cluster_result = next(r for r in found if r["target"] == "kind:kind" and r["rule"] == "KC-CL-01")
    assert cluster_result["status"] == "error"
    assert f"{KIND_NODE_FILE}: users[0].user.exec runs a command: kubecert never runs a command that a kubeconfig " \
           "taken from a node names" in cluster_result["message"]
    nodes = {r["target"]: r["status"] for r in found if r["rule"] == "KC-INV-01"}
    assert nodes == {f"kind:kind/{node}": "passed" for node in ("cp-1", "cp-2", "cp-3")}
    assert seen.processes_besides(["docker"]) == []
    assert seen.writes_outside([tmp_path]) == []


def test_a_refused_palette_kubeconfig_is_a_usage_error_before_anything_runs(
        tmp_path: Path, shared_served: ClusterServer) -> None:
    exec_case = next(case for case in CASES if case.name == "exec-shell")
    with baits(tmp_path) as bait:
        hostile = exec_case.write(parse_kubeconfig(shared_served.admin_kubeconfig.read_bytes()), bait)
        run, seen = audit.run_audited(
            ["check", "--target", "palette:https://127.0.0.1:1?cluster=c1", "--palette-kubeconfig", str(hostile)],
            cwd=tmp_path, env={"PALETTE_API_KEY": "corpus-key-0123456789"})
        assert not bait.marker.exists()
    assert run.returncode == 3, run.stdout + run.stderr
    assert f"--palette-kubeconfig: the kubeconfig {hostile}: users[0].user.exec runs a command: kubecert runs a " \
           "kubeconfig's exec plugin only with --allow-kubeconfig-exec" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert seen.processes == []
    assert seen.writes_outside([tmp_path]) == []
