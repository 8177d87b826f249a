"""Fleets: one check per target (--fleet) gives the results one check per (rule, target) gives, in every
format; -n hands each target to one worker; an inventory file lists targets with their own profiles and
shards split it."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from kubecert.options import AUTO_FLEET_TARGETS
from kubecert.pytest_plugin.distribution import Units
from kubecert.reports import html
from kubecert.rules import all_rules

from support import SUITE, run_check, validated

pytestmark = pytest.mark.xdist_group("fleet")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any, reference_worker: Any) -> list[str]:
    """Four nodes: three copies of the reference control plane, one with an empty apiserver.crt, and a worker."""
    root = tmp_path_factory.mktemp("fleet")
    targets = []
    for name in ("cp-a", "cp-b", "cp-broken"):
        shutil.copytree(reference_tree.root, root / name, symlinks=True, copy_function=shutil.copy2)
        targets.append(f"pki:{root / name / 'pki'}")
    (root / "cp-broken" / "pki" / "apiserver.crt").write_bytes(b"")
    shutil.copytree(reference_worker.root, root / "worker", symlinks=True, copy_function=shutil.copy2)
    targets.append(f"pki:{root / 'worker' / 'pki'}")
    return targets


def _targets(uris: list[str]) -> list[str]:
    return [word for uri in uris for word in ("--target", uri)]


def _one_moment() -> list[str]:
    """``--at`` for runs whose reports are compared: without it each run judges at its own clock, and a remaining
    time in the evidence differs as soon as two runs straddle a minute (a loaded machine makes that common)."""
    return ["--at", dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")]


def _without_timings(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "duration_s"} for r in results]


def _junit_cases(path: Path) -> list[tuple[str, str]]:
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314 - the report this test wrote
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        cases.append((case.get("name", ""), outcome))
    return sorted(cases)


def _rule_statuses(path: Path) -> list[str]:
    return sorted(line for line in path.read_text().splitlines() if line.startswith("kubecert_rule_status"))


def test_fleet_checks_and_checks_per_rule_write_the_same_results_in_every_format(tmp_path: Path,
                                                                                  fleet: list[str]) -> None:
    runs = {}
    at = _one_moment()
    for mode in ("--fleet", "--per-check"):
        out = tmp_path / mode.strip("-")
        run = subprocess.run([sys.executable, "-m", "kubecert", "check", mode, "--profile", "palette", *at,
                              "--output-dir", str(out), *_targets(fleet)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False)
        assert run.returncode == 1, run.stdout + run.stderr  # the broken node fails KC-INV-02
        runs[mode] = (run, out, validated(json.loads((out / "kubecert.json").read_text())))
    (fleet_run, fleet_out, fleet_report), (item_run, item_out, item_report) = runs["--fleet"], runs["--per-check"]
    assert _without_timings(fleet_report["results"]) == _without_timings(item_report["results"])
    assert len(fleet_report["results"]) > 100
    assert {r["status"] for r in fleet_report["results"]} >= {"passed", "failed", "skipped", "not_applicable"}
    assert fleet_report["summary"] == item_report["summary"]
    assert fleet_report["coverage"] == item_report["coverage"]
    assert _junit_cases(fleet_out / "kubecert-junit.xml") == _junit_cases(item_out / "kubecert-junit.xml")
    assert _rule_statuses(fleet_out / "kubecert.prom") == _rule_statuses(item_out / "kubecert.prom")

    def table(stdout: str) -> list[str]:  # the terminal's summary table, one row per target
        return [line for line in stdout.splitlines() if line.startswith("pki:") and re.search(r"\d+\s+\d+$", line)]

    assert table(fleet_run.stdout) == table(item_run.stdout) != []
    assert "FAIL     KC-INV-02" in fleet_run.stdout


def test_many_targets_are_judged_in_fleet_checks_unless_asked_otherwise(pytester: pytest.Pytester,
                                                                          fleet: list[str]) -> None:
    many = [f"pki:{pytester.path / f'node-{n}' / 'pki'}" for n in range(AUTO_FLEET_TARGETS)]  # listed, not read
    targets = [word for uri in many for word in ("--kubecert-target", uri)]
    listed = pytester.runpytest(*SUITE, "--co", "-q", *targets).stdout.str()
    assert f"fleet[{many[0]}]" in listed and "::KC-VAL-01[" not in listed
    per_check = pytester.runpytest(*SUITE, "--co", "-q", "--kubecert-per-check", *targets).stdout.str()
    assert f"KC-VAL-01[{many[0]}]" in per_check and "fleet[" not in per_check
    few = pytester.runpytest(*SUITE, "--co", "-q", "--kubecert-target", fleet[0]).stdout.str()
    assert f"KC-VAL-01[{fleet[0]}]" in few
    forced = pytester.runpytest(*SUITE, "--co", "-q", "--kubecert-fleet", "--kubecert-target", fleet[0]).stdout.str()
    assert f"fleet[{fleet[0]}]" in forced and f"fleet-disruptive[{fleet[0]}]" in forced


RECORD_READS = """
import json, os

