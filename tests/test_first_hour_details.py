"""Small things that cost a new user minutes: choosing rules by a pattern, one rule's text, expired said as
expired, faults listed without a folder, one name for one kind of fault."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.faults import all_faults
from kubecert.reference.pki.faults import FAULTS as TREE_FAULTS
from kubecert.rules import Status, all_rules
from kubecert.rules._common import expiry_problem
from kubecert.rules.selection import NoRuleMatches, chosen_rules, matches

from support import judge

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)


def kubecert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_rule_patterns_match_without_regard_to_case() -> None:
    assert matches("KC-VAL-02", ["kc-val-*"]) and matches("KC-VAL-02", ["KC-VAL-02"])
    assert not matches("KC-EXP-01", ["kc-val-*"])
    assert [r.id for r in chosen_rules(all_rules(), ["kc-val-0[12]"])] == ["KC-VAL-01", "KC-VAL-02"]


def test_a_pattern_that_matches_no_rule_is_named_with_the_nearest_ids() -> None:
    with pytest.raises(NoRuleMatches) as raised:
        chosen_rules(all_rules(), ["KC-VAL-99", "KC-VAL-0[12]", "nothing-like-it"])
    lines = str(raised.value).splitlines()
    assert len(lines) == 2, lines  # the pattern that matched is not among them
    assert lines[0].startswith("--rule 'KC-VAL-99' matches no rule") and "did you mean KC-VAL-0" in lines[0]
    assert "'nothing-like-it'" in lines[1] and "kubecert rules" in lines[1]


def test_kubecert_rules_shows_the_rules_named(tmp_path: Path) -> None:
    one = kubecert("rules", "kc-val-02", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("KC-VAL-02  ") and "KC-VAL-01" not in one.stdout and "fix: " in one.stdout
    lost = kubecert("rules", "KC-VAL-99", cwd=tmp_path)
    assert lost.returncode == 3 and lost.stdout == ""
    assert "'KC-VAL-99' matches no rule of the catalog: did you mean" in lost.stderr


def test_kubecert_rules_wraps_at_spaces_and_never_inside_an_identifier(tmp_path: Path) -> None:
    listing = kubecert("rules", cwd=tmp_path).stdout
    broken = [line for line in listing.splitlines() if re.search(r"\w-$", line)]
    assert not broken, broken[:3]
    assert "front-proxy-client" in listing


def test_expired_is_said_as_expired_and_the_horizon_only_of_what_is_still_valid() -> None:
    assert expiry_problem(NOW - dt.timedelta(days=1), NOW, 30) == (
        "expired 1d ago, at 2027-05-31 12:00:00 UTC (observed 2027-06-01 12:00:00 UTC)")
    soon = expiry_problem(NOW + dt.timedelta(days=10), NOW, 30)
    assert soon is not None and soon.startswith("expires 2027-06-11") and "10d from" in soon
    assert soon.endswith("within the 30d horizon")
    assert expiry_problem(NOW + dt.timedelta(days=31), NOW, 30) is None


def test_an_expired_node_reads_expired_in_every_rule_that_judges_the_horizon(reference_tree: Any) -> None:
    later = reference_tree.now + dt.timedelta(days=400)  # every leaf expired, the CAs still far off
    verdicts = judge(reference_tree.root, at=later)
    for rule in ("KC-EXP-01", "KC-KLT-03"):
        failing = [f.message for f in verdicts[rule].findings if f.status is Status.FAILED]
        assert failing, rule
        assert all(m.startswith("expired ") and "horizon" not in m for m in failing), failing
        assert not any(re.search(r"(^|\s)-\d+d", m) for m in failing), failing


def test_the_tree_faults_are_listed_without_a_folder(tmp_path: Path) -> None:
    listing = kubecert("reference", "pki", "init", "--list-faults", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(TREE_FAULTS)
    assert not any(tmp_path.iterdir())  # listing writes nothing
    no_folder = kubecert("reference", "pki", "init", cwd=tmp_path)
    assert no_folder.returncode == 3 and "--dir is required" in no_folder.stderr


def test_one_kind_of_fault_has_one_name_in_every_layer() -> None:
    """``dropped-san`` in the tree and ``san-dropped`` in the renewer cost a reader a search: a name whose
    words are another name's in another order is the same fault named twice."""
    by_words: dict[tuple[str, ...], set[str]] = {}
    for fault in all_faults():
        by_words.setdefault(tuple(sorted(fault.name.split("-"))), set()).add(fault.name)
    assert not [names for names in by_words.values() if len(names) > 1]


