"""Which way a platform renews (a repave, as Palette's page of 2023 says; in place, as Palette 4.2 and later do; a
repave held for approval) is seen from what happens after the renew request, reported in every renewal finding's
evidence, and judged by that way's rules; a profile can pin a way, and a platform that does the other fails."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import audit
import pytest
import requests

from kubecert.inventory.platform import (
    ClusterObject,
    Exchange,
    Machine,
    MachineCertificates,
    PlatformObservation,
    RenewalRecord,
    ReportedCertificate,
    Sample,
    Sent,
)
from kubecert.inventory.platform_inventory import PlatformInventory
from kubecert.inventory.renewal_progress import RenewalWatch, renewal_seen
from kubecert.profiles import Profile
from kubecert.rules import get
from kubecert.rules.evaluate import evaluate
from kubecert.rules.repave import ApiRenewalContext
from kubecert.targets.palette.watch import changes

from support import read_report, reference_api, run_suite, statuses

UTC = dt.UTC
KEY = "kc-modes-test-key-0123456789"
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
RPV = [f"KC-RPV-{i:02d}" for i in range(1, 12)]
RENEWAL_RULES = ["KC-RPV-02", "KC-RPV-03", "KC-RPV-04", "KC-RPV-05", "KC-RPV-06", "KC-RPV-07", "KC-RPV-08",
                 "KC-RPV-11"]


def _results(report: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in report["results"] if r["target"] == target}


def _modes(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["renewal_mode"] for entry in result["evidence"] if "renewal_mode" in entry]


# ---------------------------------------------------------------- the three reference parts, no mode given


@pytest.fixture(scope="module")
def three_ways(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``kubecert check`` of every RPV rule against the reference in each way it renews, no mode given (the
    palette profile's auto): a repave held for approval is a check that could not run, so the exit code is 2.
    Under the audit guard: the run writes its report and the reference's own temporary state, nothing else, and
    starts no process."""
    folder = tmp_path_factory.mktemp("modes")
    run, seen = audit.run_audited(["check", "-q", "--json", "r.json", "--rule", "KC-RPV-*",
                                   "--target", "reference:palette", "--target", "reference:palette-in-place",
                                   "--target", "reference:palette-approval"], cwd=folder, timeout=600)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stdout + run.stderr
    assert not seen.writes_outside([folder]) and not seen.processes, seen.events
    return read_report(folder / "r.json")


def test_a_repave_is_seen_and_judged_by_the_repave_rules(three_ways: dict[str, Any]) -> None:
    found = _results(three_ways, "reference:palette")
    assert {rule: found[rule]["status"] for rule in RPV} == {**dict.fromkeys(RPV, "passed"),
                                                            "KC-RPV-11": "not_applicable"}
    assert found["KC-RPV-11"]["message"].startswith("machines: the platform repaved: 3 control-plane machines went "
                                                    "away (")
    assert found["KC-RPV-11"]["message"].endswith("(KC-RPV-04 and KC-RPV-05 judge it)")
    for rule in RENEWAL_RULES:
        modes = _modes(found[rule])
        assert modes and all(m["judged_as"] == m["detected"] == "repave" and m["profile"] == "auto" for m in modes)
        assert all(len(m["control_plane_replaced"]) == len(m["control_plane_new"]) == 3 for m in modes), rule


def test_a_renewal_in_place_is_seen_and_judged_by_the_in_place_rule(three_ways: dict[str, Any]) -> None:
    found = _results(three_ways, "reference:palette-in-place")
    assert {rule: found[rule]["status"] for rule in RPV} == {**dict.fromkeys(RPV, "passed"),
                                                            "KC-RPV-04": "not_applicable",
                                                            "KC-RPV-05": "not_applicable"}
    for rule, subject in (("KC-RPV-04", "control plane"), ("KC-RPV-05", "workers")):
        message = found[rule]["message"]
        assert message.startswith(f"{subject}: the platform renewed in place: 3 control-plane machines kept their "
                                  "uids and reported renewed certificates ("), message
        assert message.endswith("; no machine was replaced (KC-RPV-11 judges it)"), message
    kept = {e["subject"]: e["detail"] for e in found["KC-RPV-11"]["evidence"]}
    assert kept == {"control plane": "in place: the 3 control-plane machines kept their names, uids and creation "
                                     "times and kept running", "workers": "the 2 workers were left alone"}
    for rule in RENEWAL_RULES:
        modes = _modes(found[rule])
        assert modes and all(m["judged_as"] == m["detected"] == "in-place" for m in modes), rule
        assert all(len(m["control_plane_renewed_in_place"]) == 3 and not m["control_plane_replaced"] for m in modes)