def pytest_testnodedown(node, error):
    with open(os.environ["READS_LOG"], "a") as log:
        log.write(json.dumps([node.gateway.id, node.workeroutput.get("kubecert_reads", [])]) + "\\n")
"""


@pytest.mark.parametrize("mode", ["--kubecert-fleet", "--kubecert-per-check"])
def test_with_two_workers_every_target_is_read_by_one_worker(pytester: pytest.Pytester, fleet: list[str],
                                                             mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the workers' own records: each says which targets it read; no target is in two lists."""
    pytester.makepyfile(record_reads=RECORD_READS)
    pytester.syspathinsert()
    log = pytester.path / "reads.log"
    monkeypatch.setenv("READS_LOG", str(log))
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(*SUITE, "-p", "record_reads", "-n", "2", mode, "--kubecert-profile",
                                           "palette", "--kubecert-json", str(report), *[
                                               w for uri in fleet for w in ("--kubecert-target", uri)])
    assert result.ret == 1, result.stdout.str()
    reads = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(reads) == 2
    read_by: dict[str, list[str]] = {}
    for worker, targets in reads:
        for target in targets:
            read_by.setdefault(target, []).append(worker)
    assert sorted(read_by) == sorted(fleet)
    assert all(len(workers) == 1 for workers in read_by.values()), read_by
    assert all(targets for _, targets in reads), "both workers had targets to read"
    document = validated(json.loads(report.read_text()))
    assert not any("more than one worker" in note for note in document.get("notes") or ())
    assert len({r["target"] for r in document["results"]}) == len(fleet)


def test_the_unit_of_work_is_the_target_whatever_the_check() -> None:
    class Target:
        def __init__(self, key: str) -> None:
            self.lock_key = key

    targets: Any = {"pki:/a": Target("/a"), "kind:c": Target("kind:c"), "kind:c/cp": Target("kind:c"),
                    "palette:https://[::1]:8443?cluster=x": Target("p")}
    unit_of = Units(targets)
    assert unit_of("test_rules.py::KC-VAL-01[pki:/a]") == unit_of("test_rules.py::fleet[pki:/a]")
    assert unit_of("t.py::test_mine[pki:/a]@kubecert-x") == "kubecert:/a"
    assert unit_of("test_rules.py::fleet[kind:c/cp]") == unit_of("test_rules.py::fleet[kind:c]")
    assert unit_of("t.py::test_other@g1") == "g1"
    assert unit_of("t.py::test_other[3]") == "t.py::test_other[3]"
    assert unit_of("test_rules.py::KC-API-01[palette:https://[::1]:8443?cluster=x]") == "kubecert:p"


def test_an_inventory_file_gives_targets_their_own_profile_and_shards_split_it(tmp_path: Path,
                                                                                fleet: list[str]) -> None:
    good = [uri for uri in fleet if "broken" not in uri]
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text("targets:\n" + f"  - {good[0]}\n" + f"  - target: {good[1]}\n    profile: kubeadm\n"
                         + f"  - {good[2]}\n")
    at = _one_moment()
    whole_run, whole = run_check(tmp_path, "--profile", "palette", "--inventory", str(inventory), *at)
    assert whole_run.returncode == 1  # the copy judged with kubeadm's 3650-day CAs fails KC-VAL-02
    profiles = {t["id"]: t["profile"]["name"] for t in whole["targets"]}
    assert profiles == {good[0]: "palette", good[1]: "kubeadm", good[2]: "palette"}
    assert {r["target"] for r in whole["results"] if r["status"] == "failed"} == {good[1]}

    shards = []
    for index in range(2):
        folder = tmp_path / f"shard-{index}"
        folder.mkdir()
        _, report = run_check(folder, "--profile", "palette", "--inventory", str(inventory), "--shard", f"{index}/2",
                              *at)
        shards.append(folder / "r.json")
        assert {t["id"] for t in report["targets"]} == ({good[0], good[2]} if index == 0 else {good[1]})
    merged = tmp_path / "merged"
    merge = subprocess.run([sys.executable, "-m", "kubecert", "report", "merge", *map(str, shards),
                            "--output-dir", str(merged)], capture_output=True, text=True, timeout=120, check=False)
    assert merge.returncode in (0, 1), merge.stdout + merge.stderr
    joined = validated(json.loads((merged / "kubecert.json").read_text()))
    assert _without_timings(joined["results"]) == _without_timings(whole["results"])


