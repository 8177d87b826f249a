"""A corpus of hostile or broken answers to what the palette target reads since it follows the Palette API's
own routes, served over real HTTPS: the cluster profile version an upgrade names and the profiles the cluster
says are attached (KC-RPV-10's request), the cluster object read with the SDK's query parameters (KC-API-08),
the answers to the listing's PUT and the listing around it (KC-API-07), and the SpectroCluster object behind
--palette-kubeconfig (KC-RPV-06's annotation). Each case ends in its verdict or one clear error naming what
could not be read, never another exception, within its CPU, memory and time bounds, and under the audit
guard: nothing written outside its folder and kubecert's own temporary ones, no process started.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import audit
import pytest
import yaml
from vendor_api import KEY, vendor_api

from kubecert.contexts import TargetContexts
from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import BUILTIN
from kubecert.rules import evaluate, get
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.palette.target import PaletteTarget
from kubecert.targets.palette.upgrade import UpgradeRequest

from http_servers import Answer, Seen, switchable
from support import measured

CLUSTER, PROJECT = "c-123", "p-1"
OBJECT = f"/v1/spectroclusters/{CLUSTER}"
LISTING = f"{OBJECT}/k8certificates"
PROFILE = "/v1/clusterprofiles/new-1"
SPC = f"/apis/cluster.spectrocloud.com/v1/namespaces/cluster-{CLUSTER}/spectroclusters/vendor"
CPU_BOUND_S, HANG_BOUND_S, MEMORY_BOUND = 12.0, 90.0, 96 << 20  # as test_corpus_api.py's
JSON = {"Content-Type": "application/json"}
Respond = Callable[[Seen], Answer]
VENDOR = vendor_api(CLUSTER, PROJECT)
NEW_PROFILE = {"metadata": {"name": "p", "uid": "new-1"},
               "spec": {"published": {"packs": [{"layer": "os", "name": "ubuntu", "tag": "22.04"},
                                                {"layer": "k8s", "name": "kubernetes", "tag": "1.31.5"}]}}}
TEMPLATES = [{"uid": "old-1", "name": "p"}, {"uid": "addon-1", "name": "monitoring"}]


def _json(document: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(document).encode(), JSON)


def _deep(levels: int) -> bytes:
    return b'{"spec": ' + b"[" * levels + b"]" * levels + b"}"


def api(*, profile: Answer | None = None, templates: Any = TEMPLATES, with_query: Answer | None = None,
        put: Answer | None = None, listing_after: Answer | None = None) -> Respond:
    """The vendor's API with a cluster profile version, the attached profiles in its cluster object, and each of
    these answers replaced where given."""
    puts = [0]

    def respond(seen: Seen) -> Answer:
        path, _, query = seen.path.partition("?")
        if path == PROFILE and seen.headers.get("ApiKey") == KEY:
            return profile or _json(NEW_PROFILE)
        if path == OBJECT and seen.headers.get("ApiKey") == KEY:
            if query and with_query is not None:
                return with_query
            document = json.loads(VENDOR(seen).body)
            document["spec"]["clusterProfileTemplates"] = templates
            return _json(document)
        if path == LISTING and seen.method == "PUT":
            puts[0] += 1
            if put is not None:
                return put
        if path == LISTING and seen.method == "GET" and puts[0] and listing_after is not None:
            return listing_after
        return VENDOR(seen)
    return respond


def kube(answer: Answer | None = None) -> Respond:
    """A Kubernetes API holding the cluster's SpectroCluster object, at v1 only (v1alpha1: 404, as a newer CRD)."""
    annotations = {"spectrocloud.com/cert-renew-controlplane-only": "x"}
    good = _json({"apiVersion": "cluster.spectrocloud.com/v1", "kind": "SpectroCluster",
                  "metadata": {"name": "vendor", "annotations": annotations}})

    def respond(seen: Seen) -> Answer:
        if {k.lower(): v for k, v in seen.headers.items()}.get("authorization") != f"Bearer {KEY}":
            return _json({"kind": "Status", "code": 401, "message": "Unauthorized"}, 401)
        if seen.path.split("?")[0] == SPC:
            return answer or good
        return _json({"kind": "Status", "code": 404, "message": "not found"}, 404)
    return respond


@dataclass(frozen=True)
class Case:
    respond: Respond
    action: str  # "upgrade", "reads" (KC-API-08), "overwrite" (KC-API-07), "annotation"
    outcome: str  # "ok", "error" (TargetUnavailable or an error verdict), "failed", "passed"
    words: str = ""  # what the error or the verdict's message says
    kube: Respond = field(default_factory=kube)
    value: Any = None  # what an "ok" case gives


