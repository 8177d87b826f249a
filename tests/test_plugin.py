"""The pytest plugin end to end: items per (rule, target), verdicts, gates, the clock and the JSON report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kubecert.pytest_plugin import plugin
from kubecert.pytest_plugin.session import SESSION_KEY, KubecertSession
from kubecert.reports.results import SCHEMA
from kubecert.rules import BUILTIN_PROFILES, all_rules
from kubecert.targets import PkiTarget

from support import LOSE_KC_VAL_02, by_rule, run_suite, validated

# A plain pki target (a folder with the kubelet's beside it, no commands) judges the read-only rules that
# need nothing but files; it skips the node actions it could run if given their commands; rules it can
# never concern (a management API) make no item at all.
PKI = PkiTarget("pki:/etc/kubernetes/pki?kubelet=/var/lib/kubelet", BUILTIN_PROFILES["kubeadm"], {})
CHECKS = sorted(r.id for r in all_rules() if r.implemented and PKI.concerns(r.capabilities))
STATIC = sorted(r.id for r in all_rules()
                if r.implemented and not r.disruptive and set(r.capabilities) <= PKI.capabilities)
SKIPPED = len(CHECKS) - len(STATIC)
KUBELET = sorted(r.id for r in all_rules() if r.implemented and "kubelet" in r.capabilities)


def test_items_are_one_per_rule_and_target_with_readable_ids(pytester: pytest.Pytester, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    result = pytester.runpytest("--pyargs", "kubecert.conformance", "--co", "-q", "--kubecert-target", target)
    ids = [line for line in result.outlines if "::" in line]
    assert len(ids) == len(CHECKS)
    assert any(line.endswith(f"test_rules.py::KC-VAL-01[{target}]") for line in ids)


def test_reference_tree_passes_every_static_rule(pytester: pytest.Pytester, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    result, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "palette")
    result.assert_outcomes(passed=len(STATIC), skipped=SKIPPED)
    assert report["schema"] == SCHEMA and report["complete"] is True
    assert sorted(r for r, v in by_rule(report).items() if v["status"] == "passed") == STATIC
    assert report["summary"]["passed"] == len(STATIC)
    assert report["targets"][0]["id"] == target and "x509" in report["targets"][0]["capabilities"]
    assert report["profile"]["name"] == "palette"
    first = report["results"][0]
    assert first["nodeid"].startswith("kubecert/conformance/test_") and first["citation"]
    assert all(r["evidence"] for r in report["results"] if r["status"] == "passed")


def test_failure_names_every_offender(pytester: pytest.Pytester, reference_tree: Any) -> None:
    # The reference follows Palette's 3652-day CA; kubeadm's profile wants 3650, so all three CAs fail.
    target = f"pki:{reference_tree.root / 'pki'}"
    result, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "kubeadm")
    result.assert_outcomes(passed=len(STATIC) - 1, failed=1, skipped=SKIPPED)
    verdict = by_rule(report)["KC-VAL-02"]
    assert verdict["status"] == "failed"
    for ca in ("ca", "front-proxy-ca", "etcd-ca"):
        assert f"FAILED {ca}: valid 3652d" in verdict["message"]
    failed = [e["subject"] for e in verdict["evidence"] if e["status"] == "failed"]
    assert sorted(failed) == ["ca", "etcd-ca", "front-proxy-ca"]
    assert "Traceback" not in result.stdout.str()


def test_xdist_gives_the_same_results(pytester: pytest.Pytester, reference_tree: Any) -> None:
    """Everything but timings is the same with -n 2: results with their evidence, targets with what they showed.
    Two targets, so that the workers really share the run; dates judged as of one moment for both runs."""
    pytester.syspathinsert()
    other = pytester.path / "other"
    other.mkdir()
    for path in (reference_tree.root).rglob("*"):
        destination = other / path.relative_to(reference_tree.root)
        if path.is_dir():
            destination.mkdir(exist_ok=True)
        else:
            destination.write_bytes(path.read_bytes())
            destination.chmod(path.stat().st_mode & 0o777)
    # 340 days on, the leaves expire within the 30-day horizon: KC-EXP-01 fails too, with dated evidence, and
    # so do the kubelet's stalled client rotation (KC-KLT-02) and its year-long serving certificate (KC-KLT-03).
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=340)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = ["--kubecert-target", f"pki:{reference_tree.root / 'pki'}", "--kubecert-target", f"pki:{other / 'pki'}",
            "--kubecert-profile", "kubeadm", "--kubecert-at", at]
    _, serial = run_suite(pytester, *args)
    result, parallel = run_suite(pytester, *args, "-n", "2")
    assert result.parseoutcomes()["failed"] == 2 * 4  # KC-VAL-02, KC-EXP-01, KC-KLT-02 and -03 on each copy

    def without_timings(report: dict[str, Any]) -> dict[str, Any]:
        moments = ("started_at", "finished_at", "observed_at", "command_line")
        return {**{k: v for k, v in report.items() if k not in moments},
                "results": [{k: v for k, v in r.items() if k != "duration_s"} for r in report["results"]],
                "targets": [{k: v for k, v in t.items() if k != "observed_at"} for t in report["targets"]]}

    assert without_timings(parallel) == without_timings(serial)
    assert len(serial["results"]) == 2 * len(CHECKS)


@pytest.mark.parametrize("worker", [True, False])
def test_an_xdist_worker_releases_its_targets_when_its_session_finishes(worker: bool) -> None:
    """The controller kills a worker 10 s after the worker reports finishing (xdist sends that report after
    every sessionfinish hook): releasing targets (servers, temporary folders) only at unconfigure, after the
    report, could be cut short and leave them behind. The controller keeps its targets until unconfigure."""
    closed: list[str] = []

    class Target:
        def close(self) -> None:
            closed.append("closed")

    session = KubecertSession(settings=None, registry=None, targets={"t": Target()})  # type: ignore[arg-type, dict-item]
    config = SimpleNamespace(stash={SESSION_KEY: session},
                             **({"workerinput": {}, "workeroutput": {}} if worker else {}))
    plugin.pytest_sessionfinish(SimpleNamespace(config=config))  # type: ignore[arg-type]
    assert closed == (["closed"] if worker else [])
    if worker:  # what it read, for the controller: nothing here
        assert config.workeroutput["kubecert_reads"] == []
    session.close()  # at unconfigure
    assert closed == ["closed"]


def test_at_judges_dates_as_of_another_day(pytester: pytest.Pytester, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    _, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "palette",
                          "--kubecert-at", "2099-01-01")
    failed = sorted(r["rule"] for r in report["results"] if r["status"] == "failed")
    # the kubelet's client certificate is long past due for rotation, its serving certificate expired
    assert failed == ["KC-EXP-01", "KC-KLT-02", "KC-KLT-03", "KC-VAL-04"]
    assert report["evaluated_as_of"] == "2099-01-01T00:00:00Z"


def test_min_remaining_sets_the_expiry_horizon(pytester: pytest.Pytester, reference_tree: Any) -> None:
    target = f"pki:{reference_tree.root / 'pki'}"
    _, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-profile", "palette",
                          "--kubecert-min-remaining", "400")
    failed = {r["rule"]: r for r in report["results"] if r["status"] == "failed"}
    assert list(failed) == ["KC-EXP-01", "KC-KLT-03"]  # the kubelet's serving certificate too
    assert "within the 400d horizon" in failed["KC-EXP-01"]["message"]
    assert "within the 400d horizon" in failed["KC-KLT-03"]["message"]
    assert report["profile"]["parameters"]["min_remaining_days"] == 400


def test_missing_folder_is_an_error_for_every_check_without_traceback(pytester: pytest.Pytester) -> None:
    result, report = run_suite(pytester, "--kubecert-target", "pki:/nonexistent/kubecert/pki")
    # no kubelet folder beside it either: the kubelet's rules say which option would give one
    result.assert_outcomes(errors=len(STATIC) - len(KUBELET), skipped=SKIPPED + len(KUBELET))
    errors = [r for r in report["results"] if r["status"] == "error"]
    assert sorted(r["rule"] for r in errors) == sorted(set(STATIC) - set(KUBELET))
    assert "the folder /nonexistent/kubecert/pki does not exist" in errors[0]["message"]
    assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()


def test_unknown_target_kind_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result, report = run_suite(pytester, "--kubecert-target", "ftp:/etc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown target kind 'ftp'" in result.stderr.str()
    assert not report


def test_rule_filter_selects_rules(pytester: pytest.Pytester, reference_tree: Any) -> None:
    result, report = run_suite(pytester, "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                               "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-*")
    result.assert_outcomes(passed=4)
    assert sorted(by_rule(report)) == ["KC-VAL-01", "KC-VAL-02", "KC-VAL-03", "KC-VAL-04"]


def test_missing_capability_skips_with_the_reason(pytester: pytest.Pytester, reference_tree: Any) -> None:
    """A vendor's own target kind, from a plugin through the hook, that cannot show file modes."""
    pytester.syspathinsert()
    pytester.makepyfile(vendor_targets="""
        from kubecert.targets import PkiTarget, TargetKind

        class CertsOnly(PkiTarget):
            scheme = "certsonly"

            @property
            def capabilities(self):
                return frozenset({"certificates", "x509", "expiry", "kubeconfigs"})

            def capability_reasons(self):
                return {"files": "this backend exports certificates, not files"}

        def pytest_kubecert_target_kinds():
            return [TargetKind("certsonly", CertsOnly, "palette", "certificates exported by a vendor")]
    """)
    result, report = run_suite(pytester, "-p", "vendor_targets",
                               "--kubecert-target", f"certsonly:{reference_tree.root / 'pki'}")
    # files: it says why it lacks them, so those checks are skipped with the reason; owners and node
    # actions it never offers and never explains, so those rules make no item for it.
    result.assert_outcomes(passed=len(STATIC) - 3 - len(KUBELET), skipped=2)
    skipped = {r["rule"]: r["message"] for r in report["results"] if r["status"] == "skipped"}
    assert sorted(skipped) == ["KC-FILE-01", "KC-FILE-02"]
    assert "cannot offer files: this backend exports certificates, not files" in skipped["KC-FILE-01"]
    assert "KC-FILE-03" not in by_rule(report) and "KC-REN-01" not in by_rule(report)


