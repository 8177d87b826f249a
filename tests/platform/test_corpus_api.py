"""A corpus of hostile or broken API answers, generated here, served over real HTTPS and read by the palette
target: error statuses, rate limits that never end, wrong JSON types, dates that are not dates, bodies too
large, too deep or cut short, redirects, a certificate for another name. Each case ends in verdicts or one
clear error naming the route, never an exception or an internal error, within its time and memory bound."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from vendor_api import KEY, vendor_api

from kubecert.contexts import TargetContexts
from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import BUILTIN
from kubecert.rules import Status, evaluate, get
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.palette.target import PaletteTarget

from http_servers import Answer, Seen, serving, switchable
from support import Cost, measured

CLUSTER, PROJECT = "c-123", "p-1"
LISTING = f"/v1/spectroclusters/{CLUSTER}/k8certificates"
OBJECT = f"/v1/spectroclusters/{CLUSTER}"
POOLS = "/v1/cloudconfigs/aws/cfg"
MACHINES = "/v1/cloudconfigs/aws/cfg/machinePools/cp/machines"
CPU_BOUND_S = 12.0  # what one case may make kubecert (and the in-process server) do, tracemalloc on
# Wall clock: a rate limit that never ends costs the client's backoff (0.5 + 1 + 2 + 4 s); beyond that only
# a hang, however busy the machine.
HANG_BOUND_S = 60.0
MEMORY_BOUND = 96 << 20  # peak Python allocation for one case (the largest answer read is 8 MiB)
JSON = {"Content-Type": "application/json"}
Respond = Callable[[Seen], Answer]

GOOD = vendor_api(CLUSTER, PROJECT)


def _json(document: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(document).encode(), JSON)


def _listing(change: Callable[[dict[str, Any]], Any]) -> Respond:
    """The good listing, changed by ``change`` (which may replace it by returning a value)."""
    def respond(seen: Seen) -> Answer:
        if seen.path.split("?")[0] != LISTING:
            return GOOD(seen)
        document = json.loads(GOOD(seen).body)
        changed = change(document)
        return _json(document if changed is None else changed)
    return respond


def _on(path: str, answer: Answer | Callable[[Seen], Answer]) -> Respond:
    def respond(seen: Seen) -> Answer:
        if seen.path.split("?")[0] == path:
            return answer(seen) if callable(answer) else answer
        return GOOD(seen)
    return respond


def _first_ca(document: dict[str, Any]) -> dict[str, Any]:
    return document["machineCertificates"][0]["certificateAuthorities"][0]  # type: ignore[no-any-return]


def _set(where: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        where(document)[key] = value
    return change


def _deep(levels: int) -> bytes:
    return b'{"machineCertificates": ' + b"[" * levels + b"]" * levels + b"}"


def _endless_pages(seen: Seen) -> Answer:
    offset = int(seen.path.rsplit("offset=", 1)[1]) if "offset=" in seen.path else 0
    return _json({"items": [], "listmeta": {"continue": f"page-{offset + 1}", "count": 10**9}})


CASES: dict[str, Respond] = {
    # the listing's status and framing
    "listing-500-json": _on(LISTING, _json({"code": "Internal", "message": "boom"}, 500)),
    "listing-500-html": _on(LISTING, Answer(500, b"<html>oops</html>", {"Content-Type": "text/html"})),
    "listing-429-forever": _on(LISTING, Answer(429, b"", {"Retry-After": "0"})),
    "listing-503-forever": _on(LISTING, Answer(503, b"")),
    "listing-401": _on(LISTING, _json({"code": "Unauthorized", "message": "no"}, 401)),
    "listing-404": _on(LISTING, _json({"code": "ResourceNotFound", "message": "no"}, 404)),
    "listing-204": _on(LISTING, Answer(204)),
    "listing-empty-200": _on(LISTING, Answer(200, b"", JSON)),
    "listing-html-200": _on(LISTING, Answer(200, b"<html></html>", {"Content-Type": "text/html"})),
    "listing-not-json": _on(LISTING, Answer(200, b"{machineCertificates: [", JSON)),
    "listing-non-utf8": _on(LISTING, Answer(200, b'{"machineCertificates": ["\xff\xfe"]}', JSON)),
    "listing-nan": _on(LISTING, Answer(200, b'{"machineCertificates": NaN}', JSON)),
    "listing-huge-number": _on(LISTING, Answer(200, b'{"machineCertificates": 1e400}', JSON)),
    "listing-deep": _on(LISTING, Answer(200, _deep(100_000), JSON)),
    "listing-too-large": _on(LISTING, Answer(200, b'{"x": "' + b"a" * (9 << 20) + b'"}', JSON)),
    "listing-redirect-elsewhere": _on(LISTING, Answer(302, headers={"Location": "https://localhost:1/x"})),
    "listing-redirect-loop": _on(LISTING, Answer(302, headers={"Location": LISTING})),
    # the listing's shape
    "listing-a-list": _listing(lambda d: [d]),
    "listing-null": _on(LISTING, Answer(200, b"null", JSON)),
    "listing-a-string": _listing(lambda d: "machines"),
    "machines-a-string": _listing(_set(lambda d: d, "machineCertificates", "all of them")),
    "machines-numbers": _listing(_set(lambda d: d, "machineCertificates", [1, 2, 3])),
    "machine-no-name": _listing(lambda d: d["machineCertificates"][0].pop("name")),
    "machine-name-a-number": _listing(_set(lambda d: d["machineCertificates"][0], "name", 42)),
    "machines-duplicated": _listing(lambda d: {"machineCertificates": d["machineCertificates"] * 2}),
    "machines-ten-thousand": _listing(lambda d: {"machineCertificates": [
        {**d["machineCertificates"][0], "name": f"m-{i}"} for i in range(10_000)]}),
    "authorities-a-map": _listing(_set(lambda d: d["machineCertificates"][0], "certificateAuthorities", {})),
    "ca-no-expiry": _listing(lambda d: _first_ca(d).pop("expiry")),
    "ca-expiry-a-number": _listing(_set(_first_ca, "expiry", 1893456000)),
    "ca-expiry-not-a-date": _listing(_set(_first_ca, "expiry", "2024-13-45T99:00:00Z")),
    "ca-expiry-year-99999": _listing(_set(_first_ca, "expiry", "99999-01-01T00:00:00Z")),
    "ca-expiry-an-object": _listing(_set(_first_ca, "expiry", {"seconds": 1})),
    "certificates-a-string": _listing(_set(_first_ca, "certificates", "kube-apiserver")),
    "certificate-unknown-name": _listing(lambda d: _first_ca(d)["certificates"].append(
        {"name": "kube-surprise", "expiry": "2026-12-20T08:00:00Z"})),
    "certificate-name-control-chars": _listing(lambda d: _first_ca(d)["certificates"].append(
        {"name": "kube-\x1b[2Jsurprise", "expiry": "2026-12-20T08:00:00Z"})),
    # the cluster object, its pools and machines
    "object-500": _on(OBJECT, _json({"code": "Internal", "message": "boom"}, 500)),
    "object-metadata-a-list": _on(OBJECT, _json({"metadata": [], "spec": {"cloudType": "aws"}})),
    "object-cloud-type-a-number": _on(OBJECT, _json({"metadata": {"name": "x"}, "spec": {
        "cloudType": 7, "cloudConfigRef": {"uid": "cfg"}}})),
    "object-created-not-a-date": _on(OBJECT, _json({"metadata": {"name": "x", "creationTimestamp": "yesterday"},
                                                    "spec": {"cloudType": "aws", "cloudConfigRef": {"uid": "cfg"}}})),
    "pools-not-a-list": _on(POOLS, _json({"spec": {"machinePoolConfig": "cp"}})),
    "pools-deep": _on(POOLS, Answer(200, _deep(5_000), JSON)),
    "machines-items-a-map": _on(MACHINES, _json({"items": {"a": 1}})),
    "machines-pages-without-end": _on(MACHINES, _endless_pages),
    "machines-429-forever": _on(MACHINES, Answer(429, b"", {"Retry-After": "0"})),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Respond]]]:
    """One HTTPS server for the whole corpus; each case sets what it answers."""
    with switchable(GOOD, tls_dir=tmp_path_factory.mktemp("tls")) as (server, current):
        yield server, current


def _judge(url: str, bundle: Path | None) -> tuple[dict[str, Any], Cost]:
    """KC-API-01..03 on the API at ``url``, as the plugin would judge them: verdicts, or the one error a
    target that cannot be read gives every check."""
    target = PaletteTarget(f"palette:{url}?cluster={CLUSTER}&project={PROJECT}", BUILTIN["palette"],
                           {"ca-bundle": str(bundle) if bundle else None, "api-key-env": "KUBECERT_CORPUS_KEY"},
                           NodeFacts())
    contexts = TargetContexts(target)
    try:
        with measured() as cost:
            found: dict[str, Any] = {}
            for rule_id in ("KC-API-01", "KC-API-02", "KC-API-03"):
                try:
                    found[rule_id] = evaluate(get(rule_id), contexts.for_rule(get(rule_id)))
                except TargetUnavailable as exc:
                    found[rule_id] = exc
    finally:
        target.close()
    return found, cost


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_broken_answer_is_one_clear_result_within_bounds(api: Any, monkeypatch: pytest.MonkeyPatch,
                                                          name: str) -> None:
    server, current = api
    monkeypatch.setenv("KUBECERT_CORPUS_KEY", KEY)
    current["respond"] = CASES[name]
    found, cost = _judge(server.url, server.ca_bundle)
    assert cost.within(cpu_s=CPU_BOUND_S, memory=MEMORY_BOUND, hang_s=HANG_BOUND_S), cost
    for rule_id, outcome in found.items():
        if isinstance(outcome, TargetUnavailable):
            assert (str(outcome).startswith(f"palette:{server.url}") and "/v1/" in str(outcome)) or "TLS" in str(
                outcome), outcome  # the one error names the target and what could not be read
            continue
        text = outcome.message + json.dumps(outcome.evidence())
        assert "internal error" not in outcome.message, (rule_id, outcome.message)
        assert "\x1b" not in text
        if outcome.status in (Status.FAILED, Status.ERROR):
            assert outcome.message.strip(), rule_id


def test_a_certificate_for_another_name_is_a_tls_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECERT_CORPUS_KEY", KEY)
    elsewhere = tmp_path / "elsewhere"
    with serving(GOOD, tls_dir=elsewhere, tls_names=("api.elsewhere.example",)) as server:
        found, cost = _judge(server.url, server.ca_bundle)
    assert cost.within(cpu_s=CPU_BOUND_S, memory=MEMORY_BOUND, hang_s=HANG_BOUND_S), cost
    assert all(isinstance(outcome, TargetUnavailable) for outcome in found.values())
    assert "TLS verification of https://127.0.0.1:" in str(found["KC-API-01"])


def test_the_corpus_holds_every_family() -> None:
    assert len(CASES) >= 40