@pytest.mark.parametrize(("text", "said"), [
    ("targets: [pki:/x, 3]\n", "targets[2]: expected a target URI or a mapping with 'target'"),
    ("targets:\n  - target: pki:/x\n    profiel: kubeadm\n", "targets[1]: unknown field 'profiel'"),
    ("targets:\n  - target: pki:/x\n    profile: nowhere.yaml\n", "neither a built-in profile"),
    ("hosts: [pki:/x]\n", "expected a mapping with a list under 'targets'"),
    ("a: &a [1, *a]\n", "alias *a is inside the collection it names"),
    ("targets: [pki:/x]\nextra: 1\n", "unknown field 'extra'"),
    ("targets: []\n", "it lists no target"),
])
def test_an_inventory_file_that_cannot_be_used_is_a_usage_error_naming_it(tmp_path: Path, text: str,
                                                                          said: str) -> None:
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(text)
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "--inventory", str(inventory)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 3, run.stdout + run.stderr
    assert str(inventory) in run.stderr + run.stdout and said in run.stderr + run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(("shard", "said"), [
    ("2/2", "0 <= INDEX < COUNT"), ("1", "INDEX/COUNT"), ("a/b", "INDEX/COUNT"), ("0/0", "0 <= INDEX < COUNT"),
    ("3/4", "no target falls in it"),
])
def test_a_shard_that_cannot_be_is_a_usage_error(tmp_path: Path, fleet: list[str], shard: str, said: str) -> None:
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "--shard", shard, "--target", fleet[0]],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 3, run.stdout + run.stderr
    assert said in run.stderr + run.stdout


def test_a_fleet_check_that_ends_without_its_results_reports_each_rule_as_an_error(
    pytester: pytest.Pytester, fleet: list[str]
) -> None:
    pytester.makepyfile(lose_them="""
        import pytest

        @pytest.hookimpl(wrapper=True, tryfirst=True)
        def pytest_runtest_makereport(item, call):
            report = yield
            if item.name.startswith("fleet[") and "cp-b" in item.name:
                report.__dict__.pop("kubecert_results", None)
            return report
    """)
    pytester.syspathinsert()
    report = pytester.path / "report.json"
    pytester.runpytest(*SUITE, "-p", "lose_them", "--kubecert-fleet", "--kubecert-profile", "palette",
                       "--kubecert-json", str(report), "--kubecert-target", fleet[0], "--kubecert-target", fleet[1])
    document = validated(json.loads(report.read_text()))
    disruptive = {rule.id for rule in all_rules() if rule.disruptive}
    lost = {r["rule"]: r for r in document["results"] if r["target"] == fleet[1] and r["rule"] not in disruptive}
    kept = {r["rule"]: r for r in document["results"] if r["target"] == fleet[0] and r["rule"] not in disruptive}
    assert set(lost) == set(kept) and len(lost) > 20
    assert {r["status"] for r in lost.values()} == {"error"}
    assert all("ended without a result" in r["message"] for r in lost.values())
    assert {r["status"] for r in kept.values()} <= {"passed", "skipped", "not_applicable"}


def test_a_target_that_cannot_be_read_stops_only_its_own_checks(tmp_path: Path, fleet: list[str]) -> None:
    missing = f"pki:{tmp_path / 'nowhere' / 'pki'}"
    run, report = run_check(tmp_path, "--fleet", "--profile", "palette", "--target", missing, "--target", fleet[0])
    assert run.returncode == 2, run.stdout + run.stderr
    mine = {r["status"] for r in report["results"] if r["target"] == missing}
    others = {r["status"] for r in report["results"] if r["target"] == fleet[0]}
    assert "error" in mine and "passed" not in mine
    assert "passed" in others and "error" not in others
    assert run.stdout.count("does not exist") == 1, run.stdout


def test_a_fleets_html_report_shows_failures_in_full_and_counts_the_rest(tmp_path: Path) -> None:
    target_ids = [f"pki:/fleet/n{n:02d}/pki" for n in range(html.DETAILED_TARGETS + 4)]
    results = [{"rule": rule, "target": target, "status": "failed" if (target, rule) == (target_ids[3], "KC-VAL-02")
                else "passed", "title": rule, "statement": "s", "message": "m", "evidence": [], "citation": "c",
                "sources": [], "remediation": "r", "nodeid": "n", "duration_s": 0.0}
               for target in target_ids for rule in ("KC-VAL-01", "KC-VAL-02")]
    targets = [{"id": t, "kind": "pki", "identity": t, "capabilities": [], "location": {}, "declared": {},
                "observed_at": None, "certificates": [], "profile": {"name": "kubeadm", "parameters": {}}}
               for t in target_ids]
    document = {"results": results, "targets": targets, "finished_at": "2026-01-01T00:00:00Z", "coverage": []}
    view = html.view(document)
    assert view["summarised"]
    assert [r["target"] for r in view["results"]] == [target_ids[3]]
    assert [v["target"]["id"] for v in view["target_views"]] == [target_ids[3]]
    assert view["counts"]["passed"] == 2 * len(target_ids) - 1
    assert view["rule_counts"]["KC-VAL-02"] == {"passed": len(target_ids) - 1, "failed": 1}
