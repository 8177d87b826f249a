"""A target that cannot be read costs no more than one that can: it is tried once (one read, one lock),
every check it stops gets the same failure without the frames of the checks before it, pytest formats
none of their stacks, and a fleet's reports say it once per target rather than once per rule."""

from __future__ import annotations

import json
import os
import re
import tempfile
import traceback
from pathlib import Path
from typing import Any

import audit
import pytest

from kubecert import contexts
from kubecert.contexts import TargetContexts
from kubecert.options import AUTO_FLEET_TARGETS
from kubecert.profiles import BUILTIN
from kubecert.rules import all_rules
from kubecert.targets.errors import TargetUnavailable, failure_copy
from kubecert.targets.pki import PkiTarget

from support import SUITE, validated


def test_an_unreadable_target_is_read_and_locked_once_and_its_failure_never_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = PkiTarget(f"pki:{tmp_path / 'gone' / 'pki'}", BUILTIN["kubeadm"], {})
    reads: list[object] = []
    read = target._observe
    monkeypatch.setattr(target, "_observe", lambda now: reads.append(now) or read(now))
    locks: list[str] = []
    lock = contexts.target_lock
    monkeypatch.setattr(contexts, "target_lock", lambda key, **how: locks.append(key) or lock(key, **how))
    judged = TargetContexts(target)
    rules = [r for r in all_rules() if r.implemented and r.action is None and r.probe is None
             and target.concerns(r.capabilities)]
    depths, messages = [], []
    for rule in rules:
        assert judged.outside_role(rule) is None  # the check itself says why: the target cannot be read
        with pytest.raises(TargetUnavailable, match="does not exist") as raised:
            judged.for_rule(rule)
        depths.append(len(traceback.extract_tb(raised.value.__traceback__)))
        messages.append(raised.value.args[0])
    assert len(rules) > 20
    assert len(reads) == 1 and len(locks) == 1
    assert set(depths) == {depths[0]}  # each raise holds its own frames, not those of every check before it
    assert all(message is messages[0] for message in messages)  # one message, said by every check


class _Unreachable(TargetUnavailable):
    """A target kind's own failure, whose constructor takes more than the message."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host


def test_a_kept_failure_is_raised_again_as_its_own_kind_without_a_traceback() -> None:
    def fail() -> None:
        raise _Unreachable("api.example", "connection refused")

    with pytest.raises(_Unreachable) as raised:
        fail()
    again = failure_copy(raised.value)
    assert type(again) is _Unreachable and again.host == "api.example"
    assert again.args[0] is raised.value.args[0] and again.__traceback__ is None


FORMATTED = """
    import json, os, pytest

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(item, call):
        # What pytest is given to format of an error, once kubecert's wrapper has seen the call.
        if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
            with open(os.environ["DEPTHS"], "a") as out:
                out.write(json.dumps([item.name, len(call.excinfo.traceback)]) + "\\n")
"""


def test_pytest_formats_one_traceback_entry_for_each_check_an_unreadable_target_stops(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(formatted=FORMATTED)
    pytester.syspathinsert()
    depths = pytester.path / "depths.jsonl"
    monkeypatch.setenv("DEPTHS", str(depths))
    missing = f"pki:{pytester.path / 'gone' / 'pki'}"
    report = pytester.path / "report.json"
    pytester.runpytest(*SUITE, "-p", "formatted", "--kubecert-per-check", "--kubecert-profile", "kubeadm",
                       "--kubecert-target", missing, "--kubecert-json", str(report), "-m", "not disruptive")
    errors = [r for r in json.loads(report.read_text())["results"] if r["status"] == "error"]
    formatted = [json.loads(line) for line in depths.read_text().splitlines()]
    assert len(errors) > 20 and len(formatted) == len(errors)
    assert {depth for _, depth in formatted} == {1}
    assert {r["message"] for r in errors} == {f"{missing}: the folder {pytester.path / 'gone' / 'pki'} does not exist"}


def _lasting(writes: list[str], seen: audit.Seen) -> list[str]:
    """``writes`` but what Python's tempfile does by itself in the temporary folder: anonymous files (O_TMPFILE
    opens the folder) and its probe of the folder (a file removed at once)."""
    temp = os.path.realpath(tempfile.gettempdir())
    removed = {e.subject for e in seen.events if e.event == "os.remove"}
    return [w for w in writes if w != temp and not (os.path.dirname(w) == temp and w in removed)]


def test_a_fleet_of_unreadable_targets_is_one_problem_per_target_in_the_terminal_and_the_html(
    tmp_path: Path, reference_tree: Any
) -> None:
    missing = [f"pki:{tmp_path / 'gone' / f'n{n:02d}' / 'pki'}" for n in range(AUTO_FLEET_TARGETS + 1)]
    readable = f"pki:{reference_tree.root / 'pki'}"
    words = [w for uri in [*missing, readable] for w in ("--target", uri)]
    out = tmp_path / "out"
    run, seen = audit.run_audited(["check", "-q", "--profile", "palette", "--json", str(out / "r.json"), "--html",
                                   str(out / "r.html"), *words], cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert _lasting(seen.writes_outside([out]), seen) == [] and seen.processes == []
    report = validated(json.loads((out / "r.json").read_text()))
    errors = [r for r in report["results"] if r["status"] == "error"]
    per_target = {uri: sum(r["target"] == uri for r in errors) for uri in missing}
    assert set(per_target.values()) == {per_target[missing[0]]} and per_target[missing[0]] > 20  # every rule
    assert {r["status"] for r in report["results"] if r["target"] == readable} <= {"passed", "skipped",
                                                                                   "not_applicable"}
    page = (out / "r.html").read_text()
    problems = re.findall(r'<article class="result st-error tg-\d+">\s*<h3>.*?(\d+) checks could not run', page)
    assert problems == [str(per_target[missing[0]])] * len(missing)
    assert page.count('<article class="result') == len(missing)
    for uri in missing:
        assert run.stdout.count(f"{uri}: the folder") == 1, run.stdout
