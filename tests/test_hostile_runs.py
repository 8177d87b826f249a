"""Runs that end badly or meet hostile text: report paths that cannot be written, SIGINT and SIGTERM in the
middle, a command that would outlive kubecert, one folder under several spellings, control characters."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from kubecert.profiles import BUILTIN
from kubecert.reference.pki.issue import sign, template_of
from kubecert.reference.pki.tree import PkiTree
from kubecert.reports import outputs
from kubecert.reports.outputs import FORMATS
from kubecert.targets.pki import PkiTarget

from support import read_report, run_suite, validated

ESCAPES = "\x1b[2J\x1b[32mALL PASSED\x07"


def kubecert(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kubecert", "check", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


# ---------------------------------------------------------------- report paths


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_a_report_path_that_cannot_be_written_is_a_usage_error_before_any_check(
    tmp_path: Path, reference_tree: Any, where: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    path = tmp_path if where == "folder" else tmp_path / "a-file" / "report.json"
    run = kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--json", str(path), cwd=tmp_path)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 3, out + err
    assert "cannot write the reports" in err and f"--json {path}" in err
    assert "Traceback" not in out + err and "INTERNALERROR" not in out + err
    assert not (tmp_path / "reports").exists()  # nothing ran, nothing was written


def _unwritable_as_nobody(path: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.setgid(65534)
    os.setuid(65534)
    queue.put(outputs.unwritable(Path(path)))


def test_a_report_folder_without_write_permission_is_named(tmp_path: Path, reference_tree: Any) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    if os.geteuid() != 0:
        run = kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--html", str(locked / "r.html"),
                       cwd=tmp_path)
        _, err = run.communicate(timeout=120)
        assert run.returncode == 3 and "permission denied" in err
        return
    # root may write anywhere: judge the path as a user who may not, in a child that gives up root. Nobody
    # must reach the folder to be refused in it, so the folders above are opened to it for the while.
    opened = {folder: folder.stat().st_mode for folder in (tmp_path, *tmp_path.parents)
              if folder.stat().st_mode & 0o001 == 0}
    try:
        for folder, mode in opened.items():
            os.chmod(folder, mode | 0o001)
        queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()  # type: ignore[type-arg]
        child = multiprocessing.get_context("fork").Process(target=_unwritable_as_nobody,
                                                             args=(str(locked / "r.html"), queue))
        child.start()
        found = queue.get(timeout=30)
        child.join(10)
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
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2, out + err
    assert "could not write the report out/r.html.partial" not in out
    assert "could not write the report out/r.json" in out and "Traceback" not in out + err


# ---------------------------------------------------------------- interrupted runs

SLOW_CHECK = """
    import os, time, pytest
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(item):
        if item.name.startswith("KC-VAL-02"):
            open("started", "w").close()
            time.sleep(60)
        return (yield)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_writes_every_report_as_partial_and_removes_the_old_ones(
    tmp_path: Path, reference_tree: Any, signum: int
) -> None:
    (tmp_path / "slow.py").write_text(textwrap.dedent(SLOW_CHECK))
    reports = tmp_path / "reports"
    reports.mkdir()
    every_format = [fmt.file_name for fmt in FORMATS]
    for name in every_format:
        (reports / name).write_text("an earlier run's report")
    run = kubecert("--target", f"pki:{reference_tree.root / 'pki'}", "--plugin", "slow", "-q", cwd=tmp_path,
                   env={"PYTHONPATH": str(tmp_path)})
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signum)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2, out + err
    assert sorted(p.name for p in reports.iterdir()) == sorted(f"{name}.partial" for name in every_format)
    report = validated(json.loads((reports / "kubecert.json.partial").read_text()))
    assert report["complete"] is False
    assert '<property name="kubecert_complete" value="false"' in (reports / "kubecert-junit.xml.partial").read_text()
    assert "This run did not finish" in (reports / "kubecert.html.partial").read_text()


RENEWER = """
    import pathlib, sys, time
    beat = pathlib.Path(sys.argv[1])
    for i in range(600):
        beat.write_text(str(i))
        time.sleep(0.1)
"""


def test_a_renew_command_is_stopped_with_kubecert_and_the_report_says_the_node_may_be_mid_renewal(
    tmp_path: Path, node: Path
) -> None:
    renewer = tmp_path / "renewer.py"
    renewer.write_text(textwrap.dedent(RENEWER))
    beat = tmp_path / "beat"
    run = kubecert("--target", f"pki:{node / 'pki'}", "--allow-disruptive", "--rule", "KC-REN-01",
                   "--renew-command", f"{sys.executable} {renewer} {beat}", "-q", cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not beat.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2, out + err
    last = beat.read_text()
    time.sleep(0.5)
    assert beat.read_text() == last  # the command is gone: nothing changes the node after kubecert exits
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
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1  # KC-ID-01: the CN is not kube-apiserver
    written = [out, err] + [p.read_text() for p in (tmp_path / "reports").iterdir()]
    assert all("\x1b" not in text and "\x07" not in text for text in written)
    assert "\\x1b[2J\\x1b[32mALL PASSED\\x07" in out  # shown, escaped
    report = read_report(tmp_path / "reports" / "kubecert.json")
    assert any("\\x1b" in r["message"] for r in report["results"] if r["rule"] == "KC-ID-01")


def test_a_target_uri_with_control_characters_is_a_usage_error(tmp_path: Path) -> None:
    run = kubecert("--target", "pki:/etc/kubernetes/pki\x1b[2J", cwd=tmp_path)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 3 and "cannot hold control characters" in err and "\x1b" not in out + err
