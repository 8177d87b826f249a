"""What the schema, load and crash tests found in the reference API, each pinned by a direct test:

- 405 named only the methods of the first route at a path (``Allow: GET`` where PATCH is served too);
- the document allowed any ``continue`` string, the server refused most (tokens are now decimal offsets,
  and the document gives their pattern);
- a merge patch of the SpectroCluster object with no body answered 415, one that changed more than annotations
  was silently ignored (the object now lives in the Kubernetes-style API: test_cluster_api.py);
- a failure inside a route answered Starlette's plain-text 500, not the error body;
- a control-plane machine killed while its PKI was being written left the half-built folder for ever;
- a renewal's times were read before the write lock that orders renewals and renew requests, so under
  load a renewal could seem requested before the one it followed had finished.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kubecert.reference.api import documents
from kubecert.reference.api.cli import seed
from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool
from kubecert.reference.platform.engine import Platform, Timing

KEY = "kc-regressions-test-key"


class Api:
    def __init__(self, server: ReferenceApiServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(server.tls.ca_bundle)
        with server.platform.store.snapshot() as db:
            self.cluster, self.name, self.config = db.execute("SELECT uid, name, config_uid FROM clusters").fetchone()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"ApiKey": KEY, **kwargs.pop("headers", {})}
        return self.session.request(method, self.server.url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("regressions")
    server = ReferenceApiServer(ServerSettings(state_file=folder / "state.db", api_key=KEY, rate=0),
                                keys=KeyPool(size=12))
    seed(server.platform, 1, mode="repave", control_planes=1, workers=3, age_days=10)
    server.start()
    api = Api(server)
    yield api
    api.session.close()
    server.stop()


def error_code(answer: requests.Response) -> str:
    body = answer.json()
    assert set(body) == {"code", "message", "ref", "details"}, body
    return str(body["code"])


def test_405_names_every_method_the_path_serves(api: Api) -> None:
    answer = api.call("DELETE", f"/v1/spectroclusters/{api.cluster}/k8certificates")
    assert answer.status_code == 405 and error_code(answer) == "MethodNotAllowed"
    assert answer.headers["Allow"] == "GET, PUT"
    renew = api.call("GET", f"/v1/spectroclusters/{api.cluster}/k8certificates/renew")
    assert renew.status_code == 405 and renew.headers["Allow"] == "PATCH"


def test_continue_tokens_are_what_the_document_says(api: Api) -> None:
    path = f"/v1/cloudconfigs/aws/{api.config}/machinePools/worker-pool/machines"
    first = api.call("GET", path, params={"limit": 2}).json()
    token = first["listmeta"]["continue"]
    parameters = api.call("GET", "/openapi.json").json()["paths"][
        "/v1/cloudconfigs/aws/{configUid}/machinePools/{machinePoolName}/machines"]["get"]["parameters"]
    documented = next(p for p in parameters if p["name"] == "continue")["schema"]["pattern"]
    assert documented == documents.CONTINUE_PATTERN and token == "2"
    second = api.call("GET", path, params={"continue": token}).json()
    assert [m["metadata"]["name"] for m in second["items"]] == [m["metadata"]["name"] for m in api.call(
        "GET", path).json()["items"][2:]]
    for bad in ("not-a-token!", "-1", "1" * 10):
        answer = api.call("GET", path, params={"continue": bad})
        assert answer.status_code == 400 and error_code(answer) == "InvalidRequest", bad


def test_a_failure_inside_a_route_answers_the_error_body(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(documents, "cluster_document", broken)
    answer = api.call("GET", f"/v1/spectroclusters/{api.cluster}")
    assert answer.status_code == 500 and error_code(answer) == "InternalError" and "a bug" not in answer.text
    assert answer.headers["Content-Type"] == "application/json"


def test_a_half_built_pki_folder_is_removed_when_the_platform_starts(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "state.db", keys=KeyPool(size=12))
    cluster = platform.seed_cluster("c", platform.ensure_project("p"), control_planes=1, workers=0)
    platform.close()
    half_built = tmp_path / "state.db.machines" / cluster / ".machine-uid.x1y2z3"
    (half_built / "pki").mkdir(parents=True)
    Platform(tmp_path / "state.db", keys=KeyPool(size=1)).close()
    assert not half_built.exists()
    assert (tmp_path / "state.db.machines" / cluster / "shared").is_dir()


def test_renewal_times_are_read_under_the_write_lock(tmp_path: Path) -> None:
    readings: list[tuple[float, bool]] = []  # (time read, inside a write transaction)
    platform: Platform | None = None

    def clock() -> dt.datetime:
        moment = dt.datetime.now(dt.UTC)
        locked = platform is not None and platform.store.connection().in_transaction
        readings.append((moment.timestamp(), locked))
        return moment

    platform = Platform(tmp_path / "state.db", keys=KeyPool(size=12), clock=clock,
                        timing=Timing(provision_s=0, delete_s=0, renew_machine_s=0, scale=1))
    cluster = platform.seed_cluster("c", platform.ensure_project("p"), mode="in-place", control_planes=1, workers=0)
    renewal = platform.request_renewal(cluster).renewal_id
    while platform.renewal_state(renewal or 0) != "Completed":
        platform.step()
    with platform.store.snapshot() as db:
        times = db.execute("SELECT requested_at, started_at, finished_at FROM renewals").fetchone()
    platform.close()
    locked = {moment for moment, inside in readings if inside}
    assert all(moment in locked for moment in times), (tuple(times), readings)
