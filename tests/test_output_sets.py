"""One run writes a report at a time: a second run that would write a report of the first while it runs is
refused, naming the first; the set is written as a whole, so a report that cannot be rendered leaves none of
the set and the previous one as it was; ``report merge`` validates every input before writing anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from report_sets import contents, previous_set

from kubecert.reports.outputs import FORMATS

NAMES = sorted(fmt.file_name for fmt in FORMATS)
# A pytest plugin (kubecert check --plugin) that holds the run after collection until the test says go.
HOLD = '''
import os, pathlib, time

def pytest_collection_finish(session):
    folder = pathlib.Path(os.environ["KUBECERT_TEST_HOLD"])
    (folder / "started").write_text("")
    for _ in range(6000):  # a guard against a test that never says go, not a pace
        if (folder / "go").exists():
            return
        time.sleep(0.01)
'''


def kubecert(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1", **(env or {})})


def good_report(tmp_path: Path, tree: Path, name: str) -> Path:
    run = kubecert("check", "--target", f"pki:{tree / 'pki'}", "--profile", "kubeadm", "-q", "--json", name,
                   cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    return tmp_path / name


def test_a_second_run_into_the_same_reports_is_refused_naming_the_first(tmp_path: Path, reference_tree: Any) -> None:
    from kubecert.reports.report_lock import ReportLock

    before = previous_set(tmp_path / "out", NAMES)
    report = good_report(tmp_path, reference_tree.root, "a.json")
    lock = ReportLock([tmp_path / "out" / "kubecert.html"])  # one of the set is enough to refuse the set
    lock.acquire("kubecert check --target pki:/srv/cp-1: process 4242 on ci-7, since 2027-01-31T12:00:00Z")
    try:
        for argv in (["check", "--target", f"pki:{reference_tree.root / 'pki'}", "--output-dir", "out"],
                     ["report", "merge", str(report), "--output-dir", "out"]):
            refused = kubecert(*argv, cwd=tmp_path)
            assert refused.returncode == 3, refused.stdout + refused.stderr
            assert "out/kubecert.html: another kubecert run is writing this report (kubecert check --target " \
                   "pki:/srv/cp-1: process 4242 on ci-7, since 2027-01-31T12:00:00Z)" in refused.stderr
            assert {k: v for k, v in contents(tmp_path / "out").items() if k != ".kubecert.html.lock"} == before
    finally:
        lock.release()
    assert contents(tmp_path / "out") == before  # the lock went with its holder


def test_a_run_holds_its_reports_until_they_are_written(tmp_path: Path, reference_tree: Any) -> None:
    from kubecert.reports.report_lock import ReportLock, ReportLockError

    (tmp_path / "hold_plugin.py").write_text(HOLD)
    env = {"KUBECERT_TEST_HOLD": str(tmp_path), "PYTHONPATH": str(tmp_path)}
    first = subprocess.Popen([sys.executable, "-m", "kubecert", "check", "--plugin", "hold_plugin", "-q", "--profile",
                              "palette",
                              "--target", f"pki:{reference_tree.root / 'pki'}", "--output-dir", "out"],
                             cwd=tmp_path, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        for _ in range(30_000):  # until the run has collected its checks (a hang guard, not a pace)
            if (tmp_path / "started").exists() or first.poll() is not None:
                break
            time.sleep(0.01)
        assert (tmp_path / "started").exists(), first.communicate(timeout=60)
        with pytest.raises(ReportLockError, match=r"another kubecert run is writing this report \(kubecert "
                                                  r"check --plugin hold_plugin .*: process \d+ on "):
            ReportLock([tmp_path / "out" / "kubecert.json"]).acquire("the test")
        free = ReportLock([tmp_path / "out" / "other.json"])  # another file of the folder is not the run's
        free.acquire("the test")
        free.release()
        (tmp_path / "go").write_text("")
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out + err
    assert sorted(contents(tmp_path / "out")) == NAMES  # one run's set, and no lock file left


def test_a_report_that_cannot_be_rendered_leaves_the_previous_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   reference_tree: Any) -> None:
    import dataclasses

    from kubecert.reports import canonical, outputs

    report = json.loads(good_report(tmp_path, reference_tree.root, "a.json").read_text())
    before = previous_set(tmp_path / "out", NAMES)
    # math.floor stands for a renderer and a writer with a fault: it raises TypeError on a report
    broken = tuple(dataclasses.replace(f, renderer="math:floor", writer="math:floor") if f.option == "html" else f
                   for f in FORMATS)
    monkeypatch.setattr(outputs, "FORMATS", broken)
    paths = outputs.ReportPaths.resolve({}, tmp_path / "out")
    written, failed = paths.write(report, complete=True)
    assert written == []
    assert len(failed) == 1 and "kubecert.html: could not be rendered (TypeError" in failed[0]
    assert "no report of this run was written" in failed[0]
    assert contents(tmp_path / "out") == before  # the JSON rendered before the HTML failed is not there either
    monkeypatch.setattr(outputs, "FORMATS", FORMATS)
    written, failed = outputs.ReportPaths.resolve({}, tmp_path / "out").write(report, complete=True)
    assert failed == [] and sorted(p.name for p in written) == NAMES
    assert json.loads((tmp_path / "out" / "kubecert.json").read_text()) == json.loads(canonical.dumps(report))


@pytest.mark.parametrize(("change", "says"), [
    (lambda r: r["results"][0].__setitem__("rule", ["x"]), "results[0].rule: expected text, got a list"),
    (lambda r: r["results"][0].__setitem__("status", "bogus"), 'results[0].status: "bogus" is not one of'),
    (lambda r: r["results"][0].__setitem__("message", None), "results[0].message: expected text, got null"),
    (lambda r: r["results"][0].__setitem__("evidence", [1, 2]), "results[0].evidence[0]: expected an object, got 1"),
    (lambda r: r.__setitem__("complete", "no"), 'complete: expected true or false, got "no"'),
    (lambda r: r.__setitem__("notes", "abc"), 'notes: expected a list, got "abc"'),
    (lambda r: r["results"][0].__setitem__("duration_s", "NaN-marker"), "NaN is not a JSON number"),
])
def test_merge_validates_every_input_before_it_writes(tmp_path: Path, reference_tree: Any, change: Any,
                                                      says: str) -> None:
    good = good_report(tmp_path, reference_tree.root, "a.json")
    document = json.loads(good.read_text())
    change(document)
    (tmp_path / "b.json").write_text(json.dumps(document).replace('"NaN-marker"', "NaN"))
    before = previous_set(tmp_path / "out", NAMES)
    merged = kubecert("report", "merge", "a.json", "b.json", "--output-dir", "out", cwd=tmp_path)
    assert merged.returncode == 3, merged.stdout + merged.stderr
    assert "report merge: b.json: " in merged.stderr and says in merged.stderr
    assert "Traceback" not in merged.stderr
    assert contents(tmp_path / "out") == before