def test_a_repave_held_for_approval_is_an_error_at_once_that_says_how_to_approve_it(
        three_ways: dict[str, Any]) -> None:
    found = _results(three_ways, "reference:palette-approval")
    assert {rule: found[rule]["status"] for rule in RPV} == {
        **dict.fromkeys(RPV, "error"), "KC-RPV-01": "passed", "KC-RPV-09": "passed"}
    uid = found["KC-RPV-01"]["evidence"][0]["request"].split("/")[3]
    for rule in [*RENEWAL_RULES, "KC-RPV-10"]:
        message = found[rule]["message"]
        # Not a timeout: the check stopped waiting as soon as the cluster said the repave waits for approval.
        assert "the repave waits for approval (status.repave.state Pending)" in message, (rule, message)
        assert f"approve it with PATCH /v1/spectroclusters/{uid}/repave/approve or in Palette's UI" in message
        assert "kubecert does not approve a repave" in message and "not finished after" not in message
        assert "the platform's reasons: CertificatesRenewal: " in message or rule == "KC-RPV-10", (rule, message)
    # The first renewal was asked for and held; what came later found the repave held before asking anything.
    assert "after the renew request" in found["KC-RPV-08"]["message"]
    assert "since before the renewal was requested (nothing was sent)" in found["KC-RPV-06"]["message"]
    assert "since before the upgrade was requested (nothing was sent)" in found["KC-RPV-10"]["message"]
    modes = _modes(found["KC-RPV-08"])
    assert modes == [{"judged_as": None, "profile": "auto", "detected": None, "control_plane_replaced": [],
                      "control_plane_new": [], "control_plane_renewed_in_place": [], "awaiting_approval": True,
                      "why": "the repave waits for approval: nothing was renewed"}]


def test_the_reference_stands_for_the_parts_that_pass_and_names_the_approval_part_apart() -> None:
    from kubecert.targets.reference import expand_reference

    parts = expand_reference("reference")
    assert {"reference:palette", "reference:palette-in-place"} <= set(parts)
    assert "reference:palette-approval" not in parts


