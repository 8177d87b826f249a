"""The reference's Kubernetes-style API, where its clusters' SpectroCluster objects live (not the Palette API's
host, whose routes have none): kubectl annotates them as the Palette page does; a merge patch changes
annotations only; only the cluster-admins' client certificate is let in; the kubeconfig the server writes
follows it to a new port after a restart, with the same CA."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from kubecert.reference.api.cli import seed
from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool

KEY = "kc-spectrocluster-api-test-key"
ANNOTATION = "spectrocloud.com/cert-renew-controlplane-only"
MERGE = {"Content-Type": "application/merge-patch+json"}


def started(state: Path) -> ReferenceApiServer:
    server = ReferenceApiServer(ServerSettings(state_file=state, api_key=KEY, rate=0), keys=KeyPool(size=12))
    seed(server.platform, 1, mode="repave", control_planes=1, workers=1, age_days=10)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceApiServer]:
    api = started(tmp_path_factory.mktemp("spc") / "state.db")
    yield api
    api.stop()


def cluster_of(server: ReferenceApiServer) -> tuple[str, str]:
    """(namespace, name) of the seeded cluster's SpectroCluster object."""
    with server.platform.store.snapshot() as db:
        row = db.execute("SELECT uid, name FROM clusters").fetchone()
    return f"cluster-{row['uid']}", row["name"]


def stored_annotations(server: ReferenceApiServer) -> dict[str, str]:
    with server.platform.store.snapshot() as db:
        return json.loads(db.execute("SELECT spc_annotations FROM clusters").fetchone()[0])  # type: ignore[no-any-return]


def call(server: ReferenceApiServer, method: str, path: str, *, admin: bool = True, **kwargs: Any) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(server.cluster_api.pki.ca)
        if admin:
            session.cert = tuple(str(p) for p in server.cluster_api.pki.admin)  # type: ignore[assignment]
        return session.request(method, server.cluster_api.url + path, timeout=10, **kwargs)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_annotates_the_spectrocluster_object_as_the_palette_page_does(server: ReferenceApiServer) -> None:
    namespace, name = cluster_of(server)

    def kubectl(*args: str) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", str(server.kubeconfig), *args], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"spectrocluster.cluster.spectrocloud.com/{name} annotated" in kubectl(
        "annotate", "spc", name, "-n", namespace, f"{ANNOTATION}=true")
    assert stored_annotations(server) == {ANNOTATION: "true"}  # what the platform's renewal obeys
    assert name in kubectl("get", "spc", "-A")
    kubectl("annotate", "spc", name, "-n", namespace, f"{ANNOTATION}-")
    assert stored_annotations(server) == {}


def test_a_merge_patch_changes_annotations_only(server: ReferenceApiServer) -> None:
    namespace, name = cluster_of(server)
    path = f"/apis/cluster.spectrocloud.com/v1/namespaces/{namespace}/spectroclusters/{name}"
    before = call(server, "GET", path).json()
    assert before["kind"] == "SpectroCluster" and before["metadata"]["namespace"] == namespace
    for patch in ({"spec": {"clusterUid": "other"}}, {"metadata": {"labels": {"a": "b"}}},
                  {"metadata": {"annotations": {"a": 1}}}, []):
        answer = call(server, "PATCH", path, data=json.dumps(patch), headers=MERGE)
        assert answer.status_code == 422 and answer.json()["kind"] == "Status", patch
    assert call(server, "PATCH", path, json={"metadata": {"annotations": {"a": "b"}}}).status_code == 415
    # Any version but the object's own is stale (whatever other tests on this server did before).
    other = str(int(call(server, "GET", path).json()["metadata"]["resourceVersion"]) + 1)
    stale = {"metadata": {"resourceVersion": other, "annotations": {"a": "b"}}}
    assert call(server, "PATCH", path, data=json.dumps(stale), headers=MERGE).status_code == 409
    set_ = call(server, "PATCH", path, data=json.dumps({"metadata": {"annotations": {"a": "b", "c": "d"}}}),
                headers=MERGE)
    assert set_.status_code == 200 and set_.json()["metadata"]["annotations"] == {"a": "b", "c": "d"}
    removed = call(server, "PATCH", path, data=json.dumps({"metadata": {"annotations": {"a": None, "c": None}}}),
                   headers=MERGE)
    assert removed.json()["metadata"]["annotations"] == {} == stored_annotations(server)
    assert call(server, "GET", path.replace(name, "other")).status_code == 404
    assert call(server, "GET", path.replace(namespace, "cluster-other")).status_code == 404
    groups = call(server, "GET", "/apis").json()["groups"]
    assert [g["name"] for g in groups] == ["cluster.spectrocloud.com"]


def test_only_the_cluster_admins_certificate_is_let_in(server: ReferenceApiServer, tmp_path: Path) -> None:
    namespace, name = cluster_of(server)
    path = f"/apis/cluster.spectrocloud.com/v1/namespaces/{namespace}/spectroclusters/{name}"
    anonymous = call(server, "GET", path, admin=False)
    assert anonymous.status_code == 401 and anonymous.json()["reason"] == "Unauthorized"
    # A certificate of another CA: the handshake is refused (the key of the Palette API's own TLS will do).
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(server.cluster_api.pki.ca)
        session.cert = (str(server.tls.cert_file), str(server.tls.key_file))  # type: ignore[assignment]
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(server.cluster_api.url + path, timeout=10)


def test_the_kubeconfig_follows_the_api_to_its_new_port_with_the_same_ca(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    first = started(state)
    url, kubeconfig = first.cluster_api.url, yaml.safe_load(first.kubeconfig.read_text())
    first.stop()
    again = ReferenceApiServer(ServerSettings(state_file=state, api_key=KEY, rate=0), keys=KeyPool(size=12))
    again.start()
    try:
        later = yaml.safe_load(again.kubeconfig.read_text())
        assert later["clusters"][0]["cluster"]["server"] == again.cluster_api.url
        assert later["clusters"][0]["cluster"]["certificate-authority-data"] == \
            kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
        assert (again.kubeconfig.stat().st_mode & 0o777) == 0o600 and url.startswith("https://127.0.0.1:")
    finally:
        again.stop()
