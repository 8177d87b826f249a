"""Runs that end badly or meet hostile text: report paths that cannot be written, SIGINT and SIGTERM in the
middle, a command that would outlive kubecert, one folder under several spellings, control characters.

Every child starts with known signal dispositions (with_signals.py), whatever the test worker inherited,
and a test that signals one waits for a line the run prints when it is where the signal must find it;
timeouts are generous and only guard against a hang."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kubecert.profiles import BUILTIN
from kubecert.reference.pki.issue import sign, template_of
from kubecert.reference.pki.tree import PkiTree
from kubecert.reports import outputs
from kubecert.reports.outputs import FORMATS
from kubecert.targets.pki import PkiTarget

from support import read_report, run_suite, validated, with_signals

ESCAPES = "\x1b[2J\x1b[32mALL PASSED\x07"
HANG_GUARD_S = 300.0  # no test waits this long unless kubecert hangs


def kubecert(*args: str, cwd: Path, env: dict[str, str] | None = None,
             signals: str = "default") -> subprocess.Popen[str]:
    """``kubecert check ARGS`` in a child with SIGINT and SIGTERM at their defaults, or with one ignored
    (``signals``, as support.with_signals takes it)."""
    command = with_signals([sys.executable, "-m", "kubecert", "check", *args], signals)
    return subprocess.Popen(command, cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


class Output:
    """A child's output, read as it comes so that a test can wait for a line, and whole at the end."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.said: dict[str, list[str]] = {"out": [], "err": []}
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(name, stream), daemon=True)
                         for name, stream in (("out", process.stdout), ("err", process.stderr))]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: Any) -> None:
        for line in stream:
            self.said[name].append(line)
            self._lines.put(line)
        self._lines.put(None)  # this stream has ended

    def text(self) -> str:
        return "".join(self.said["out"]) + "".join(self.said["err"])

    def wait_for(self, wanted: str) -> None:
        """Until a line says ``wanted``; a failure naming what was said if the run ends or hangs first."""
        deadline, ended = time.monotonic() + HANG_GUARD_S, 0
        while ended < len(self._readers):
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no line saying {wanted!r} within {HANG_GUARD_S:g} s:\n{self.text()}")
            if line is None:
                ended += 1
            elif wanted in line:
                return
        pytest.fail(f"the run ended without saying {wanted!r}:\n{self.text()}")

    def finish(self) -> tuple[str, str]:
        """Its whole output once it has exited."""
        self.process.wait(HANG_GUARD_S)
        for reader in self._readers:
            reader.join(HANG_GUARD_S)
        return "".join(self.said["out"]), "".join(self.said["err"])