def test_the_palette_profile_judges_a_platform_that_renews_in_place_without_being_told(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Today's Palette renews in place: a default run neither waits for a repave that never comes (KC-RPV-08) nor
    judges a surge that does not happen (KC-RPV-04)."""
    with reference_api(tmp_path, KEY, mode="in-place") as (server, cluster, project):
        monkeypatch.setenv("PALETTE_API_KEY", KEY)
        target = f"palette:{server.url}?cluster={cluster}&project={project}"
        _, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-ca-bundle", str(server.tls.ca_bundle),
                              "--kubecert-allow-disruptive", "--kubecert-poll-interval", "0.1",
                              "--kubecert-renewal-deadline", "60",
                              "--kubecert-rule", "KC-RPV-04", "--kubecert-rule", "KC-RPV-08")
    assert statuses(report) == {"KC-RPV-04": "not_applicable", "KC-RPV-08": "passed"}, report["results"]
    assert report["targets"][0]["profile"]["parameters"]["renewal_mode"] == "auto"


# ---------------------------------------------------------------- a pinned mode


def test_a_pinned_mode_is_judged_and_a_platform_that_does_the_other_fails_saying_so(
        pytester: pytest.Pytester) -> None:
    profile = pytester.path / "repave.yaml"
    profile.write_text("extends: palette\nrenewal_mode: repave\n")
    _, report = run_suite(pytester, "--kubecert-profile", str(profile), "--kubecert-rule", "KC-RPV-04",
                          "--kubecert-rule", "KC-RPV-11", "--kubecert-target", "reference:palette",
                          "--kubecert-target", "reference:palette-in-place")
    assert statuses(report, "reference:palette") == {"KC-RPV-04": "passed", "KC-RPV-11": "not_applicable"}
    assert statuses(report, "reference:palette-in-place") == {"KC-RPV-04": "failed", "KC-RPV-11": "not_applicable"}
    contradicted = _results(report, "reference:palette-in-place")
    assert contradicted["KC-RPV-04"]["message"].startswith(
        "1 failed of 1 checked\n  FAILED control plane: the profile pins renewal_mode repave, but the platform "
        "renewed in place: 3 control-plane machines kept their uids and reported renewed certificates")
    assert contradicted["KC-RPV-11"]["message"] == ("machines: the profile pins renewal_mode repave (KC-RPV-04 and "
                                                    "KC-RPV-05 judge it)")
    assert _modes(contradicted["KC-RPV-04"])[0] | {"why": ""} == {
        "judged_as": "repave", "profile": "repave", "detected": "in-place", "awaiting_approval": False, "why": "",
        **{k: _modes(contradicted["KC-RPV-04"])[0][k] for k in ("control_plane_replaced", "control_plane_new",
                                                                "control_plane_renewed_in_place")}}


# ---------------------------------------------------------------- telling the ways apart, look by look


def _machine(uid: str, name: str, control_plane: bool = True, state: str = "Running") -> Machine:
    return Machine(uid, name, "cp" if control_plane else "w", control_plane, state, START)


def _listing(name: str, expiry: dt.datetime) -> MachineCertificates:
    return MachineCertificates(name, (
        ReportedCertificate(name, "ca", "ca", "ca", True, START.replace(year=2035), "x"),
        ReportedCertificate(name, "kube-apiserver", "apiserver", "ca", False, expiry, "x"),
    ))


OLD, NEW = START.replace(year=2026, month=6), START.replace(year=2027)


def _before(*machines: Machine, listed: tuple[str, ...] = ("cp-a", "cp-b")) -> PlatformObservation:
    return PlatformObservation(START, Exchange("GET", "/", Sent.API_KEY, 200),
                               tuple(_listing(name, OLD) for name in listed), None, machines)


def _look(machines: tuple[Machine, ...], renewed: tuple[str, ...] = (), listed: tuple[str, ...] = ("cp-a", "cp-b"),
          repave: str | None = None) -> Sample:
    cluster = ClusterObject("c", "c", START, "Running", repave, "aws", "cfg")
    return Sample(START, machines, tuple(_listing(n, NEW if n in renewed else OLD) for n in listed), cluster)


A, B = _machine("1", "cp-a"), _machine("2", "cp-b")


def test_machines_kept_with_renewed_certificates_are_in_place_and_done_once_all_are() -> None:
    watch = RenewalWatch(_before(A, B), controlplane_only=False)
    first = watch.look(_look((A, B), renewed=("cp-a",)))
    assert (first.mode, first.done, first.summary) == ("in-place", False, "1/2 control-plane machines renewed in place")
    assert watch.look(_look((A, B), renewed=("cp-a", "cp-b"))).done


def test_machines_replaced_are_a_repave_even_under_an_old_name() -> None:
    """A new machine (a new uid) that took an old one's name and lists new certificates was not renewed in place."""
    reborn = _machine("3", "cp-a")
    progress = RenewalWatch(_before(A, B), controlplane_only=True).look(_look((reborn, B), renewed=("cp-a",)))
    assert progress.mode == "repave" and not progress.done


def test_without_uids_a_machine_made_again_under_its_name_is_a_replacement() -> None:
    """An API without uids names machines by name: a machine created anew under an old name was replaced."""
    named = Machine(None, "cp-a", "cp", True, "Running", START)
    again = Machine(None, "cp-a", "cp", True, "Running", START + dt.timedelta(minutes=5))
    progress = RenewalWatch(_before(named, listed=("cp-a",)), True).look(
        _look((again,), renewed=("cp-a",), listed=("cp-a",)))
    assert progress.mode == "repave" and progress.done


def test_a_renewal_in_place_that_replaced_a_machine_is_in_place_and_names_it() -> None:
    before = _before(A, B)
    record = RenewalRecord("t", "auto", False, 60.0, before, START)
    successor = _machine("3", "cp-c")
    record.samples += [_look((A, B), renewed=("cp-a",)),
                       _look((A, successor), renewed=("cp-a",), listed=("cp-a", "cp-c"))]
    seen = renewal_seen(record)
    assert (seen.mode, seen.renewed_in_place, seen.replaced, seen.added) == ("in-place", ("cp-a",), ("cp-b",),
                                                                               ("cp-c",))
    assert seen.describe() == ("the platform renewed in place: 1 control-plane machine kept its uid and reported "
                               "renewed certificates (cp-a); besides, 1 control-plane machine went away (cp-b) and "
                               "1 new control-plane machine came (cp-c)")
    record.finished_at = START
    inventory = PlatformInventory(target="t", observed_at=START)
    context = ApiRenewalContext(inventory, Profile("palette", renewal_mode="auto"), START, renewal=record)
    verdict = evaluate(get("KC-RPV-11"), context)
    assert verdict.status.value == "failed"
    assert "cp-b went away by" in verdict.message and "new machine cp-c appeared at" in verdict.message


def test_a_listing_that_names_hosts_is_matched_to_its_machines() -> None:
    """A vendor's listing names machines by host name (ip-10-0-0-1...): still the same machine, renewed in place."""
    host = Machine("1", "cp-1", "cp", True, "Running", START, hostnames=("ip-10-0-0-1",))
    before = _before(host, listed=("ip-10-0-0-1",))
    progress = RenewalWatch(before, False).look(_look((host,), renewed=("ip-10-0-0-1",), listed=("ip-10-0-0-1",)))
    assert progress.mode == "in-place" and progress.done


def test_a_repave_waiting_for_approval_is_held_while_nothing_moves() -> None:
    watch = RenewalWatch(_before(A, B), controlplane_only=False)
    assert watch.look(_look((A, B), repave="Pending")).awaiting_approval
    assert not watch.look(_look((A, B), repave="Approved")).awaiting_approval
    moving = watch.look(_look((A, B, _machine("3", "cp-c", state="Provisioning")), repave="Pending"))
    assert not moving.awaiting_approval and moving.mode == "repave"  # once it moves, it is watched as a repave


def test_a_repave_state_that_changes_after_refused_requests_is_a_change() -> None:
    before = _before(A, B)
    held = _look((A, B), repave="Pending")
    assert changes(before, held) == ["the cluster's repave state went from (none) to Pending"]
    assert changes(before, _look((A, B))) == []


# ---------------------------------------------------------------- the reference's approval routes


def test_the_reference_holds_a_repave_until_it_is_approved(tmp_path: Path) -> None:
    from kubecert.reference.api.cli import seed
    from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
    from kubecert.reference.pki import KeyPool
    from kubecert.reference.platform.engine import Timing

    settings = ServerSettings(state_file=tmp_path / "state.db", api_key="k", port=0, rate=0,
                              timing=Timing(provision_s=0.2, delete_s=0.1, renew_machine_s=0.1, scale=1.0))
    server = ReferenceApiServer(settings, keys=KeyPool(size=8))
    seed(server.platform, 1, mode="repave", control_planes=1, workers=1, age_days=10, repave_approval=True)
    server.start()
    session = requests.Session()
    session.trust_env = False  # verified with the server's own CA, whatever the environment names
    session.verify, session.headers["ApiKey"] = str(server.tls.ca_bundle), "k"
    try:
        with server.platform.store.snapshot() as db:
            uid = db.execute("SELECT uid FROM clusters").fetchone()["uid"]
        base = f"{server.url}/v1/spectroclusters/{uid}"
        never = session.get(f"{base}/repave/status", timeout=10).json()
        assert never == {"metadata": {"uid": uid, "name": "reference-1"},
                         "spec": {"reasons": [], "spectroClusterUid": uid}, "status": {}}
        assert session.patch(f"{base}/k8certificates/renew", timeout=10).status_code == 204
        status = session.get(base, timeout=10).json()["status"]
        assert status["repave"] == {"state": "Pending"}
        assert status["conditions"][0]["reason"] == "WaitingForApproval"
        held = session.get(f"{base}/repave/status", timeout=10).json()
        assert held["status"]["state"] == "Pending" and held["spec"]["source"] == "user"
        assert [r["code"] for r in held["spec"]["reasons"]] == ["CertificatesRenewal"]
        assert server.platform.step() is None  # nothing is due: a held repave never moves on its own
        again = session.patch(f"{base}/k8certificates/renew", timeout=10)
        assert again.status_code == 409 and f"/v1/spectroclusters/{uid}/repave/approve" in again.json()["message"]
        assert session.patch(f"{base}/repave/approve", timeout=10).status_code == 204
        assert session.get(base, timeout=10).json()["status"]["repave"] == {"state": "Approved"}
        deadline = dt.datetime.now(UTC) + dt.timedelta(seconds=120)  # a hang guard: the repave takes about a second
        while session.get(base, timeout=10).json()["status"]["conditions"][0]["reason"] != "Completed":
            assert dt.datetime.now(UTC) < deadline, "the approved repave never finished"
            time.sleep(0.05)
        assert session.patch(f"{base}/repave/approve", timeout=10).status_code == 204  # nothing held: no change
        with server.platform.store.snapshot() as db:
            renewals = db.execute("SELECT state, approved_at IS NOT NULL FROM renewals").fetchall()
            replaced = db.execute("SELECT COUNT(*) FROM machines WHERE renewal_id IS NOT NULL").fetchone()[0]
        assert [tuple(r) for r in renewals] == [("Completed", 1)] and replaced == 2
        attached, later = _profiles(server)
        validation = session.post(f"{base}/validate/repave", timeout=10, json={"profiles": [
            {"uid": later, "replaceWithProfile": attached}]}).json()
        assert validation == {"isRepaveRequired": True, "reasons": [
            {"code": "KubernetesVersionUpdated", "message": "the Kubernetes pack changes to 1.31.5: every machine is "
                                                            "replaced"}]}
    finally:
        session.close()
        server.stop()


def _profiles(server: Any) -> tuple[str, str]:
    """The uids of the cluster's attached profile version and of the next one (an upgrade to 1.31.5)."""
    from kubecert.reference.api import profiles

    with server.platform.store.snapshot() as db:
        cluster = db.execute("SELECT * FROM clusters").fetchone()
        return profiles.attached(db, cluster).uid, profiles.later(cluster)[0].uid


def test_the_approval_part_says_so_when_served(tmp_path: Path) -> None:
    from kubecert.reference.api.served_process import serve

    with serve(tmp_path / "state.db", "--control-planes", "1", "--workers", "0", "--repave-approval") as served:
        assert "(repave, repaves held for approval)" in served.output
        path = f"/v1/spectroclusters/{served.cluster}"
        assert served.call("PATCH", f"{path}/k8certificates/renew").status_code == 204
        assert served.call("GET", path).json()["status"]["repave"] == {"state": "Pending"}


def test_a_renewal_past_its_deadline_passes_nothing_and_keeps_what_it_found_wrong() -> None:
    """The deadline is a bound: what a renewal that did not finish was seen doing wrong fails, but what it was not
    seen doing wrong is no pass (the rest of it was never seen)."""
    before = _before(A, B)
    record = RenewalRecord("t", "auto", False, 60.0, before, START)
    record.samples.append(_look((A, B, _machine("3", "cp-c", state="Provisioning"))))  # a repave, stuck
    inventory = PlatformInventory(target="t", observed_at=START)
    context = ApiRenewalContext(inventory, Profile("palette", renewal_mode="auto"), START, renewal=record)
    for rule in ("KC-RPV-03", "KC-RPV-04"):
        verdict = evaluate(get(rule), context)
        assert verdict.status.value == "error", (rule, verdict.message)
        assert "the renewal did not finish within 60 s, so it was not seen whole" in verdict.message
    record.profile_mode = "in-place"
    pinned = ApiRenewalContext(inventory, Profile("palette", renewal_mode="in-place"), START, renewal=record)
    contradicted = evaluate(get("KC-RPV-11"), pinned)
    assert contradicted.status.value == "failed"  # a failure seen before the deadline stands
    assert "the profile pins renewal_mode in-place, but the platform repaved: 1 new control-plane machine came (cp-c)" \
        in contradicted.message
