"""The tar corpus (tar_corpus.py) through every path a copy of a node's files takes: tarcopy.unpack itself;
kind's node copy (/etc/kubernetes and /var/lib/kubelet through ``docker exec ... tar``, answered by the
stand-in engine, standin/) and its CSR copy (generate-csr's scratch folder); and ``?nodes=pods``, the reader
pod's log as the reference cluster serves it (both of its streams). Each case on each path runs under the
audit guard: the notes or the error the case expects, nothing written outside the copy (not even into
kubecert's own temporary folder), no process but the engine's client, nothing at the aim, and no link in
the copy that leads out of it. Then a few cases through ``kubecert check`` itself, in an audited child."""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import audit
import pytest
import tar_corpus

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.kube import kubelet as reference_kubelet
from kubecert.targets.cluster import readerpod as rp
from kubecert.targets.cluster import tarcopy
from kubecert.targets.cluster.kind import KindParts
from kubecert.targets.cluster.pods import PodsParts
from kubecert.targets.cluster.runtime import ContainerRuntime
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.errors import TargetUnavailable

from reader_support import create_all, rbac_documents
from standin.engine import CSR_SCRATCH, StandinEngine, engine_env, standin_engine
from support import read_report, result_for

CASES = tar_corpus.cases()
NODE = "cp-1"
ETC, KUBELET = "/etc/kubernetes", "/var/lib/kubelet"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The Kubernetes client writes a kubeconfig's certificate data to tempfile.mkstemp files of its own
# (kube_config.py, _create_temp_file_with_content): the API client's doing, not a copy's.
_KUBERNETES_CLIENT_FILE = re.compile(re.escape(os.path.realpath(tempfile.gettempdir())) + r"/tmp[a-z0-9_]{8}")


@dataclass
class Outcome:
    """What one path made of one stream."""

    folder: str  # the copied folder, as the notes name it
    dest: Path  # where its copy was to be
    roots: list[Path]  # where the path may write at all (the copy among them)
    seen: audit.Seen
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    exact: list[Path] = field(default_factory=list)  # folders the path may make besides (a copy's parent)
    programs: tuple[str, ...] = ()


def _judged(case: tar_corpus.Case, outcome: Outcome, aim: Path) -> None:
    words = {"folder": outcome.folder}
    if case.error is not None:
        assert outcome.error is not None, outcome.notes
        assert case.error.format(**words) in outcome.error, outcome.error
        assert not os.path.lexists(outcome.dest), "a refused copy was left to be judged"
    else:
        assert outcome.error is None, outcome.error
        for expected in case.notes:
            assert any(expected.format(**words) in note for note in outcome.notes), (expected, outcome.notes)
        if case.holds is not None:
            case.holds(outcome.dest)
    for note in outcome.notes:
        assert not _CONTROL.search(note), note
        note.encode()  # a report can hold it
    mine = [n for n in outcome.notes if outcome.folder in n]
    assert len(mine) <= tarcopy.MAX_NOTES + 1, len(mine)
    exact = {os.path.realpath(p) for p in outcome.exact}
    beyond = [path for path in outcome.seen.writes_outside(outcome.roots, own_temp=False) if path not in exact]
    assert beyond == [], beyond  # kubecert's own temporary folder is no excuse: the copy stays in its folder
    assert outcome.seen.processes_besides(outcome.programs) == []
    assert list(aim.iterdir()) == []
    if outcome.dest.exists():
        for folder, names, files in os.walk(outcome.dest):
            for name in names + files:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    assert _under(os.path.realpath(path), os.path.realpath(outcome.dest)), (path, os.readlink(path))


def _under(path: str, root: Path | str) -> bool:
    top = os.path.realpath(root)
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


@pytest.fixture
def aim(tmp_path: Path) -> Path:
    """Where the escaping cases aim: outside every copy."""
    folder = tmp_path / "aim"
    folder.mkdir()
    return folder


# --- the function itself


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_unpack(case: tar_corpus.Case, tmp_path: Path, aim: Path) -> None:
    dest = tmp_path / "two" / "up" / "copy"  # two folders above the copy are the test's own, watched
    dest.parent.mkdir(parents=True)
    data = case.build(aim)
    outcome = Outcome(ETC, dest, [dest], audit.Seen())
    with audit.guard() as outcome.seen:
        try:
            outcome.notes = tarcopy.unpack(data, dest, ETC)
        except TargetUnavailable as exc:
            outcome.error = str(exc)
    _judged(case, outcome, aim)
    assert not (tmp_path / "two" / tar_corpus.ESCAPED).exists()


# --- kind: the node copy and the CSR copy, through the stand-in engine's client


