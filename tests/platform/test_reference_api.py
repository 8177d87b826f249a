"""The reference API's routes answer as the Palette API does: shapes, auth, project scope, errors,
paging, the certificate listing refused to an API key's PUT, cluster profile versions and the profile updates
that apply one (an upgrade), and the request budgets. Every answer's shape against the SDK's models:
test_api_spec.py."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kubecert.reference.api import models, profiles
from kubecert.reference.api.auth import AddressBudgets
from kubecert.reference.api.cli import seed
from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool
from kubecert.reference.platform.engine import KUBERNETES_VERSION, Platform, Timing

KEY = "kc-reference-api-test-key"


class Api:
    def __init__(self, server: ReferenceApiServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(server.tls.ca_bundle)
        with server.platform.store.snapshot() as db:
            row = db.execute("SELECT * FROM clusters ORDER BY name").fetchone()
            self.other_project = db.execute("SELECT uid FROM projects WHERE name = 'other'").fetchone()[0]
        self.cluster, self.name, self.config = row["uid"], row["name"], row["config_uid"]
        self.project = row["project_uid"]
        self.version = row["kubernetes_version"]
        self.profile = profiles.by_release(row, self.version).uid  # the attached version of the cluster's profile
        self.later = [v.uid for v in profiles.later(row)]  # its later versions, by release

    def call(self, method: str, path: str, *, key: str | None = KEY, project: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {k: v for k, v in (("ApiKey", key), ("ProjectUid", project)) if v is not None}
        headers.update(kwargs.pop("headers", {}))
        return self.session.request(method, self.server.url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api")
    settings = ServerSettings(state_file=folder / "state.db", api_key=KEY, rate=0,
                              timing=Timing(provision_s=0.3, delete_s=0.1, renew_machine_s=0.5, scale=1.0))
    server = ReferenceApiServer(settings, keys=KeyPool(size=12))
    seed(server.platform, 1, mode="repave", control_planes=2, workers=3, age_days=10)
    server.start()
    yield Api(server)
    server.stop()


def assert_error(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert answer.headers["Content-Type"].startswith("application/json")
    assert body["code"] == code and body["message"] and len(body["ref"]) == 16 and KEY not in answer.text


def test_documents_have_the_documented_shapes(api: Api) -> None:
    cluster = api.call("GET", f"/v1/spectroclusters/{api.cluster}", project=api.project).json()
    assert cluster["metadata"]["uid"] == api.cluster and cluster["metadata"]["creationTimestamp"].endswith("Z")
    assert cluster["spec"]["cloudConfigRef"]["uid"] == api.config and cluster["status"]["state"] == "Running"
    assert cluster["status"]["packs"] == [{"name": "kubernetes", "profileUid": api.profile, "type": "spectro",
                                           "version": api.version}]
    [template] = cluster["spec"]["clusterProfileTemplates"]
    assert (template["uid"], template["name"]) == (api.profile, f"{api.name}-profile")
    assert template["packs"] == [{"layer": "k8s", "name": "kubernetes", "tag": api.version, "type": "spectro",
                                  "version": api.version}]
    resolved = api.call("GET", f"/v1/spectroclusters/{api.cluster}", params={
        "resolvePackValues": "true", "includeTags": "system,profile", "includeNonSpectroLabels": "false"}).json()
    assert f"kubernetesVersion: v{api.version}" in resolved["spec"]["clusterProfileTemplates"][0]["packs"][0]["values"]
    assert {k: v for k, v in resolved.items() if k != "spec"} == {k: v for k, v in cluster.items() if k != "spec"}
    listing = api.call("GET", f"/v1/spectroclusters/{api.cluster}/k8certificates").json()
    assert len(listing["machineCertificates"]) == 2
    authorities = {a["name"]: a for a in listing["machineCertificates"][0]["certificateAuthorities"]}
    assert sorted(c["name"] for c in authorities["etcd-ca"]["certificates"]) == [
        "kube-apiserver-etcd-client", "kube-etcd-healthcheck-client", "kube-etcd-peer", "kube-etcd-server"]
    config = api.call("GET", f"/v1/cloudconfigs/aws/{api.config}").json()
    assert [(p["name"], p["isControlPlane"], p["size"]) for p in config["spec"]["machinePoolConfig"]] == [
        ("control-plane-pool", True, 2), ("worker-pool", False, 3)]


def test_machines_come_in_pages(api: Api) -> None:
    path = f"/v1/cloudconfigs/aws/{api.config}/machinePools/worker-pool/machines"
    first = api.call("GET", path, params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["listmeta"]["count"] == 3 and first["listmeta"]["continue"]
    # As the SDK's V1ListMetaData says: limit is how many were fetched, offset where the next page starts.
    assert (first["listmeta"]["limit"], first["listmeta"]["offset"]) == (2, 2)
    second = api.call("GET", path, params={"continue": first["listmeta"]["continue"]}).json()
    assert len(second["items"]) == 1 and second["listmeta"]["continue"] == ""
    assert all(m["spec"]["dnsName"].endswith(".ec2.internal") for m in first["items"] + second["items"])
    names = {m["metadata"]["name"] for m in first["items"] + second["items"]}
    assert len(names) == 3 and all(m["status"]["instanceState"] == "Running" for m in second["items"])
    assert_error(api.call("GET", path, params={"continue": "not-a-token!"}), 400, "InvalidRequest")


@pytest.mark.parametrize(("method", "route"), [
    ("GET", "/v1/spectroclusters/{cluster}"), ("GET", "/v1/spectroclusters/{cluster}/k8certificates"),
    ("PATCH", "/v1/spectroclusters/{cluster}/k8certificates/renew"), ("GET", "/v1/cloudconfigs/aws/{config}"),
    ("PATCH", "/v1/spectroclusters/{cluster}/profiles"), ("PUT", "/v1/spectroclusters/{cluster}/k8certificates"),
    ("GET", "/v1/clusterprofiles/{profile}"),
    ("GET", "/v1/cloudconfigs/aws/{config}/machinePools/worker-pool/machines"),
])
def test_every_route_wants_the_key_and_respects_the_project(api: Api, method: str, route: str) -> None:
    path = route.format(cluster=api.cluster, config=api.config, profile=api.profile)
    assert_error(api.call(method, path, key=None), 401, "Unauthorized")
    assert_error(api.call(method, path, key="wrong"), 401, "Unauthorized")
    assert_error(api.call(method, path, project="no-such-project"), 403, "ProjectNotFoundInTenant")
    assert_error(api.call(method, path, project=api.other_project), 404, "ResourceNotFound")


def test_other_errors_have_the_same_shape(api: Api) -> None:
    assert_error(api.call("GET", "/v1/spectroclusters/0123456789abcdef01234567"), 404, "ResourceNotFound")
    assert_error(api.call("GET", "/v1/nothing/here"), 404, "ResourceNotFound")
    assert_error(api.call("POST", f"/v1/spectroclusters/{api.cluster}/k8certificates"), 405, "MethodNotAllowed")


def test_an_api_key_cannot_overwrite_the_certificate_listing(api: Api) -> None:
    path = f"/v1/spectroclusters/{api.cluster}/k8certificates"
    listing = api.call("GET", path).json()
    assert_error(api.call("PUT", path, json=listing), 403, "ResourceAccessDenied")
    assert_error(api.call("PUT", path, json=listing, project=api.project), 403, "ResourceAccessDenied")
    assert api.call("GET", path).json() == listing


def _upgrade(api: Api, body: Any, **kwargs: Any) -> requests.Response:
    return api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/profiles", json=body, **kwargs)


def _renewals(api: Api) -> list[tuple[str, str]]:
    """(kind, state) of every renewal and upgrade of the cluster, oldest first."""
    with api.server.platform.store.snapshot() as db:
        return [(r["kind"], r["state"]) for r in db.execute("SELECT kind, state FROM renewals ORDER BY id")]


def test_a_profile_version_is_read_by_its_uid(api: Api) -> None:
    later = api.call("GET", f"/v1/clusterprofiles/{api.later[0]}").json()
    assert later["metadata"] == {"name": f"{api.name}-profile", "uid": api.later[0],
                                 "creationTimestamp": later["metadata"]["creationTimestamp"]}
    assert later["spec"]["published"]["packs"][0]["layer"] == "k8s"
    assert later["spec"]["version"] == later["spec"]["published"]["packs"][0]["tag"] != api.version
    assert_error(api.call("GET", "/v1/clusterprofiles/0123456789abcdef01234567"), 404, "ResourceNotFound")


def test_profile_updates_apply_a_version_of_the_attached_profile_as_the_sdk_sends_it(api: Api) -> None:
    def body(uid: str = api.later[0], replaces: str | None = api.profile, **pack: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"uid": uid, **({"replaceWithProfile": replaces} if replaces else {})}
        return {"profiles": [{**entry, "packValues": [pack]} if pack else entry]}

    before = _renewals(api)
    assert_error(_upgrade(api, body(uid="0123456789abcdef01234567")), 404, "ResourceNotFound")
    assert_error(_upgrade(api, body(replaces="0123456789abcdef01234567")), 404, "ResourceNotFound")
    assert_error(_upgrade(api, body(name="cni-calico")), 404, "ResourceNotFound")
    not_attached = _upgrade(api, body(replaces=None))
    assert_error(not_attached, 404, "ResourceNotFound")
    assert "name the version it replaces in replaceWithProfile" in not_attached.json()["message"]
    # What kubecert once sent: the attached profile with its Kubernetes pack at another tag. packValues overrides a
    # pack's values; it does not change the pack's version.
    tag_override = _upgrade(api, body(uid=api.profile, replaces=None, name="kubernetes", tag="1.31.9"))
    assert_error(tag_override, 404, "ResourceNotFound")
    assert "packValues overrides the values of a pack" in tag_override.json()["message"]
    assert_error(_upgrade(api, {"profiles": [{"replaceWithProfile": api.profile}]}), 404, "ResourceNotFound")
    for wrong in ({}, {"profiles": [{"uid": 5}]}, {**body(), "extra": 1}, {**body(), "spcApplySettings": {
            "actionType": "Later"}}, [body()], "profiles"):
        assert_error(_upgrade(api, wrong), 400, "InvalidRequest")
    assert_error(api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/profiles", data="{", headers={
        "Content-Type": "application/json"}), 400, "InvalidRequest")
    assert_error(api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/profiles", data=json.dumps(body()),
                          headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaType")
    same = _upgrade(api, body(uid=api.profile, replaces=None, name="kubernetes", values="a: b"),
                    params={"resolveNotification": "true"})
    assert same.status_code == 204 and not same.content  # the attached version, new values: no upgrade to make
    assert _renewals(api) == before  # nothing of the above started anything


def test_one_renewal_or_upgrade_at_a_time(api: Api) -> None:
    """Last of the module's tests of the seeded cluster: it leaves a renewal running."""
    to_later = {"profiles": [{"uid": api.later[0], "replaceWithProfile": api.profile}]}
    assert _upgrade(api, to_later, params={"resolveNotification": "true"}).status_code == 204
    spec = api.call("GET", f"/v1/spectroclusters/{api.cluster}").json()["spec"]
    assert spec["clusterProfileTemplates"][0]["uid"] == api.later[0]  # the spec changes at once, the status later
    release = spec["clusterProfileTemplates"][0]["packs"][0]["tag"]
    renewing = api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/k8certificates/renew")
    assert renewing.status_code == 409 and f"an upgrade to Kubernetes {release}" in renewing.json()["message"]
    assert_error(_upgrade(api, to_later), 404, "ResourceNotFound")  # what it replaced is no longer attached
    again = {"profiles": [{"uid": api.later[1], "replaceWithProfile": api.later[0]}]}
    assert_error(_upgrade(api, again), 409, "ClusterUpdateInProgress")
    deadline = time.monotonic() + 30
    while _renewals(api)[-1] != ("upgrade", "Completed") and time.monotonic() < deadline:
        time.sleep(0.1)
    status = api.call("GET", f"/v1/spectroclusters/{api.cluster}").json()["status"]
    assert status["packs"][0]["version"] == release and status["packs"][0]["profileUid"] == api.later[0]
    assert status["conditions"][0]["type"] == "KubernetesUpgraded" and status["conditions"][0]["status"] == "True"
    assert api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/k8certificates/renew").status_code == 204
    busy = _upgrade(api, again)
    assert_error(busy, 409, "ClusterUpdateInProgress")
    assert "a certificate renewal is already in progress" in busy.json()["message"]