def test_stale_report_is_removed_and_interrupted_run_is_marked_partial(
    pytester: pytest.Pytester, reference_tree: Any
) -> None:
    report = pytester.path / "report.json"
    report.write_text('{"stale": true}')
    pytester.makepyfile(interrupter="""
        import pytest

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_call(item):
            if item.name.startswith("KC-VAL-01["):
                raise KeyboardInterrupt
            return (yield)
    """)
    # In a subprocess: an interrupt inside an in-process run would reach the test runner itself.
    result = pytester.runpytest_subprocess("--pyargs", "kubecert.conformance", "-p", "no:cacheprovider",
                                "-p", "interrupter",
                                "--kubecert-target",
                                f"pki:{reference_tree.root / 'pki'}", "--kubecert-json", str(report))
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert not report.exists()
    partial = validated(json.loads(Path(str(report) + ".partial").read_text()))
    assert partial["complete"] is False


def test_own_checks_can_use_the_fixtures(pytester: pytest.Pytester, reference_tree: Any) -> None:
    """A vendor's check file: the marker and fixtures are the public way to add checks."""
    pytester.makepyfile(test_vendor="""
        import pytest

        @pytest.mark.kubecert_rule("KC-EXP-01")
        def test_my_gate(kubecert_verdict, kubecert_inventory):
            assert kubecert_inventory.certificates["apiserver"].common_name == "kube-apiserver"
            kubecert_verdict.assert_passed()
    """)
    result = pytester.runpytest("--kubecert-target", f"pki:{reference_tree.root / 'pki'}", "-v", "-k", "my_gate")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*test_my_gate?pki:{reference_tree.root / 'pki'}? PASSED*"])