def _report(*results: dict[str, Any]) -> dict[str, Any]:
    summary = {str(s): sum(r["status"] == s for r in results) for s in Status}
    return {"summary": summary, "results": list(results), "complete": True}


def _result(status: str, accepted: bool | None = None) -> dict[str, Any]:
    return {"rule": "KC-VAL-01", "target": "pki:x\x1b[2J", "status": status, "message": "m", "accepted": accepted}


def test_the_tally_agrees_with_the_exit_code() -> None:
    from kubecert.reports.tally import Tally, failing_lines

    gated = _report(_result("passed"), _result("failed", True), _result("not_applicable"))
    tally = Tally.of_document(gated)
    assert tally.exit_code() == 0
    assert tally.line(0) == ("1 passed, 1 failed (1 accepted by the baseline), 1 not applicable; exit 0: "
                             "every failure is accepted by the baseline")
    assert failing_lines(gated) == []
    failing = _report(_result("failed"), _result("skipped"))
    assert Tally.of_document(failing).line(1) == "1 failed, 1 skipped; exit 1: a rule failed"
    assert Tally.of_document(failing).exit_code() == 1
    assert failing_lines(failing) == ["FAILED  KC-VAL-01 pki:x\\x1b[2J: m"]  # a report's text is escaped
    assert Tally.of_document(_report()).line(2) == "no results; exit 2: no check ran"
    assert Tally.of_document(_report(_result("error"))).exit_code() == 2


def test_the_node_folder_given_for_its_pki_folder_gets_a_hint_not_every_file_missing(
        tmp_path: Path, reference_tree: Any) -> None:
    run = kubecert("check", "--target", f"pki:{reference_tree.root}", "-q", cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"a pki: target names the PKI folder itself: --target pki:{reference_tree.root / 'pki'}" in run.stdout
    report = (tmp_path / "reports" / "kubecert.json").read_text()
    assert '"status": "failed"' not in report  # nothing judged "missing"


def test_a_misspelled_option_gets_the_nearest_one(tmp_path: Path) -> None:
    run = kubecert("check", "--profle", "palette", cwd=tmp_path)
    assert run.returncode == 3 and "--profle: did you mean --profile?" in run.stderr, run.stderr


@pytest.mark.parametrize(("target", "hint"), [
    ("/etc/kubernetes/pki", "'/etc/kubernetes/pki' names no target kind (known: pki, reference, palette, kubeconfig, "
                            "kind); for a PKI folder: --target pki:/etc/kubernetes/pki"),
    ("admin.conf", "for a kubeconfig file: --target kubeconfig:admin.conf"),
    ("pkl:/etc/kubernetes/pki", "unknown target kind 'pkl' (known: pki, reference, palette, kubeconfig, kind): did "
                                "you mean pki:?"),
])
def test_a_target_without_its_kind_gets_the_kind_it_most_likely_meant(target: str, hint: str) -> None:
    from kubecert.targets.errors import TargetError
    from kubecert.targets.registry import Registry

    with pytest.raises(TargetError) as raised:
        Registry().kind_of(target)
    assert hint in str(raised.value)


def test_check_takes_rule_patterns_in_any_case_and_names_one_that_matches_nothing(
        tmp_path: Path, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    lost = kubecert("check", "--target", target, "--rule", "KC-VAL-99", cwd=tmp_path)
    assert lost.returncode == 3, lost.stdout + lost.stderr
    assert "--rule 'KC-VAL-99' matches no rule of the catalog: did you mean KC-VAL-0" in lost.stdout + lost.stderr
    assert not (tmp_path / "reports").exists()
    chosen = kubecert("check", "--target", target, "--rule", "kc-exp-*", "-q", cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    report = json.loads((tmp_path / "reports" / "kubecert.json").read_text())
    assert {r["rule"] for r in report["results"]} == {"KC-EXP-01"}


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc, where nothing can be created")
def test_an_output_folder_nothing_can_be_written_in_is_refused_before_any_check(tmp_path: Path) -> None:
    run = kubecert("check", "--target", f"pki:{tmp_path}/absent", "--output-dir", "/proc/kubecert-nope", cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "cannot write the reports" in run.stdout + run.stderr and "cannot write in /proc" in run.stdout + run.stderr
    assert "could not run" not in run.stdout  # no check ran