@pytest.fixture(scope="module")
def engine(shared_cluster: ReferenceCluster, shared_served: ClusterServer) -> Iterator[StandinEngine]:
    with standin_engine("kind", shared_cluster, shared_served) as running:
        yield running


@pytest.fixture
def kind_parts(engine: StandinEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[KindParts]:
    env = engine_env(engine, "docker")
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("KUBECERT_STANDIN_ENGINE", env["KUBECERT_STANDIN_ENGINE"])
    parts = KindParts("kind:kind", "kind", ContainerRuntime("docker"), 60.0)
    yield parts
    parts.close()
    engine.copies.clear()


@pytest.mark.parametrize("folder", [ETC, KUBELET])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_kind_node_copy(case: tar_corpus.Case, folder: str, aim: Path, engine: StandinEngine,
                        kind_parts: KindParts) -> None:
    engine.copies[folder] = case.build(aim)
    _judged(case, _node_read(kind_parts, folder, "could not be copied: ", programs=("docker",)), aim)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_kind_csr_copy(case: tar_corpus.Case, tmp_path: Path, aim: Path, engine: StandinEngine,
                       kind_parts: KindParts) -> None:
    engine.copies[CSR_SCRATCH] = case.build(aim)
    csr_dir = tmp_path / "csr"
    outcome = Outcome("", csr_dir, [csr_dir, engine.folder], audit.Seen(), programs=("docker",))
    with audit.guard() as outcome.seen:
        try:
            record = kind_parts.node_actions(NODE).generate_csr(csr_dir)
            assert record.exit_code == 0, record
        except TargetUnavailable as exc:
            outcome.error = str(exc)
    outcome.folder = next(call[4] for call in reversed(engine.calls) if call[2:4] == ["tar", "-C"])
    outcome.notes = list(kind_parts.notes)
    _judged(case, outcome, aim)
    assert not engine.scratch  # the scratch folder was removed from the node whatever the copy held


def _node_read(parts: KindParts | PodsParts, folder: str, refused: str, roots: tuple[Path, ...] = (),
               programs: tuple[str, ...] = ()) -> Outcome:
    """Read NODE through ``parts`` under the guard. The kubelet's copy is not the node's: when it is refused,
    the node is still read and a note says why (after ``refused``); that note is the refusal judged."""
    node = parts.folder / "nodes" / NODE
    outcome = Outcome(folder, node if folder == ETC else node / "kubelet", [node, *roots], audit.Seen(),
                      exact=[node.parent], programs=programs)
    with audit.guard() as outcome.seen:
        try:
            parts.node_tree(NODE)
        except TargetUnavailable as exc:
            outcome.error = str(exc)
    refusals = [note.split(refused, 1)[1] for note in parts.notes if f"{KUBELET} {refused}" in note]
    outcome.notes = [note for note in parts.notes if f"{KUBELET} {refused}" not in note]
    outcome.error = outcome.error or (refusals[0] if refusals else None)
    return outcome


# --- ?nodes=pods: the reader pod's log, as the reference cluster's kubelet serves it


@pytest.fixture(scope="module")
def reader(shared_served: ClusterServer, shared_https: Any) -> ClusterServer:
    create_all(shared_https, shared_served.url, rbac_documents())
    return shared_served


def _log_with(stream: bytes, folder: str) -> Callable[[Path], bytes]:
    """The reader's log for a node, with ``stream`` in place of ``folder``'s part."""
    real = reference_kubelet.tree_log

    def log(root: Path) -> bytes:
        etc, mark, kubelet = real(root).partition(reference_kubelet.KUBELET_MARK)
        hostile = base64.encodebytes(stream)
        return (hostile + mark + kubelet) if folder == ETC else (etc + mark + hostile)

    return log


@pytest.mark.parametrize("folder", [ETC, KUBELET])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_reader_pod_copy(case: tar_corpus.Case, folder: str, aim: Path, reader: ClusterServer,
                         shared_cluster: ReferenceCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference_kubelet, "tree_log", _log_with(case.build(aim), folder))
    parts = PodsParts(f"kubeconfig:{reader.admin_kubeconfig}?nodes=pods", reader.admin_kubeconfig, None,
                      namespace=rp.DEFAULT_NAMESPACE, image=rp.DEFAULT_IMAGE, timeout_s=60.0,
                      trust=KubeconfigTrust())
    try:
        # The Kubernetes client writes the kubeconfig's certificates to temporary files when it is made: made
        # first. The reference cluster serves from this process: its own state is written beside its files.
        assert NODE in parts.control_plane()
        _judged(case, _node_read(parts, folder, "could not be read from the log", roots=(shared_cluster.folder,)),
                aim)
    finally:
        parts.close()


# --- through the command, in an audited child: what reaches the report


def _check(tmp_path: Path, uri: str, env: dict[str, str] | None = None) -> tuple[Any, dict[str, Any], audit.Seen]:
    report = tmp_path / "r.json"
    run, seen = audit.run_audited(["check", "-q", "--json", str(report), "--profile", "palette", "--target", uri,
                                   "--rule", "KC-INV-01", "--rule", "KC-FILE-01"], cwd=tmp_path, env=env)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    return run, read_report(report), seen


def _own_temp_writes(seen: audit.Seen, prefix: str, allowed: Callable[[tuple[str, ...]], bool]) -> list[str]:
    """Writes in kubecert's own temporary folders (``prefix``*) at places the copy must not reach."""
    temp = os.path.realpath(tempfile.gettempdir())
    found = []
    for path in seen.writes:
        relative = os.path.relpath(path, temp).split(os.sep) if _under(path, temp) else []
        if relative and relative[0].startswith(prefix) and not allowed(tuple(relative[1:])):
            found.append(path)
    return found


def _in_node_copies(parts: tuple[str, ...]) -> bool:
    return parts in ((), ("nodes",), ("admin.conf",)) or (parts[:1] == ("nodes",) and len(parts) >= 2)


COMMAND_CASES = {case.name: case for case in CASES if case.name in ("link-chain-to-the-root-then-down",
                                                                    "huge-pax-header")}


def _after_the_node(case: tar_corpus.Case, aim: Path, root: Path) -> bytes:
    """The node's own /etc/kubernetes, then the case's members: what a node that also holds them would send.
    A stream that is refused whole is sent as it is."""
    if case.error is not None:
        return case.build(aim)
    stream = tar_corpus.Stream()
    stream.archive.add(root, arcname=".", recursive=False)
    for child in sorted(root.iterdir()):
        if child.name != "kubelet":  # on a node it is /var/lib/kubelet, copied on its own
            stream.archive.add(child, arcname=f"./{child.name}")
    with tarfile.open(fileobj=io.BytesIO(case.build(aim)), mode="r:") as hostile:
        for member in hostile:
            stream.archive.addfile(member, hostile.extractfile(member) if member.isfile() else None)
    return stream.bytes()


@pytest.mark.parametrize("name", COMMAND_CASES)
def test_kind_through_the_command(name: str, tmp_path: Path, aim: Path, engine: StandinEngine,
                                  shared_cluster: ReferenceCluster) -> None:
    case = COMMAND_CASES[name]
    engine.copies[ETC] = _after_the_node(case, aim, shared_cluster.node_root(NODE))
    try:
        run, report, seen = _check(tmp_path, f"kind:kind/{NODE}", engine_env(engine, "docker"))
    finally:
        engine.copies.clear()
    _said_in_the_report(case, run, report, f"kind:kind/{NODE}")
    assert seen.writes_outside([tmp_path]) == []
    assert _own_temp_writes(seen, "kubecert-kind-", _in_node_copies) == []
    assert seen.processes_besides(["docker"]) == []
    assert list(aim.iterdir()) == []


@pytest.mark.parametrize("name", COMMAND_CASES)
def test_reader_pod_through_the_command(name: str, tmp_path: Path, aim: Path, reader: ClusterServer,
                                        shared_cluster: ReferenceCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    case = COMMAND_CASES[name]
    stream = _after_the_node(case, aim, shared_cluster.node_root(NODE))
    monkeypatch.setattr(reference_kubelet, "tree_log", _log_with(stream, ETC))
    uri = f"kubeconfig:{reader.admin_kubeconfig}/{NODE}?nodes=pods"
    run, report, seen = _check(tmp_path, uri)
    _said_in_the_report(case, run, report, uri)
    assert [path for path in seen.writes_outside([tmp_path]) if not _KUBERNETES_CLIENT_FILE.fullmatch(path)] == []
    assert _own_temp_writes(seen, "kubecert-pods-", _in_node_copies) == []
    assert seen.processes_besides([]) == []
    assert list(aim.iterdir()) == []


def _said_in_the_report(case: tar_corpus.Case, run: Any, report: dict[str, Any], uri: str) -> None:
    if case.error is not None:  # the node's rules could not judge: errors naming the copy, exit 2
        assert run.returncode == 2, run.stdout + run.stderr
        for rule in ("KC-INV-01", "KC-FILE-01"):
            result = result_for(report, rule, uri)
            assert result["status"] == "error" and case.error.format(folder=ETC) in result["message"], result
    else:  # the rest of the node was judged; what was left out is in the report's notes
        assert run.returncode == 0, run.stdout + run.stderr
        for expected in case.notes:
            assert any(expected.format(folder=ETC) in note for note in report["notes"]), (expected, report["notes"])
