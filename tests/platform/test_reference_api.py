"""The reference API's routes answer as the Palette API does: shapes, auth, project scope, errors,
paging, the SpectroCluster object's merge patch, profile updates (an upgrade), and the request budget."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

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
            rows = db.execute("SELECT uid, name, config_uid, project_uid, profile_uid, kubernetes_version "
                              "FROM clusters ORDER BY name").fetchall()
            self.other_project = db.execute("SELECT uid FROM projects WHERE name = 'other'").fetchone()[0]
        self.cluster, self.name, self.config, self.project, self.profile, self.version = rows[0]

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
    assert cluster["status"]["packs"] == [{"name": "kubernetes", "profileUid": api.profile, "version": api.version}]
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
    second = api.call("GET", path, params={"continue": first["listmeta"]["continue"]}).json()
    assert len(second["items"]) == 1 and second["listmeta"]["continue"] == ""
    names = {m["metadata"]["name"] for m in first["items"] + second["items"]}
    assert len(names) == 3 and all(m["status"]["instanceState"] == "Running" for m in second["items"])
    assert_error(api.call("GET", path, params={"continue": "not-a-token!"}), 400, "InvalidRequest")


@pytest.mark.parametrize(("method", "route"), [
    ("GET", "/v1/spectroclusters/{cluster}"), ("GET", "/v1/spectroclusters/{cluster}/k8certificates"),
    ("PATCH", "/v1/spectroclusters/{cluster}/k8certificates/renew"), ("GET", "/v1/cloudconfigs/aws/{config}"),
    ("PATCH", "/v1/spectroclusters/{cluster}/profiles"),
    ("GET", "/apis/cluster.spectrocloud.com/v1alpha1/namespaces/cluster-{cluster}/spectroclusters/{name}"),
])
def test_every_route_wants_the_key_and_respects_the_project(api: Api, method: str, route: str) -> None:
    path = route.format(cluster=api.cluster, config=api.config, name=api.name)
    assert_error(api.call(method, path, key=None), 401, "Unauthorized")
    assert_error(api.call(method, path, key="wrong"), 401, "Unauthorized")
    assert_error(api.call(method, path, project="no-such-project"), 403, "ProjectNotFoundInTenant")
    assert_error(api.call(method, path, project=api.other_project), 404, "ResourceNotFound")


def test_other_errors_have_the_same_shape(api: Api) -> None:
    assert_error(api.call("GET", "/v1/spectroclusters/0123456789abcdef01234567"), 404, "ResourceNotFound")
    assert_error(api.call("GET", "/v1/nothing/here"), 404, "ResourceNotFound")
    assert_error(api.call("POST", f"/v1/spectroclusters/{api.cluster}/k8certificates"), 405, "MethodNotAllowed")


def test_the_spectrocluster_object_takes_a_merge_patch_of_its_annotations(api: Api) -> None:
    path = f"/apis/cluster.spectrocloud.com/v1/namespaces/cluster-{api.cluster}/spectroclusters/{api.name}"
    merge = {"Content-Type": "application/merge-patch+json"}

    def patch(annotations: dict[str, Any]) -> requests.Response:
        return api.call("PATCH", path, data=json.dumps({"metadata": {"annotations": annotations}}), headers=merge)

    set_ = patch({"spectrocloud.com/cert-renew-controlplane-only": "true", "keep": "me"})
    assert set_.status_code == 200 and set_.json()["metadata"]["annotations"] == {
        "keep": "me", "spectrocloud.com/cert-renew-controlplane-only": "true"}
    removed = patch({"spectrocloud.com/cert-renew-controlplane-only": None})
    assert removed.json()["metadata"]["annotations"] == {"keep": "me"}
    assert api.call("GET", path).json()["metadata"]["annotations"] == {"keep": "me"}
    assert_error(api.call("PATCH", path, data="{}", headers={"Content-Type": "application/json"}), 415,
                 "UnsupportedMediaType")
    assert_error(patch({"x": 1}), 422, "InvalidRequest")
    assert_error(api.call("GET", path.replace(api.name, "other-name")), 404, "ResourceNotFound")


def _upgrade(api: Api, body: Any, **kwargs: Any) -> requests.Response:
    return api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/profiles", json=body, **kwargs)


def _renewals(api: Api) -> list[tuple[str, str]]:
    """(kind, state) of every renewal and upgrade of the cluster, oldest first."""
    with api.server.platform.store.snapshot() as db:
        return [(r["kind"], r["state"]) for r in db.execute("SELECT kind, state FROM renewals ORDER BY id")]


def test_profile_updates_are_the_documented_shape_of_the_clusters_profile(api: Api) -> None:
    def body(uid: str = api.profile, name: str = "kubernetes", tag: str = "1.31.9") -> dict[str, Any]:
        return {"profiles": [{"uid": uid, "packValues": [{"name": name, "tag": tag}]}]}

    before = _renewals(api)
    assert_error(_upgrade(api, body(uid="0123456789abcdef01234567")), 404, "ResourceNotFound")
    assert_error(_upgrade(api, body(name="cni-calico")), 404, "ResourceNotFound")
    for wrong in ({}, {"profiles": []}, {"profiles": [{"uid": api.profile}]}, body(tag="latest"),
                  {**body(), "spcApplySettings": {}}, [body()], "profiles"):
        assert_error(_upgrade(api, wrong), 400, "InvalidRequest")
    assert_error(api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/profiles", data="{", headers={
        "Content-Type": "application/json"}), 400, "InvalidRequest")
    assert_error(api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/profiles", data=json.dumps(body()),
                          headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaType")
    same = _upgrade(api, {"profiles": [{"uid": api.profile, "packValues": [
        {"name": "kubernetes", "tag": "1.31.9"}, {"name": "kubernetes", "tag": api.version}]}]})
    assert same.status_code == 204 and not same.content  # the last tag given is the version it runs: nothing to do
    assert _renewals(api) == before  # nothing of the above started anything


def test_one_renewal_or_upgrade_at_a_time(api: Api) -> None:
    """Last of the module's tests of the seeded cluster: it leaves a renewal running."""
    body = {"profiles": [{"uid": api.profile, "packValues": [{"name": "kubernetes", "tag": "1.31.9"}]}]}
    assert _upgrade(api, body).status_code == 204
    renewing = api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/k8certificates/renew")
    assert renewing.status_code == 409 and "an upgrade to Kubernetes 1.31.9" in renewing.json()["message"]
    assert_error(_upgrade(api, body), 409, "ClusterUpdateInProgress")
    deadline = time.monotonic() + 30
    while _renewals(api)[-1] != ("upgrade", "Completed") and time.monotonic() < deadline:
        time.sleep(0.1)
    status = api.call("GET", f"/v1/spectroclusters/{api.cluster}").json()["status"]
    assert status["packs"][0]["version"] == "1.31.9"
    assert status["conditions"][0]["type"] == "KubernetesUpgraded" and status["conditions"][0]["status"] == "True"
    assert api.call("PATCH", f"/v1/spectroclusters/{api.cluster}/k8certificates/renew").status_code == 204
    busy = _upgrade(api, {"profiles": [{"uid": api.profile, "packValues": [{"name": "kubernetes", "tag": "1.32.0"}]}]})
    assert_error(busy, 409, "ClusterUpdateInProgress")
    assert "a certificate renewal is already in progress" in busy.json()["message"]


def test_the_request_budget_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = ServerSettings(state_file=tmp_path / "state.db", api_key=KEY, rate=2)
    server = ReferenceApiServer(settings, keys=KeyPool(size=12))
    server.platform.ensure_project("default")
    server.start()
    try:
        session = requests.Session()
        session.trust_env = False
        answers = [session.get(f"{server.url}/v1/spectroclusters/x", headers={"ApiKey": KEY}, timeout=10,
                               verify=str(server.tls.ca_bundle)) for _ in range(8)]
    finally:
        server.stop()
    limited = [a for a in answers if a.status_code == 429]
    assert limited and limited[0].headers["Retry-After"] == "1"
    assert_error(limited[0], 429, "TooManyRequests")


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
