"""The reference API against its own OpenAPI document, with schemathesis over HTTPS.

With the key, in tenant scope, in the cluster's project and with generated ProjectUid values,
schemathesis' requests (its coverage cases, then fuzzed ones that fit the document and ones that do
not; a share of them aimed at the seeded cluster and its profile, so that answers are real documents
and renewals and upgrades really start) never get a 5xx, and every answer fits the document: status,
headers, body (the SDK's models, spec/models.json). Without a key, or with a wrong, empty, bearer or basic
one, every route answers 401 and nothing else.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kubecert.reference.api import models, profiles
from kubecert.reference.api.app import create_app
from kubecert.reference.api.cli import seed
from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool
from kubecert.reference.platform.engine import Platform, Timing
from kubecert.reference.platform.worker import PlatformWorker

KEY = "kc-schema-test-key"
EXAMPLES = 30  # fuzzed requests per operation; derandomized, so every run sends the same ones
POOLS = ("control-plane-pool", "worker-pool")
OPERATIONS = {
    ("GET", "/v1/spectroclusters/{uid}"), ("GET", "/v1/spectroclusters/{uid}/k8certificates"),
    ("PUT", "/v1/spectroclusters/{uid}/k8certificates"), ("PATCH", "/v1/spectroclusters/{uid}/k8certificates/renew"),
    ("PATCH", "/v1/spectroclusters/{uid}/profiles"), ("GET", "/v1/clusterprofiles/{uid}"),
    ("GET", "/v1/cloudconfigs/aws/{configUid}"),
    ("GET", "/v1/cloudconfigs/aws/{configUid}/machinePools/{machinePoolName}/machines"),
    ("GET", "/v1/spectroclusters/{uid}/repave/status"), ("PATCH", "/v1/spectroclusters/{uid}/repave/approve"),
    ("POST", "/v1/spectroclusters/{uid}/validate/repave"),
}


def _document() -> dict[str, Any]:
    """The document the server serves, made without serving it: the tests are generated from it when this
    module is collected. ``test_the_served_document_is_the_one_tested`` shows it is the served one."""
    with tempfile.TemporaryDirectory(prefix="kubecert-openapi-") as folder:
        platform = Platform(Path(folder) / "state.db", keys=KeyPool(size=1))
        try:
            return create_app(platform, PlatformWorker(platform), KEY).openapi()
        finally:
            platform.close()


DOCUMENT = _document()
SEEDED: dict[str, str] = {}  # the running reference's objects, set by its fixture, read by the hooks


def flatmap_path_parameters(context: Any, parameters: dict[str, Any]) -> Any:
    """As generated, or naming the seeded cluster's objects (a profile's uid for the profile route)."""
    path = context.operation.path
    uid = SEEDED["later"] if path.startswith("/v1/clusterprofiles/") else SEEDED["uid"]
    real = [{**parameters, **{k: v for k, v in {**SEEDED, "uid": uid, "machinePoolName": pool}.items()
                              if "{" + k + "}" in path}} for pool in POOLS]
    return st.sampled_from([parameters, *real])


def flatmap_body(context: Any, body: Any) -> Any:
    """As generated, or applying a later version of the seeded cluster's profile. Only values the document allows
    (strings that are not empty) are replaced, so that a body made to break the document still does."""
    profiles = body.get("profiles") if isinstance(body, dict) else None
    if not isinstance(profiles, list) or not any(isinstance(p, dict) for p in profiles):
        return st.just(body)
    real = {**body, "profiles": [_real_profile(p) for p in profiles]}
    return st.sampled_from([body, real])


def _real(entry: Any, key: str, value: str) -> Any:
    allowed = isinstance(entry, dict) and isinstance(entry.get(key), str) and entry[key]
    return {**entry, key: value} if allowed else entry


def _real_profile(profile: Any) -> Any:
    packs = profile.get("packValues") if isinstance(profile, dict) else None
    if isinstance(packs, list) and packs:  # one pack: two named alike would break packValues' uniqueItems
        profile = {**profile, "packValues": [_real(packs[0], "name", "kubernetes")]}
    return _real(_real(profile, "uid", SEEDED["later"]), "replaceWithProfile", SEEDED["profile"])


# Requests with the key: schemathesis' coverage cases, then fuzzed ones, fitting the document or not.
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(modes=list(GenerationMode))
schema.hook(flatmap_path_parameters)
schema.hook(flatmap_body)
# Requests without it: fuzzed ones that fit the document (anything else would be refused before auth).
unauthenticated = schemathesis.openapi.from_dict(DOCUMENT)
unauthenticated.config.phases.update(phases=["fuzzing"])
unauthenticated.hook(flatmap_path_parameters)


@dataclass
class Reference:
    server: ReferenceApiServer
    session: requests.Session
    statuses: Counter[tuple[str, int]]  # (method, status) of every request the tests sent

    def call(self, method: str, path: str, **headers: str) -> requests.Response:
        return self.session.request(method, self.server.url + path, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    folder = tmp_path_factory.mktemp("schema")
    # Short platform operations: a renewal started by a generated request ends within about a second,
    # so the renew route answers both 204 and 409.
    settings = ServerSettings(state_file=folder / "state.db", api_key=KEY, rate=0,
                              timing=Timing(provision_s=0.3, delete_s=0.1, renew_machine_s=0.2, scale=1.0))
    server = ReferenceApiServer(settings, keys=KeyPool(size=12))
    seed(server.platform, 1, mode="repave", control_planes=2, workers=1, age_days=10)
    with server.platform.store.snapshot() as db:
        row = db.execute("SELECT * FROM clusters").fetchone()
    SEEDED.update(uid=row["uid"], configUid=row["config_uid"], project=row["project_uid"],
                  profile=profiles.by_release(row, row["kubernetes_version"]).uid, later=profiles.later(row)[0].uid)
    server.start()
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.tls.ca_bundle)
    reference = Reference(server, session, Counter())
    try:
        yield reference
    finally:
        session.close()
        server.stop()
        SEEDED.clear()
        if reference.statuses:
            print(f"\nschemathesis: {sum(reference.statuses.values())} requests; (method, status): "
                  f"{dict(sorted(reference.statuses.items()))}")


def test_the_served_document_is_the_one_tested_and_describes_every_route(reference: Reference) -> None:
    served = reference.call("GET", "/openapi.json")
    assert served.status_code == 200 and served.json() == DOCUMENT
    routes = {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == OPERATIONS
    assert routes <= {(r["method"], r["path"]) for r in models.routes()}  # every one is the SDK's
    assert DOCUMENT["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "ApiKey", "description": "The tenant's API key."}
    error = DOCUMENT["components"]["schemas"]["V1Error"]
    assert set(error["properties"]) == {"code", "message", "ref", "details"} and not error["additionalProperties"]
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert {"ApiKey": []} in operation["security"], where
            assert any(p["name"] == "ProjectUid" and p["in"] == "header" for p in operation["parameters"]), where
            answers = operation["responses"]
            assert {"400", "401", "403", "404", "429"} <= set(answers) and "422" not in answers, where
            sdk = next(r for r in models.routes() if (r["method"], r["path"]) == (method.upper(), path))
            success = answers[str(sdk["answer"]["status"])]
            if sdk["answer"]["model"] is None:
                assert "content" not in success, where
            else:
                assert success["content"]["application/json"]["schema"] == {
                    "$ref": f"#/components/schemas/{sdk['answer']['model']}"}, where
            if sdk["body"] is not None:
                assert operation["requestBody"]["content"]["application/json"]["schema"] == {
                    "$ref": f"#/components/schemas/{sdk['body']}"}, where
            for status, answer in answers.items():
                if status >= "400":
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/V1Error"}, (where, status)
    renew = DOCUMENT["paths"]["/v1/spectroclusters/{uid}/k8certificates/renew"]["patch"]["responses"]
    assert "200" not in renew and "409" in renew
    upgrade = DOCUMENT["paths"]["/v1/spectroclusters/{uid}/profiles"]["patch"]
    assert "409" in upgrade["responses"]
    assert any(p["name"] == "resolveNotification" for p in upgrade["parameters"])


# Each test is also parametrized with pytest's own parametrize: besides what it varies, that gives each
# operation's item a node id of its own (with schemathesis 4 under pytest 9, the operation alone does
# not), which pytest-xdist needs to run every one of them.


@schema.parametrize()
@pytest.mark.parametrize("scope", ["generated ProjectUid", "tenant", "own project"])
@hypothesis.settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_with_the_key_no_server_error_and_every_answer_fits_the_document(
        case: Any, reference: Reference, scope: str) -> None:
    if scope == "tenant":
        case.headers = {k: v for k, v in (case.headers or {}).items() if k != "ProjectUid"}
    headers = {"ApiKey": KEY, **({"ProjectUid": SEEDED["project"]} if scope == "own project" else {})}
    answer = case.call_and_validate(base_url=reference.server.url, session=reference.session, headers=headers,
                                    verify=reference.session.verify, timeout=10)
    reference.statuses[case.method, answer.status_code] += 1


WITHOUT_THE_KEY = {"no key": {}, "a wrong key": {"ApiKey": "not-the-key"}, "an empty key": {"ApiKey": ""},
                   "a wrong bearer token": {"Authorization": "Bearer not-the-key"},
                   "the key as basic auth": {"Authorization": f"Basic {KEY}"}}


@unauthenticated.parametrize()
@pytest.mark.parametrize("credentials", list(WITHOUT_THE_KEY))
@hypothesis.settings(max_examples=EXAMPLES // 3, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_without_the_key_every_route_answers_401_and_nothing_else(
        case: Any, reference: Reference, credentials: str) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("apikey", "authorization")}
    answer = case.call(base_url=reference.server.url, session=reference.session, headers=WITHOUT_THE_KEY[credentials],
                       verify=reference.session.verify, timeout=10)
    reference.statuses[f"{case.method} without the key", answer.status_code] += 1
    assert answer.status_code == 401, (credentials, answer.text)
    body = answer.json()
    assert set(body) == {"code", "message", "ref", "details"} and body["code"] == "Unauthorized"
    assert body["details"] == {} and not any(value in answer.text for value in SEEDED.values() if len(value) > 3)
    case.validate_response(answer, checks=[status_code_conformance, content_type_conformance,
                                           response_headers_conformance, response_schema_conformance])