def test_a_target_option_runs_kubecerts_checks_beside_the_users_tests(pytester: pytest.Pytester,
                                                                     reference_tree: Any) -> None:
    pytester.makepyfile(test_mine="def test_mine():\n    assert True\n")
    result = pytester.runpytest("--kubecert-target", f"pki:{reference_tree.root / 'pki'}", "--kubecert-json",
                                str(pytester.path / "k.json"), "--kubecert-rule", "KC-VAL-*", "--kubecert-profile",
                                "palette", "-v")
    result.assert_outcomes(passed=1 + 4)
    result.stdout.fnmatch_lines(["*test_mine.py::test_mine PASSED*", "*KC-VAL-01?pki:*? PASSED*"])
    assert {r["rule"] for r in json.loads((pytester.path / "k.json").read_text())["results"]} == {
        "KC-VAL-01", "KC-VAL-02", "KC-VAL-03", "KC-VAL-04"}


def test_rules_that_cannot_concern_a_target_make_no_item(pytester: pytest.Pytester, reference_tree: Any) -> None:
    """API rules never concern a node's folder; renewal rules could, given a command, so they say how."""
    _, report = run_suite(pytester, "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                          "--kubecert-profile", "palette")
    rules = by_rule(report)
    assert not [r for r in rules if r.startswith(("KC-API-", "KC-RPV-"))]
    assert rules["KC-REN-01"]["status"] == "skipped"
    assert "give --renew-command" in rules["KC-REN-01"]["message"]


@pytest.mark.parametrize(("selection", "expected"), [
    (("-k", "leaf_validity"), ["KC-VAL-01"]),
    (("-k", "KC-VAL-0"), ["KC-VAL-01", "KC-VAL-02", "KC-VAL-03", "KC-VAL-04"]),
    (("-m", "kubecert_rule(family='identity')"), ["KC-ID-01", "KC-ID-02", "KC-ID-03"]),
    (("-m", "kubecert_rule(id='KC-EXP-01')"), ["KC-EXP-01"]),
    (("--kubecert-rule", "KC-FILE-*"), ["KC-FILE-01", "KC-FILE-02", "KC-FILE-03"]),
])
def test_checks_are_selected_by_rule_function_family_and_marker(
    pytester: pytest.Pytester, reference_tree: Any, selection: tuple[str, str], expected: list[str]
) -> None:
    result = pytester.runpytest("--pyargs", "kubecert.conformance", "--co", "-q", "--kubecert-target",
                                f"pki:{reference_tree.root / 'pki'}", *selection)
    chosen = sorted(line.split("::")[1].split("[")[0] for line in result.outlines if "::" in line)
    assert chosen == expected


@pytest.mark.parametrize("marker", ["kubecert_disruptive", "disruptive"])  # the second until kubecert 1.0
def test_not_disruptive_leaves_out_every_check_that_changes_the_target(pytester: pytest.Pytester,
                                                                      marker: str) -> None:
    result = pytester.runpytest("--pyargs", "kubecert.conformance", "--co", "-q", "--kubecert-target",
                                "reference:pki", "-m", f"not {marker}")
    chosen = {line.split("::")[1].split("[")[0] for line in result.outlines if "::" in line}
    assert chosen and not {rule.id for rule in all_rules() if rule.disruptive} & chosen
    assert "KC-CHK-01" in chosen  # it reads a listing and changes nothing


def test_a_check_that_ends_without_a_result_is_an_error_never_silence(
    pytester: pytest.Pytester, reference_tree: Any
) -> None:
    """A result that never reaches the report (its worker died with it) is reported as an error."""
    pytester.makepyfile(lose_one=LOSE_KC_VAL_02)
    pytester.syspathinsert()
    _, report = run_suite(pytester, "-p", "lose_one", "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                          "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-*")
    found = by_rule(report)
    assert found["KC-VAL-02"]["status"] == "error"
    assert "ended without a result" in found["KC-VAL-02"]["message"]
    assert {found[r]["status"] for r in ("KC-VAL-01", "KC-VAL-03", "KC-VAL-04")} == {"passed"}
