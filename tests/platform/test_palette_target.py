"""The palette target through the plugin, against the reference server and against a vendor's own
implementation of the documented routes; its mistakes and a down API are clear one-line errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vendor_api import vendor_api

from kubecert.reference.api import profiles
from kubecert.reference.api.server import ReferenceApiServer

from http_servers import Answer, serving
from support import reference_api as reference_api_serving
from support import run_suite, statuses

KEY = "kc-target-test-key-0123456789"
API_RULES = ["KC-API-01", "KC-API-02", "KC-API-03", "KC-API-04", "KC-API-05", "KC-API-06", "KC-API-08"]
READ_ONLY = "KC-API-0[1-68]"  # the API rules that run without --allow-disruptive (KC-API-07 is a write)


@pytest.fixture(scope="module")
def reference_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ReferenceApiServer, str, str]]:
    with reference_api_serving(tmp_path_factory.mktemp("reference-api"), KEY) as serving_api:
        yield serving_api


def run(pytester: pytest.Pytester, target: str, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    return run_suite(pytester, "--kubecert-target", target, *args)


def test_the_reference_api_passes_through_the_palette_target(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    server, cluster, project = reference_api
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                         "--kubecert-ca-bundle", str(server.tls.ca_bundle), "--kubecert-rule", READ_ONLY)
    assert statuses(report) == dict.fromkeys(API_RULES, "passed")
    assert report["targets"][0]["location"]["tls"].startswith("verified with ")
    assert KEY not in json.dumps(report) and KEY not in result.stdout.str() + result.stderr.str()


def test_renewal_checks_are_skipped_without_the_opt_in(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    server, cluster, project = reference_api
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    _, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                    "--kubecert-ca-bundle", str(server.tls.ca_bundle), "--kubecert-rule", "KC-RPV-*")
    assert set(statuses(report).values()) == {"skipped"}
    assert "pass --allow-disruptive" in report["results"][0]["message"]
    # Before the opt-in is even asked for, the upgrade's and the annotation's checks say which option they need.
    upgrade = next(r for r in report["results"] if r["rule"] == "KC-RPV-10")
    assert "cannot offer upgrade: give --upgrade-profile UID" in upgrade["message"], upgrade["message"]
    annotated = next(r for r in report["results"] if r["rule"] == "KC-RPV-06")
    assert "cannot offer annotate: give --palette-kubeconfig FILE" in annotated["message"], annotated["message"]
    assert {"annotate", "upgrade"}.isdisjoint(report["targets"][0]["capabilities"])


def test_the_annotation_goes_through_the_kubernetes_api_of_palette_kubeconfig(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    """As the Palette page's kubectl annotate spc: the SpectroCluster object is the Kubernetes API's, here the
    reference's, whose kubeconfig (a cluster-admin's client certificate) the server wrote."""
    server, cluster, project = reference_api
    with server.platform.store.snapshot() as db:
        generation = db.execute("SELECT spc_generation FROM clusters").fetchone()[0]
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    _, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                    "--kubecert-ca-bundle", str(server.tls.ca_bundle), "--kubecert-palette-kubeconfig",
                    str(server.kubeconfig), "--kubecert-poll-interval", "0.05", "--kubecert-allow-disruptive",
                    "--kubecert-rule", "KC-RPV-06")
    result = report["results"][0]
    assert result["status"] == "passed", result["message"]
    assert "annotate" in report["targets"][0]["capabilities"]
    assert next(e for e in result["evidence"] if e["subject"] == "workers")["annotation_restored"] is True
    with server.platform.store.snapshot() as db:
        annotations, after = db.execute("SELECT spc_annotations, spc_generation FROM clusters").fetchone()
    assert json.loads(annotations) == {} and after == generation + 2  # set, then put back as it was


def test_an_unknown_ca_is_an_error_for_every_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    server, cluster, _ = reference_api
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, f"palette:{server.url}?cluster={cluster}", "--kubecert-rule", READ_ONLY)
    assert set(statuses(report).values()) == {"error"}
    assert "TLS verification of https://127.0.0.1:" in report["results"][0]["message"]
    assert "give the server's CA with --ca-bundle FILE" in report["results"][0]["message"]
    assert "Traceback" not in result.stdout.str()


def test_turning_verification_off_warns_loudly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    server, cluster, project = reference_api
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                    "--kubecert-insecure-skip-tls-verify", "--kubecert-rule", "KC-API-01")
    assert statuses(report) == {"KC-API-01": "passed"}
    assert report["targets"][0]["location"]["tls"] == "NOT VERIFIED"
    assert "[kubecert] WARNING: TLS verification is OFF for palette:" in result.stdout.str()


def test_a_down_api_is_an_error_for_every_check(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(lambda seen: Answer(200)) as gone:
        port = gone.url.rsplit(":", 1)[1]
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, f"palette:https://127.0.0.1:{port}?cluster=c1", "--kubecert-rule", READ_ONLY)
    assert set(statuses(report).values()) == {"error"}
    assert f"cannot connect to https://127.0.0.1:{port} (Connection refused)" in report["results"][0]["message"]
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(("target", "env", "words"), [
    ("palette:https://api.example.test?cluster=c1", None,
     "no API key: set the environment variable PALETTE_API_KEY or pass --api-key-file FILE"),
    ("palette:http://api.example.test?cluster=c1", KEY, "plain http would send the API key in clear"),
    ("palette:https://api.example.test", KEY, "which cluster? add ?cluster=UID or --palette-cluster UID"),
    ("palette:https://api.example.test?cluster=c1&colour=red", KEY, "unknown option 'colour=red'"),
])
def test_configuration_mistakes_are_usage_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, target: str, env: str | None, words: str
) -> None:
    monkeypatch.delenv("PALETTE_API_KEY", raising=False)
    if env:
        monkeypatch.setenv("PALETTE_API_KEY", env)
    result, report = run(pytester, target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert words in result.stderr.str() and not report


# ---------------------------------------------------------------- KC-RPV-10: an upgrade through the API


def _at_rest(server: ReferenceApiServer) -> tuple[str, list[str], str]:
    """The seeded cluster's attached profile version, its later versions and the Kubernetes release it runs, once
    no renewal or upgrade of it runs."""
    deadline = time.monotonic() + 30
    while True:
        with server.platform.store.snapshot() as db:
            busy = db.execute("SELECT COUNT(*) FROM renewals WHERE state IN ('Pending', 'Running')").fetchone()[0]
            row = db.execute("SELECT * FROM clusters").fetchone()
        if not busy or time.monotonic() > deadline:
            attached = profiles.by_release(row, row["kubernetes_version"]).uid
            return attached, [v.uid for v in profiles.later(row)], row["kubernetes_version"]
        time.sleep(0.1)


def test_an_upgrade_applies_a_later_version_of_the_attached_profile_as_palettes_client_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    server, cluster, project = reference_api
    attached, later, version = _at_rest(server)
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                         "--kubecert-ca-bundle", str(server.tls.ca_bundle), "--kubecert-allow-disruptive",
                         "--kubecert-poll-interval", "0.1", "--kubecert-upgrade-profile", later[0],
                         "--kubecert-rule", "KC-RPV-10")
    found = report["results"][0]
    assert found["status"] == "passed", found["message"]
    leaves = [e for e in found["evidence"] if "/" in e["subject"]]
    assert len(leaves) == 2 * 7 and all(e["new_machine"] and e["before"] for e in leaves)  # a repave: new machines
    upgrade = next(e for e in found["evidence"] if e["subject"] == "upgrade")
    now_attached, _, wanted = _at_rest(server)
    assert (upgrade["profile"], upgrade["replaces"]) == (later[0], attached)  # the new version for the attached one
    assert (upgrade["pack"], upgrade["version_before"]) == ("kubernetes", version)
    assert upgrade["version"] == upgrade["version_after"] == wanted != version  # the release the new version carries
    assert upgrade["answer"]["request"] == f"PATCH /v1/spectroclusters/{cluster}/profiles"
    assert upgrade["answer"]["http_status"] == 204 and now_attached == later[0]
    assert "upgrade finished in" in result.stdout.str()


@pytest.mark.parametrize(("option", "words"), [
    ("unknown", "--upgrade-profile 0123456789abcdef01234567: the cluster profile version could not be read: "
                "GET /v1/clusterprofiles/0123456789abcdef01234567 answered 404 ResourceNotFound"),
    ("attached", "is attached to the cluster already: name a version it does not run"),
    ("wrong-replaces", "the upgrade request was not accepted: 404"),
])
def test_an_upgrade_that_cannot_be_made_is_an_error_naming_why(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any, option: str, words: str
) -> None:
    server, cluster, project = reference_api
    attached, later, version = _at_rest(server)
    args = {"unknown": ("--kubecert-upgrade-profile", "0123456789abcdef01234567"),
            "attached": ("--kubecert-upgrade-profile", attached),
            "wrong-replaces": ("--kubecert-upgrade-profile", later[0], "--kubecert-upgrade-replaces", later[1])}[option]
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    _, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                    "--kubecert-ca-bundle", str(server.tls.ca_bundle), "--kubecert-allow-disruptive", *args,
                    "--kubecert-rule", "KC-RPV-10")
    found = report["results"][0]
    assert found["status"] == "error" and words in found["message"], found["message"]
    assert _at_rest(server) == (attached, later, version)  # nothing was upgraded


@pytest.mark.parametrize(("args", "words"), [
    (("--kubecert-upgrade-replaces", "p-1"), "give --upgrade-profile UID too"),
    (("--kubecert-upgrade-profile", "p 1"), "is not one word"),
    (("--kubecert-upgrade-profile", "p-1", "--kubecert-upgrade-replaces", "p-1"), "name the same profile version"),
    (("--kubecert-upgrade-version", "1.31.5"), "unrecognized arguments: --kubecert-upgrade-version"),
])
def test_an_upgrade_named_wrong_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], words: str
) -> None:
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, "palette:https://api.example.test?cluster=c1", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert words in result.stderr.str() and not report


# ---------------------------------------------------------------- a vendor's own implementation


def test_a_vendor_implementation_with_its_own_ways_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with serving(vendor_api("c-123", "p-1"), tls_dir=tmp_path) as api:
        key_file = tmp_path / "key"
        key_file.write_text(KEY + "\n")
        key_file.chmod(0o600)
        monkeypatch.delenv("PALETTE_API_KEY", raising=False)
        _, report = run(pytester, f"palette:{api.url}?cluster=c-123&project=p-1", "--kubecert-api-key-file",
                        str(key_file), "--kubecert-ca-bundle", str(api.ca_bundle), "--kubecert-rule", READ_ONLY,
                        "--kubecert-at", "2026-01-01", "--kubecert-min-remaining", "30")
    assert statuses(report) == dict.fromkeys(API_RULES, "passed"), [r["message"] for r in report["results"]]
    pages = [s.path for s in api.seen if "/machinePools/cp/machines" in s.path]
    assert len(pages) == 2 and "continue=second" in pages[1]


def test_a_renewal_past_the_deadline_fails_kc_rpv_08_and_leaves_the_rest_unjudged(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reference_api: Any
) -> None:
    server, cluster, project = reference_api
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    result, report = run(pytester, f"palette:{server.url}?cluster={cluster}&project={project}",
                         "--kubecert-ca-bundle", str(server.tls.ca_bundle), "--kubecert-renewal-deadline", "0.5",
                         "--kubecert-poll-interval", "0.1", "--kubecert-allow-disruptive",
                         "--kubecert-rule", "KC-RPV-08", "--kubecert-rule", "KC-RPV-02")
    found = {r["rule"]: r for r in report["results"]}
    assert found["KC-RPV-08"]["status"] == "failed"
    assert "not finished after" in found["KC-RPV-08"]["message"]
    assert found["KC-RPV-02"]["status"] == "error" and "see KC-RPV-08" in found["KC-RPV-02"]["message"]
    assert "renewal not finished after" in result.stdout.str()  # the progress said so while it waited