@contextmanager
def reading(process: subprocess.Popen[str]) -> Iterator[Output]:
    """The child's output as it comes; the child is killed if the test leaves it running."""
    try:
        yield Output(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(HANG_GUARD_S)


def wait_until(done: Callable[[], bool], what: str) -> None:
    """Until ``done()``; a failure saying ``what`` did not happen if it takes longer than a hang."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {HANG_GUARD_S:g} s")
        time.sleep(0.05)


# ---------------------------------------------------------------- report paths


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_a_report_path_that_cannot_be_written_is_a_usage_error_before_any_check(
    tmp_path: Path, reference_tree: Any, where: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    path = tmp_path if where == "folder" else tmp_path / "a-file" / "report.json"
    run = kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--json", str(path), cwd=tmp_path)
    out, err = run.communicate(timeout=HANG_GUARD_S)
    assert run.returncode == 3, out + err
    assert "cannot write the reports" in err and f"--json {path}" in err
    assert "Traceback" not in out + err and "INTERNALERROR" not in out + err
    assert not (tmp_path / "reports").exists()  # nothing ran, nothing was written


def _unwritable_as_nobody(path: str, answer: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.setgid(65534)
    os.setuid(65534)
    answer.put(outputs.unwritable(Path(path)))


def test_a_report_folder_without_write_permission_is_named(tmp_path: Path, reference_tree: Any) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    if os.geteuid() != 0:
        run = kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--html", str(locked / "r.html"),
                       cwd=tmp_path)
        _, err = run.communicate(timeout=HANG_GUARD_S)
        assert run.returncode == 3 and "permission denied" in err
        return
    # root may write anywhere: judge the path as a user who may not, in a child that gives up root. Nobody
    # must reach the folder to be refused in it, so the folders above are opened to it for the while.
    opened = {folder: folder.stat().st_mode for folder in (tmp_path, *tmp_path.parents)
              if folder.stat().st_mode & 0o001 == 0}
    try:
        for folder, mode in opened.items():
            os.chmod(folder, mode | 0o001)
        answer: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()  # type: ignore[type-arg]
        child = multiprocessing.get_context("fork").Process(target=_unwritable_as_nobody,
                                                             args=(str(locked / "r.html"), answer))
        child.start()
        found = answer.get(timeout=HANG_GUARD_S)
        child.join(HANG_GUARD_S)
    finally:
        for folder, mode in opened.items():
            os.chmod(folder, mode)
    assert found == f"{locked / 'r.html'}: cannot write in {locked} (permission denied)"


def test_a_report_that_cannot_be_written_at_the_end_exits_2_and_says_so(tmp_path: Path, reference_tree: Any) -> None:
    (tmp_path / "vanish.py").write_text(textwrap.dedent("""
        import shutil, pytest
        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionfinish(session):
            shutil.rmtree("out", ignore_errors=True)
            open("out", "w").close()  # the report folder became a file
    """))
    run = kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "--plugin", "vanish",
                   "--json", "out/r.json", "--html", "out/r.html", "--junitxml", "r.xml", "-q", cwd=tmp_path,
                   env={"PYTHONPATH": str(tmp_path)})
    out, err = run.communicate(timeout=HANG_GUARD_S)
    assert run.returncode == 2, out + err
    assert "could not write the report out/r.html.partial" not in out
    assert "could not write the report out/r.json" in out and "Traceback" not in out + err


# ---------------------------------------------------------------- interrupted runs

STARTED = "kubecert-test: the slow check has started"
SLOW_CHECK = f"""
    import sys, time, pytest
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(item):
        if item.name.startswith("KC-VAL-02"):
            with item.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
                print("{STARTED}", file=sys.stderr, flush=True)
            time.sleep(3600)  # until a signal stops the run
        return (yield)
"""


def _slow_run(tmp_path: Path, reference_tree: Any, signals: str = "default") -> subprocess.Popen[str]:
    (tmp_path / "slow.py").write_text(textwrap.dedent(SLOW_CHECK))
    return kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--plugin", "slow", "-q", cwd=tmp_path,
                    env={"PYTHONPATH": str(tmp_path)}, signals=signals)


def _partial_reports(reports: Path) -> None:
    assert sorted(p.name for p in reports.iterdir()) == sorted(f"{fmt.file_name}.partial" for fmt in FORMATS)
    report = validated(json.loads((reports / "kubecert.json.partial").read_text()))
    assert report["complete"] is False
    assert '<property name="kubecert_complete" value="false"' in (reports / "kubecert-junit.xml.partial").read_text()
    assert "This run did not finish" in (reports / "kubecert.html.partial").read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_writes_every_report_as_partial_and_removes_the_old_ones(
    tmp_path: Path, reference_tree: Any, signum: int
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for fmt in FORMATS:
        (reports / fmt.file_name).write_text("an earlier run's report")
    run = _slow_run(tmp_path, reference_tree)
    with reading(run) as output:
        output.wait_for(STARTED)
        run.send_signal(signum)
        out, err = output.finish()
    assert run.returncode == 2, out + err
    assert f"stopped by signal {signal.Signals(signum).name}" in out, out + err
    _partial_reports(reports)


@pytest.mark.parametrize(("signals", "ignored", "stopping"), [
    ("sigint-ignored", signal.SIGINT, signal.SIGTERM),  # a shell's background job: `kubecert check &`
    ("sigterm-ignored", signal.SIGTERM, signal.SIGINT),
])
def test_a_signal_the_run_was_started_with_ignored_stays_ignored_and_the_other_stops_it(
    tmp_path: Path, reference_tree: Any, signals: str, ignored: int, stopping: int
) -> None:
    run = _slow_run(tmp_path, reference_tree, signals)
    with reading(run) as output:
        output.wait_for(STARTED)
        # Both before the run can act on either: had it taken the ignored one, it would say so first (Python
        # runs the handlers of pending signals in their numeric order, and SIGINT is 2, SIGTERM 15).
        run.send_signal(ignored)
        run.send_signal(stopping)
        out, err = output.finish()
    assert run.returncode == 2, out + err
    assert f"stopped by signal {signal.Signals(stopping).name}" in out, out + err
    assert signal.Signals(ignored).name not in out + err
    _partial_reports(tmp_path / "reports")


RENEWER = """
    import os, pathlib, sys, time
    pathlib.Path(sys.argv[2]).write_text(str(os.getpid()))
    beat = pathlib.Path(sys.argv[1])
    for i in range(36000):
        beat.write_text(str(i))
        time.sleep(0.1)
"""


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie has stopped: it can change nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_renew_command_is_stopped_with_kubecert_and_the_report_says_the_node_may_be_mid_renewal(
    tmp_path: Path, node: Path
) -> None:
    renewer = tmp_path / "renewer.py"
    renewer.write_text(textwrap.dedent(RENEWER))
    beat, pid = tmp_path / "beat", tmp_path / "renewer.pid"
    run = kubecert("--target", f"pki:{node / 'pki'}", "--allow-disruptive", "--rule", "KC-REN-01",
                   "--renew-command", f"{sys.executable} {renewer} {beat} {pid}", "-q", cwd=tmp_path)
    with reading(run) as output:
        wait_until(beat.exists, "the renew command's first beat")
        run.send_signal(signal.SIGTERM)
        out, err = output.finish()
    assert run.returncode == 2, out + err
    assert not _running(int(pid.read_text()))  # nothing is left to change the node after kubecert exits
    report = validated(json.loads((tmp_path / "reports" / "kubecert.json.partial").read_text()))
    assert any("was stopped midway: the node may be half-renewed" in note for note in report["notes"])
    assert "was stopped midway" in out + err


# ---------------------------------------------------------------- one folder, several spellings


def test_one_folder_under_several_spellings_is_one_target_with_one_lock(
    pytester: pytest.Pytester, reference_tree: Any
) -> None:
    pki = reference_tree.root / "pki"
    spellings = [f"pki:{pki}", f"pki:{pki}/", f"pki:{pki.parent}/../{pki.parent.name}/pki"]
    identities = {PkiTarget(uri, BUILTIN["palette"], {}).identity for uri in spellings}
    assert identities == {f"pki:{os.path.realpath(pki)}"}
    args = [a for uri in spellings for a in ("--kubecert-target", uri)]
    result, report = run_suite(pytester, *args, "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-*")
    assert [t["id"] for t in report["targets"]] == [spellings[0]]
    assert len(report["results"]) == 4
    assert f"{spellings[1]} is {spellings[0]}" in result.stdout.str() + result.stderr.str()


# ---------------------------------------------------------------- control characters


def test_control_characters_from_a_target_never_reach_the_terminal_or_a_report(
    tmp_path: Path, reference_copy: Path
) -> None:
    tree = PkiTree(reference_copy)
    ca, leaf = tree.cert("ca"), tree.cert("apiserver")
    forged = dataclasses.replace(template_of(leaf), cn=ESCAPES, dns=(*template_of(leaf).dns, ESCAPES.lower()))
    tree.write_cert("apiserver", sign(forged, public_key=leaf.public_key(), signer_key=tree.key("ca"),  # type: ignore[arg-type]
                                      issuer=ca))
    run = kubecert("--target", f"pki:{reference_copy / 'pki'}", "--profile", "palette", cwd=tmp_path)
    out, err = run.communicate(timeout=HANG_GUARD_S)
    assert run.returncode == 1  # KC-ID-01: the CN is not kube-apiserver
    written = [out, err] + [p.read_text() for p in (tmp_path / "reports").iterdir()]
    assert all("\x1b" not in text and "\x07" not in text for text in written)
    assert "\\x1b[2J\\x1b[32mALL PASSED\\x07" in out  # shown, escaped
    report = read_report(tmp_path / "reports" / "kubecert.json")
    assert any("\\x1b" in r["message"] for r in report["results"] if r["rule"] == "KC-ID-01")


def test_a_target_uri_with_control_characters_is_a_usage_error(tmp_path: Path) -> None:
    run = kubecert("--target", "pki:/etc/kubernetes/pki\x1b[2J", cwd=tmp_path)
    out, err = run.communicate(timeout=HANG_GUARD_S)
    assert run.returncode == 3 and "cannot hold control characters" in err and "\x1b" not in out + err
