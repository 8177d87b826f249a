"""The Palette API's own routes and types, both ways (spec/routes.json and spec/models.json, written from the SDK
spectrocloud/palette-sdk-go):

- every answer the reference server gives (the listing, the cluster object with and without the SDK's query
  parameters, the cloud config, every page of machines, cluster profile versions, the repave status, errors of
  every kind, the answers to an upgrade and a renewal, and the documents while they run) is the SDK's model (the
  413 of a body past the bound: test_reference_api_limits.py; the 429s: test_reference_api.py);
- every request the palette target sends to the API's host, over a whole run of every API and RPV rule in both
  renewal modes, is one of the SDK's routes with only the query parameters the SDK defines for it and, where it
  sends a body, the SDK's model; the SpectroCluster object is reached through the Kubernetes API of
  --palette-kubeconfig, never through the Palette API's host.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from kubecert.reference.api import models, profiles
from kubecert.reference.api.cli import seed
from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool
from kubecert.reference.platform.engine import Timing
from kubecert.targets.palette.http import ApiClient

from support import run_suite

KEY = "kc-spec-test-key-0123456789"


@dataclass
class Reference:
    server: ReferenceApiServer
    row: Any
    session: requests.Session = field(default_factory=requests.Session)
    checked: dict[str, int] = field(default_factory=dict)  # model → how many answers were validated against it

    def call(self, method: str, path: str, *, key: str | None = KEY, project: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {k: v for k, v in (("ApiKey", key), ("ProjectUid", project)) if v is not None}
        headers.update(kwargs.pop("headers", {}))
        return self.session.request(method, self.server.url + path, headers=headers, timeout=10, **kwargs)

    def fits(self, answer: requests.Response, model: str | None, status: int) -> Any:
        """Assert ``answer`` has ``status`` and is ``model`` (an error: V1Error; None: no body at all)."""
        assert answer.status_code == status, (answer.request.method, answer.url, answer.status_code, answer.text)
        if model is None:
            assert answer.content == b""
            return None
        assert answer.headers["Content-Type"].startswith("application/json")
        document = answer.json()
        assert models.problems(model, document) == [], (answer.url, models.problems(model, document)[:5])
        self.checked[model] = self.checked.get(model, 0) + 1
        return document

    def error(self, answer: requests.Response, status: int) -> None:
        self.fits(answer, "V1Error", status)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    settings = ServerSettings(state_file=tmp_path_factory.mktemp("spec") / "state.db", api_key=KEY, rate=0,
                              timing=Timing(provision_s=0.3, delete_s=0.15, renew_machine_s=0.2, scale=1.0))
    server = ReferenceApiServer(settings, keys=KeyPool(size=12))
    seed(server.platform, 1, mode="repave", control_planes=2, workers=2, age_days=100)
    server.start()
    with server.platform.store.snapshot() as db:
        row = db.execute("SELECT * FROM clusters").fetchone()
    found = Reference(server, row)
    found.session.trust_env = False
    found.session.verify = str(server.tls.ca_bundle)
    try:
        yield found
    finally:
        found.session.close()
        server.stop()


def _reads(ref: Reference) -> None:
    """Every read route, as it answers now."""
    uid, config = ref.row["uid"], ref.row["config_uid"]
    ref.fits(ref.call("GET", f"/v1/spectroclusters/{uid}"), "V1SpectroCluster", 200)
    for query in ("includeNonSpectroLabels=false&resolvePackValues=false", "resolvePackValues=true",
                  "includeTags=system,profile", "profileType=cluster&includePackMeta=schema"):
        ref.fits(ref.call("GET", f"/v1/spectroclusters/{uid}?{query}"), "V1SpectroCluster", 200)
    ref.fits(ref.call("GET", f"/v1/spectroclusters/{uid}/k8certificates"), "V1MachineCertificates", 200)
    ref.fits(ref.call("GET", f"/v1/cloudconfigs/aws/{config}"), "V1AwsCloudConfig", 200)
    for pool in ("control-plane-pool", "worker-pool"):
        token: str | None = None
        while token != "":
            page = ref.fits(ref.call("GET", f"/v1/cloudconfigs/aws/{config}/machinePools/{pool}/machines",
                                     params={"limit": 1, **({"continue": token} if token else {})}),
                            "V1AwsMachines", 200)
            token = page["listmeta"]["continue"]
    for version in profiles.versions(ref.row):
        ref.fits(ref.call("GET", f"/v1/clusterprofiles/{version}"), "V1ClusterProfile", 200)
    repave = ref.call("GET", f"/v1/spectroclusters/{uid}/repave/status")  # a route of the repave approval's
    ref.fits(repave, "V1SpectroClusterRepave" if repave.status_code == 200 else "V1Error", repave.status_code)


def _while_running(ref: Reference, done: Callable[[], bool]) -> int:
    """The reads, again and again until ``done``: the documents of machines being made and removed."""
    looks, deadline = 0, time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, "the platform never came to rest"
        _reads(ref)
        looks += 1
    _reads(ref)
    return looks


def _at_rest(ref: Reference) -> bool:
    with ref.server.platform.store.snapshot() as db:
        return not db.execute("SELECT COUNT(*) FROM renewals WHERE state IN ('Pending', 'Running')").fetchone()[0]


def test_every_answer_of_the_reference_is_the_sdks_model(reference: Reference) -> None:
    ref, uid = reference, reference.row["uid"]
    _reads(ref)
    # Errors of every kind, each the SDK's V1Error.
    ref.error(ref.call("GET", f"/v1/spectroclusters/{uid}", key=None), 401)
    ref.error(ref.call("GET", f"/v1/spectroclusters/{uid}", key="wrong"), 401)
    ref.error(ref.call("GET", f"/v1/spectroclusters/{uid}", project="no-such-project"), 403)
    ref.error(ref.call("GET", "/v1/spectroclusters/0123456789abcdef01234567"), 404)
    ref.error(ref.call("GET", "/v1/no/such/route"), 404)
    ref.error(ref.call("POST", f"/v1/spectroclusters/{uid}/k8certificates"), 405)
    ref.error(ref.call("GET", f"/v1/cloudconfigs/aws/{ref.row['config_uid']}/machinePools/worker-pool/machines",
                       params={"continue": "x"}), 400)
    listing = ref.call("GET", f"/v1/spectroclusters/{uid}/k8certificates").json()
    ref.error(ref.call("PUT", f"/v1/spectroclusters/{uid}/k8certificates", json=listing), 403)
    profiles_path = f"/v1/spectroclusters/{uid}/profiles"
    ref.error(ref.call("PATCH", profiles_path, json={"profiles": [{"uid": 7}]}), 400)
    ref.error(ref.call("PATCH", profiles_path, json={"profiles": [{"uid": "0123456789abcdef01234567"}]}), 404)
    ref.error(ref.call("PATCH", profiles_path, data="{}", headers={"Content-Type": "text/plain"}), 415)
    # An upgrade as the SDK's client sends it: 204, no body; the documents while it runs, and after.
    attached = profiles.by_release(ref.row, ref.row["kubernetes_version"]).uid
    later = profiles.later(ref.row)[0].uid
    upgrade = {"profiles": [{"uid": later, "replaceWithProfile": attached}]}
    ref.fits(ref.call("PATCH", profiles_path, json=upgrade, params={"resolveNotification": "true"}), None, 204)
    ref.error(ref.call("PATCH", f"/v1/spectroclusters/{uid}/k8certificates/renew"), 409)
    looks = _while_running(ref, lambda: _at_rest(ref))
    # A renewal: 204, no body; the documents of a repave while it runs, and after.
    ref.fits(ref.call("PATCH", f"/v1/spectroclusters/{uid}/k8certificates/renew"), None, 204)
    looks += _while_running(ref, lambda: _at_rest(ref))
    assert looks >= 2
    assert set(ref.checked) >= {"V1SpectroCluster", "V1MachineCertificates", "V1AwsCloudConfig", "V1AwsMachines",
                                "V1ClusterProfile", "V1Error"}


# ---------------------------------------------------------------- what the palette target sends

ROUTES = [(route, re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", route["path"]) + "$")) for route in models.routes()]


@dataclass(frozen=True)
class Sent:
    method: str
    origin: str
    path: str
    query: tuple[str, ...]
    body: Any


def _sdk_route(sent: Sent) -> dict[str, Any] | None:
    return next((route for route, pattern in ROUTES if route["method"] == sent.method and pattern.match(sent.path)),
                None)


def test_the_palette_target_calls_only_the_sdks_routes_with_its_parameters_and_bodies(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.client import rest

    sent: list[Sent] = []
    kubernetes: list[tuple[str, str]] = []
    request_once = ApiClient._request_once
    kubernetes_request = rest.RESTClientObject.request

    def recorded(self: ApiClient, outgoing: Any, url: str, params: dict[str, Any] | None) -> Any:
        parts = urllib.parse.urlsplit(url)
        query = tuple(sorted({*urllib.parse.parse_qs(parts.query), *(params or {})}))
        body = json.loads(outgoing.data) if outgoing.data else None
        sent.append(Sent(outgoing.method, f"{parts.scheme}://{parts.netloc}", parts.path, query, body))
        return request_once(self, outgoing, url, params)

    def recorded_kubernetes(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kubernetes.append((method, url))
        return kubernetes_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(ApiClient, "_request_once", recorded)
    monkeypatch.setattr(rest.RESTClientObject, "request", recorded_kubernetes)
    _, report = run_suite(pytester, "--kubecert-target", "reference:palette", "--kubecert-target",
                          "reference:palette-in-place", "--kubecert-target", "reference:palette-approval",
                          "--kubecert-rule", "KC-API-*", "--kubecert-rule", "KC-RPV-*")
    assert len(report["results"]) == 3 * 19
    by_target: dict[str, dict[str, str]] = {}
    for result in report["results"]:
        by_target.setdefault(result["target"], {})[result["rule"]] = result["status"]
    # Each renewal mode's own rules pass; the other mode's are not applicable.
    for target, other_mode in (("reference:palette", {"KC-RPV-11"}),
                               ("reference:palette-in-place", {"KC-RPV-04", "KC-RPV-05"})):
        assert {rule for rule, status in by_target[target].items() if status != "passed"} == other_mode, [
            (r["rule"], r["status"], r["message"]) for r in report["results"]
            if r["target"] == target and r["status"] != "passed"]
        assert {by_target[target][rule] for rule in other_mode} == {"not_applicable"}
    # A repave held for approval: nothing fails, and every check of the held renewal says how to approve it.
    held = [r for r in report["results"] if r["target"] == "reference:palette-approval"]
    assert "failed" not in {r["status"] for r in held}
    errors = [r for r in held if r["status"] == "error"]
    assert errors and all("repave/approve" in r["message"] for r in errors), [r["message"] for r in errors]

    problems, operations = [], set()
    for request in sent:
        route = _sdk_route(request)
        if route is None:
            problems.append(f"{request.method} {request.path}: not one of the SDK's routes")
            continue
        operations.add(route["operation"])
        extra = set(request.query) - set(route["query"])
        if extra:
            problems.append(f"{request.method} {request.path}: query parameters {sorted(extra)} are not the SDK's")
        if request.body is not None:
            issues = models.problems(route["body"], request.body) if route["body"] else ["a body the SDK does not send"]
            problems += [f"{request.method} {request.path}: {issue}" for issue in issues]
    assert not problems, "\n".join(problems)
    assert operations == {
        "V1SpectroClustersGet", "V1SpectroClustersK8Certificate", "V1SpectroClustersK8CertificateUpdate",
        "V1SpectroClustersCertificatesRenew", "V1SpectroClustersPatchProfiles", "V1ClusterProfilesGet",
        "V1CloudConfigsAwsGet", "V1CloudConfigsAwsPoolMachinesList", "V1SpectroClustersUIDRepaveGet"}
    assert not any(request.path.startswith("/apis/") for request in sent)
    # The profile update as the SDK's client sends it.
    update = next(r for r in sent if r.method == "PATCH" and r.path.endswith("/profiles"))
    assert update.query == ("resolveNotification",)
    assert set(update.body["profiles"][0]) == {"uid", "replaceWithProfile"}
    # The SpectroCluster object through the Kubernetes API (another origin), read and annotated there, for each part.
    api_origins = {request.origin for request in sent}
    assert kubernetes and all(urllib.parse.urlsplit(url).path.startswith(
        "/apis/cluster.spectrocloud.com/v1/namespaces/cluster-") for _, url in kubernetes)
    assert not {f"{urllib.parse.urlsplit(url).scheme}://{urllib.parse.urlsplit(url).netloc}"
                for _, url in kubernetes} & api_origins
    assert [method for method, _ in kubernetes].count("PATCH") == 3 * 2  # set, then put back, per target