SPC_NOT_FOUND = "was not found through --palette-kubeconfig"
CASES: dict[str, Case] = {
    # the cluster profile version an upgrade names, and the attached profiles
    "upgrade-good": Case(api(), "upgrade", "ok", value=UpgradeRequest("new-1", "1.31.5", "kubernetes", "old-1", "p")),
    "profile-404": Case(api(profile=_json({"code": "ResourceNotFound"}, 404)), "upgrade", "error",
                        f"GET {PROFILE} answered 404 ResourceNotFound"),
    "profile-500-html": Case(api(profile=Answer(500, b"<html/>", {"Content-Type": "text/html"})), "upgrade", "error",
                             f"GET {PROFILE} answered 500"),
    "profile-not-json": Case(api(profile=Answer(200, b"{spec: [", JSON)), "upgrade", "error",
                             "answered 200 but not a JSON object"),
    "profile-deep": Case(api(profile=Answer(200, _deep(100_000), JSON)), "upgrade", "error",
                         "answered 200 but not a JSON object"),
    "profile-too-large": Case(api(profile=Answer(200, b'{"x": "' + b"a" * (9 << 20) + b'"}', JSON)), "upgrade",
                              "error", "larger than"),
    "profile-429-forever": Case(api(profile=Answer(429, b"", {"Retry-After": "0"})), "upgrade", "error",
                                "answered 429"),
    "profile-spec-a-list": Case(api(profile=_json({"metadata": {"name": "p"}, "spec": []})), "upgrade", "error",
                                "has no pack of layer k8s"),
    "profile-packs-a-map": Case(api(profile=_json({"spec": {"published": {"packs": {"k8s": 1}}}})), "upgrade",
                                "error", "has no pack of layer k8s"),
    "profile-tag-a-number": Case(api(profile=_json({"spec": {"published": {"packs": [
        {"layer": "k8s", "name": "kubernetes", "tag": 1.315}]}}})), "upgrade", "error", "has no pack of layer k8s"),
    "profile-k8s-pack-past-the-bound": Case(api(profile=_json({"metadata": {"name": "p"}, "spec": {"published": {
        "packs": [{"layer": "addon", "name": f"a{i}"} for i in range(10_000)] + NEW_PROFILE["spec"]["published"][
            "packs"]}}})), "upgrade", "error", "has no pack of layer k8s"),
    "profile-name-control-chars": Case(api(profile=_json({**NEW_PROFILE, "metadata": {"name": "p\x1b[2J"}})),
                                       "upgrade", "error", "no attached cluster profile is named"),
    "templates-a-string": Case(api(templates="p"), "upgrade", "error", "no attached cluster profile is named"),
    "templates-two-alike": Case(api(templates=[{"uid": "a", "name": "p"}, {"uid": "b", "name": "p"}]), "upgrade",
                                "error", "more than one attached cluster profile"),
    "templates-new-attached": Case(api(templates=[{"uid": "new-1", "name": "p"}]), "upgrade", "error",
                                   "is attached to the cluster already"),
    "templates-ten-thousand": Case(api(templates=[{"uid": f"u{i}", "name": f"n{i}"} for i in range(10_000)]),
                                   "upgrade", "error", "no attached cluster profile is named"),
    # the cluster object read with the SDK's query parameters (KC-API-08)
    "reads-good": Case(api(), "reads", "passed"),
    "query-400": Case(api(with_query=_json({"code": "InvalidRequest", "message": "unknown parameter"}, 400)),
                      "reads", "failed", "answered 400"),
    "query-html": Case(api(with_query=Answer(200, b"<html/>", {"Content-Type": "text/html"})), "reads", "failed",
                       "answered 200, not the cluster object"),
    "query-deep": Case(api(with_query=Answer(200, _deep(100_000), JSON)), "reads", "failed", "not the cluster object"),
    "query-429-forever": Case(api(with_query=Answer(429, b"", {"Retry-After": "0"})), "reads", "failed",
                              "answered 429"),
    "query-another-cluster": Case(api(with_query=_json({"metadata": {"uid": "c-999", "name": "x\x1b[1m"}})),
                                  "reads", "failed", "metadata.uid 'c-999' instead of 'c-123'"),
    # the listing's PUT, and the listing around it (KC-API-07)
    "overwrite-good": Case(api(), "overwrite", "passed"),
    "put-204": Case(api(put=Answer(204)), "overwrite", "failed", "answered 204, expected 401"),
    "put-200-with-the-listing": Case(api(put=Answer(200, VENDOR(Seen("GET", LISTING, {"ApiKey": KEY})).body, JSON)),
                                     "overwrite", "failed", "answered 200, expected 401"),
    "put-401-with-the-listing": Case(api(put=Answer(401, VENDOR(Seen("GET", LISTING, {"ApiKey": KEY})).body, JSON)),
                                     "overwrite", "failed", "answered 401 but the body carries the cluster's data"),
    "put-500-html": Case(api(put=Answer(500, b"<html/>", {"Content-Type": "text/html"})), "overwrite", "failed",
                         "answered 500, expected 401"),
    "put-429-forever": Case(api(put=Answer(429, b"", {"Retry-After": "0"})), "overwrite", "failed",
                            "answered 429, expected 401"),
    "put-redirect": Case(api(put=Answer(307, headers={"Location": LISTING})), "overwrite", "error",
                         "kubecert does not repeat a PUT"),
    "listing-changes": Case(api(listing_after=_json({"machineCertificates": []})), "overwrite",
                            "failed", "machines gone: ip-10-0-0-1.ec2.internal, ip-10-0-0-2.ec2.internal"),
    "listing-unreadable-after": Case(api(listing_after=Answer(500)), "overwrite", "error",
                                     "could not be read again"),
    # the SpectroCluster object behind --palette-kubeconfig (KC-RPV-06's annotation)
    "annotation-good": Case(api(), "annotation", "ok", value="x"),
    "spc-404": Case(api(), "annotation", "error", SPC_NOT_FOUND, kube(_json({"kind": "Status", "code": 404}, 404))),
    "spc-401": Case(api(), "annotation", "error", "401 Unauthorized",
                    kube(_json({"kind": "Status", "code": 401}, 401))),
    "spc-500": Case(api(), "annotation", "error", ": 500", kube(_json({"kind": "Status", "message": "boom"}, 500))),
    "spc-too-large": Case(api(), "annotation", "error", "longer than 1048576 bytes",
                          kube(Answer(200, b'{"x": "' + b"a" * (2 << 20) + b'"}', JSON))),
    "spc-not-json": Case(api(), "annotation", "error", "the answer is not JSON", kube(Answer(200, b"{m: [", JSON))),
    "spc-deep": Case(api(), "annotation", "error", "nested deeper", kube(Answer(200, _deep(100_000), JSON))),
    "spc-a-list": Case(api(), "annotation", "error", "not a JSON object", kube(_json([1, 2]))),
    "spc-annotations-a-list": Case(api(), "annotation", "ok", "", kube(_json({"metadata": {"annotations": []}}))),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Respond], Any,
                                                                           dict[str, Respond], Path]]:
    """The Palette-like API and the Kubernetes API, each over HTTPS; the kubeconfig that reaches the second."""
    folder = tmp_path_factory.mktemp("corpus-spec")
    with switchable(api(), tls_dir=folder / "api") as (palette, current), \
            switchable(kube(), tls_dir=folder / "kube") as (cluster, current_kube):
        assert cluster.ca_bundle is not None
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {
                "server": cluster.url,
                "certificate-authority-data": base64.b64encode(cluster.ca_bundle.read_bytes()).decode()}}],
            "users": [{"name": "u", "user": {"token": KEY}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
        yield palette, current, cluster, current_kube, kubeconfig


def _outcome(target: PaletteTarget, action: str) -> Any:
    """What the case's action gives: a result, a verdict, or the TargetUnavailable it raised."""
    try:
        if action == "upgrade":
            return target.upgrade_to
        if action == "annotation":
            return target.spc_annotation("spectrocloud.com/cert-renew-controlplane-only")
        rule = get("KC-API-08" if action == "reads" else "KC-API-07")
        return evaluate(rule, TargetContexts(target).for_rule(rule))
    except TargetUnavailable as exc:
        return exc


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_answer_is_one_clear_result_within_bounds(servers: Any, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path, name: str) -> None:
    palette, current, _, current_kube, kubeconfig = servers
    case = CASES[name]
    current["respond"], current_kube["respond"] = case.respond, case.kube
    monkeypatch.setenv("KUBECERT_CORPUS_KEY", KEY)
    options = {"ca-bundle": str(palette.ca_bundle), "api-key-env": "KUBECERT_CORPUS_KEY",
               "upgrade-profile": "new-1", "palette-kubeconfig": str(kubeconfig)}
    target = PaletteTarget(f"palette:{palette.url}?cluster={CLUSTER}&project={PROJECT}", BUILTIN["palette"], options,
                           NodeFacts())
    try:
        with audit.guard() as seen, measured() as cost:
            found = _outcome(target, case.action)
    finally:
        target.close()
    assert cost.within(cpu_s=CPU_BOUND_S, memory=MEMORY_BOUND, hang_s=HANG_BOUND_S), cost
    assert seen.writes_outside([tmp_path]) == [] and seen.processes_besides([]) == [], seen.events
    if isinstance(found, TargetUnavailable):
        text = str(found)
        assert case.outcome == "error", text
        assert text.startswith(f"palette:{palette.url}") and case.words in text, text
    elif case.outcome == "ok":
        assert found == case.value
    else:
        assert found.status.value == case.outcome, (found.status, found.message)
        assert case.words in found.message, found.message
        text = found.message
    if case.outcome != "ok":
        assert "\x1b" not in text, text  # a target's text is shown escaped


def test_the_corpus_holds_every_family() -> None:
    assert {case.action for case in CASES.values()} == {"upgrade", "reads", "overwrite", "annotation"}
    assert len(CASES) >= 35