def _requests_to(tmp_path: Path, keys: tuple[str, ...], **budgets: float) -> list[requests.Response]:
    """One GET with each of ``keys``, in turn, to a new server with ``budgets`` (ServerSettings' rates)."""
    server = ReferenceApiServer(ServerSettings(state_file=tmp_path / "state.db", api_key=KEY, **budgets),
                                keys=KeyPool(size=12))
    server.platform.ensure_project("default")
    server.start()
    try:
        session = requests.Session()
        session.trust_env = False
        return [session.get(f"{server.url}/v1/spectroclusters/x", headers={"ApiKey": key}, timeout=10,
                            verify=str(server.tls.ca_bundle)) for key in keys]
    finally:
        server.stop()


def assert_limited(answer: requests.Response) -> None:
    """Palette's 429: TooManyRequests, the SDK's V1Error, a Retry-After of whole seconds."""
    assert_error(answer, 429, "TooManyRequests")
    assert models.problems("V1Error", answer.json()) == [] and answer.headers["Retry-After"] == "1"


def test_the_request_budget_answers_429_with_retry_after(tmp_path: Path) -> None:
    limited = [a for a in _requests_to(tmp_path, (KEY,) * 8, rate=2) if a.status_code == 429]
    assert limited
    assert_limited(limited[0])


def test_retry_after_is_rounded_up_so_that_waiting_it_is_enough(tmp_path: Path) -> None:
    """A budget of 0.3 a second holds 0.6 of a request at first: the next is due in 1.33 s, so Retry-After says 2
    (rounded to 1, a client that waited as told would be refused again)."""
    [answer] = _requests_to(tmp_path, (KEY,), rate=0.3)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"


def test_each_client_address_has_its_own_budget_and_retry_after_is_enough() -> None:
    """Palette's resource limits: 10 requests a second per IP. The clock is the test's: no wall-clock speed."""
    now = [100.0]
    budgets = AddressBudgets(10, clock=lambda: now[0])
    assert [budgets.take("10.0.0.1") for _ in range(20)] == [0.0] * 20  # a burst of twice the rate
    wait = budgets.take("10.0.0.1")
    assert 0 < wait <= 0.1
    assert budgets.take("10.0.0.2") == 0.0  # another address is not held back
    now[0] += math.ceil(wait)  # what Retry-After says: the wait rounded up to whole seconds
    assert budgets.take("10.0.0.1") == 0.0


def test_the_per_address_budget_answers_429_to_a_client_whatever_it_sends(tmp_path: Path) -> None:
    answers = _requests_to(tmp_path, (KEY, KEY, "wrong", KEY), rate=0, rate_per_address=1)
    assert [a.status_code for a in answers][:2] == [404, 404]  # a burst of two
    limited = [a for a in answers if a.status_code == 429]
    assert limited
    for answer in limited:
        assert_limited(answer)


def test_a_state_file_written_before_profiles_and_upgrades_is_given_them(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    Platform(state, keys=KeyPool(size=1)).close()
    with sqlite3.connect(state) as db:  # the tables as they were before
        for table, column in (("clusters", "profile_uid"), ("clusters", "kubernetes_version"),
                              ("clusters", "repave_approval"), ("renewals", "kind"), ("renewals", "version"),
                              ("renewals", "approved_at")):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("INSERT INTO projects VALUES ('p', 'default')")
        db.execute("INSERT INTO clusters (uid, name, project_uid, cloud_type, config_uid, created_at, renewal_mode, "
                   "subnet) VALUES ('c', 'old', 'p', 'aws', 'cfg', 0, 'repave', 1)")
        db.execute("INSERT INTO renewals (cluster_uid, mode, state, requested_at) "
                   "VALUES ('c', 'repave', 'Completed', 0)")
    platform = Platform(state, keys=KeyPool(size=1))
    try:
        with platform.store.snapshot() as db:
            cluster = db.execute("SELECT profile_uid, kubernetes_version FROM clusters").fetchone()
            renewal = db.execute("SELECT kind, version FROM renewals").fetchone()
        assert len(cluster["profile_uid"]) == 24 and cluster["kubernetes_version"] == KUBERNETES_VERSION
        assert (renewal["kind"], renewal["version"]) == ("renewal", None)
        assert platform.request_upgrade("c", "1.31.5").started  # and not held: the cluster holds no repave
        with platform.store.snapshot() as db:
            assert db.execute("SELECT state FROM renewals ORDER BY id DESC").fetchone()["state"] == "Pending"
    finally:
        platform.close()
