"""A corpus of hostile API answers, each served over real HTTPS to one ``kubecert check`` run in a child under
the audit guard that writes every report format: redirects that carry the key (in the host, path, query,
fragment or user info; plain or encoded), answers that repeat it (status line, headers, bodies; raw,
percent-encoded, base64, escaped), dates past what a datetime holds, Retry-After values that are not,
answers that trickle or crawl.

In every case the key is in no report (JSON, HTML, JUnit, OSCAL, metrics) and not on stdout or stderr, in any
spelling; nothing is started and nothing written outside the run's folder; and the run ends in the verdicts
the case calls for (KC-API-06 fails on every echo), never in "could not set up". The trickling and crawling
cases count the requests the server received: after a deadline, no other request is made.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import audit
import pytest
from vendor_api import vendor_api

from http_servers import Answer, Seen, Server, switchable
from support import read_report

KEY = "kc-Hostile.Key_0123456789+abcdefXYZ"  # mixed case (host names are folded), '+' (percent-encoded)
CLUSTER, PROJECT = "c-123", "p-1"
LISTING = f"/v1/spectroclusters/{CLUSTER}/k8certificates"
OBJECT = f"/v1/spectroclusters/{CLUSTER}"
REPORTS = ("kubecert.json", "kubecert.html", "kubecert-junit.xml", "kubecert-oscal.json", "kubecert.prom")
DEADLINE_S = 3  # --api-deadline for every run: trickles are cut quickly, and a run never waits long
JSON = {"Content-Type": "application/json"}
Respond = Callable[[Seen], Answer]

GOOD = vendor_api(CLUSTER, PROJECT, KEY)


def sent_key(seen: Seen) -> str:
    return seen.headers.get("ApiKey", "")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def percent_every_byte(text: str) -> str:
    return "".join(f"%{b:02x}" for b in text.encode())


def spellings(key: str) -> set[str]:
    """Every way the tests look for ``key`` in what a run wrote (compared without regard to case)."""
    data = key.encode()
    found = {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key), percent_every_byte(key),
             json.dumps(key)[1:-1], "".join(f"\\u{ord(c):04x}" for c in key), data.hex(), data.hex(":"),
             "".join(f"&#x{b:x};" for b in data), "".join(f"&#{b};" for b in data)}
    for prefix in (b"", b"u", b"us"):  # base64 of a text holding the key, at each alignment
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(prefix + data).decode().rstrip("=")
            found.add(encoded[4:-3] if prefix else encoded[:-3])  # the characters only the key's bytes decide
    return found


# --- the answers


def every_answer(change: Callable[[Seen, Answer], Answer]) -> Callable[[str], Respond]:
    """The good API, each answer then changed by ``change``."""
    return lambda url: lambda seen: change(seen, GOOD(seen))


def redirect_every_request(location: Callable[[str, str], str], status: int = 302) -> Callable[[str], Respond]:
    """Every request redirected to ``location(server url, key sent)``."""
    return lambda url: lambda seen: Answer(status, b"", {"Location": location(url, sent_key(seen))})


def refusals(change: Callable[[Seen, Answer], Answer]) -> Callable[[str], Respond]:
    """The good API, its errors (401, 403, 404) changed by ``change``."""
    return every_answer(lambda seen, answer: change(seen, answer) if answer.status >= 400 else answer)


def error_message(message: Callable[[str], str]) -> Callable[[Seen, Answer], Answer]:
    """An error body whose message is ``message(key sent)``."""
    def change(seen: Seen, answer: Answer) -> Answer:
        body = json.dumps({"code": "Denied", "message": message(sent_key(seen))})
        return Answer(answer.status, body.encode(), JSON)
    return change


def listing(change: Callable[[dict[str, Any], str], Any]) -> Callable[[str], Respond]:
    """The good API, its certificate listing changed by ``change(document, key sent)``."""
    def respond(seen: Seen) -> Answer:
        answer = GOOD(seen)
        if seen.path.split("?")[0] != LISTING or answer.status != 200:
            return answer
        document = json.loads(answer.body)
        changed = change(document, sent_key(seen))
        return Answer(200, json.dumps(document if changed is None else changed).encode(), JSON)
    return lambda url: respond


def first_ca(document: dict[str, Any]) -> dict[str, Any]:
    return document["machineCertificates"][0]["certificateAuthorities"][0]  # type: ignore[no-any-return]


def set_expiry(where: Callable[[dict[str, Any]], dict[str, Any]], value: str) -> Callable[[str], Respond]:
    def change(document: dict[str, Any], key: str) -> None:
        where(document)["expiry"] = value
    return listing(change)


def cluster_object(change: Callable[[dict[str, Any]], None]) -> Callable[[str], Respond]:
    def respond(seen: Seen) -> Answer:
        answer = GOOD(seen)
        if seen.path.split("?")[0] != OBJECT or answer.status != 200:
            return answer
        document = json.loads(answer.body)
        change(document)
        return Answer(200, json.dumps(document).encode(), JSON)
    return lambda url: respond


def first_rate_limited(retry_after: str) -> Callable[[str], Respond]:
    """The first read of the listing answered 429 with ``retry_after``; then the good API."""
    def make(url: str) -> Respond:
        limited: list[Seen] = []

        def respond(seen: Seen) -> Answer:
            if seen.path == LISTING and not limited:
                limited.append(seen)
                return Answer(429, b"", {"Retry-After": retry_after.format(key=sent_key(seen))})
            return GOOD(seen)
        return respond
    return make


def patches(change: Callable[[str, Seen], Answer]) -> Callable[[str], Respond]:
    """The good API for reads; every PATCH answered by ``change(server url, request)``."""
    return lambda url: lambda seen: change(url, seen) if seen.method == "PATCH" else GOOD(seen)


@dataclass(frozen=True)
class Case:
    make: Callable[[str], Respond]  # the server's answers, given its own URL
    expect: dict[str, str]  # rule → status
    says: dict[str, str] = field(default_factory=dict)  # rule → words its message holds
    args: tuple[str, ...] = ()


ECHO = {"KC-API-06": "failed"}
LISTING_FAILS = {"KC-API-01": "error", "KC-API-04": "error", "KC-API-05": "error", "KC-API-06": "failed"}
DISRUPTIVE = ("--allow-disruptive", "--rule", "KC-RPV-09", "--poll-interval", "0.1")
REPEATS = "the answer repeats a credential kubecert sent, in "

CASES: dict[str, Case] = {
    # the good API, for contrast: nothing repeats the key
    "good": Case(lambda url: GOOD, {"KC-API-01": "passed", "KC-API-04": "passed", "KC-API-06": "passed"}),
    # redirects of every kind, with the key somewhere in the address
    "redirect-key-in-host": Case(redirect_every_request(lambda url, key: f"https://{key}.elsewhere.example/x"),
                                 LISTING_FAILS, {"KC-API-06": REPEATS + "the Location header"}),
    "redirect-key-in-path": Case(redirect_every_request(lambda url, key: f"https://elsewhere.example/{key}/x",
                                                        301), LISTING_FAILS),
    "redirect-key-in-query": Case(redirect_every_request(
        lambda url, key: f"https://elsewhere.example/x?apikey={urllib.parse.quote(key, safe='')}", 303),
        LISTING_FAILS),
    "redirect-key-in-fragment": Case(redirect_every_request(lambda url, key: f"https://elsewhere.example/x#{key}",
                                                            307), LISTING_FAILS),
    "redirect-key-every-byte-encoded": Case(redirect_every_request(
        lambda url, key: f"https://elsewhere.example/x?k={percent_every_byte(key)}", 308), LISTING_FAILS),
    "redirect-key-base64-in-query": Case(redirect_every_request(
        lambda url, key: f"https://elsewhere.example/x?basic={b64('user:' + key)}"), LISTING_FAILS),
    "redirect-key-as-user-info-same-host": Case(redirect_every_request(
        lambda url, key: url.replace("https://", f"https://user:{key}@") + "/v1/x"), LISTING_FAILS,
        {"KC-API-01": "an address with user credentials in it"}),
    "redirect-same-host-key-in-query": Case(redirect_every_request(
        lambda url, key: f"/v1/moved?apikey={key}", 307), LISTING_FAILS, {"KC-API-01": "more than 3 redirects"}),
    "redirect-same-host-plain-http": Case(redirect_every_request(
        lambda url, key: url.replace("https://", "http://") + f"/{key}"), LISTING_FAILS),
    "redirect-not-a-url": Case(redirect_every_request(lambda url, key: f"https://elsewhere.example:99999/{key}"),
                               LISTING_FAILS, {"KC-API-01": "an address that is not a URL"}),
    "redirect-not-a-url-ipv6": Case(redirect_every_request(lambda url, key: f"https://[{key}/x"), LISTING_FAILS,
                                    {"KC-API-01": "an address that is not a URL"}),
    "redirect-refusals-elsewhere": Case(refusals(
        lambda seen, answer: Answer(302, b"", {"Location": f"https://login.example/?next=x&key={sent_key(seen)}"})),
        {"KC-API-01": "passed", "KC-API-04": "error", "KC-API-06": "failed"}),
    "redirect-patch-same-host": Case(patches(lambda url, seen: Answer(
        307, b"", {"Location": f"/v1/moved?apikey={urllib.parse.quote(sent_key(seen), safe='')}"})),
        {"KC-API-01": "passed", "KC-API-06": "passed", "KC-RPV-09": "error"},
        {"KC-RPV-09": "redirected (/v1/moved?apikey=<redacted>); kubecert does not repeat a PATCH"}, args=DISRUPTIVE),
    # the key repeated in the status line and headers
    "echo-status-line": Case(refusals(lambda seen, answer: Answer(
        answer.status, answer.body, answer.headers, reason=f"Unauthorized {sent_key(seen)}")), ECHO,
        {"KC-API-06": REPEATS + "the status line"}),
    "echo-header-raw": Case(every_answer(lambda seen, answer: Answer(
        answer.status, answer.body, {**answer.headers, "X-Request-Key": sent_key(seen)})), ECHO,
        {"KC-API-06": REPEATS + "the X-Request-Key header"}),
    "echo-header-percent-encoded": Case(every_answer(lambda seen, answer: Answer(
        answer.status, answer.body, {**answer.headers, "X-Debug": "apikey%3D" + urllib.parse.quote(sent_key(seen))
                                     })), ECHO),
    "echo-header-base64-cookie": Case(every_answer(lambda seen, answer: Answer(
        answer.status, answer.body, {**answer.headers, "Set-Cookie": f"s={b64('k=' + sent_key(seen))}; Secure"})),
        ECHO),
    "echo-content-type": Case(refusals(lambda seen, answer: Answer(
        answer.status, answer.body, {"Content-Type": f"application/json; key={sent_key(seen)}"})), ECHO),
    "echo-retry-after": Case(first_rate_limited("{key}"), ECHO),
    # the key repeated in bodies
    "echo-body-raw": Case(refusals(error_message(lambda key: f"key {key} is not welcome")), ECHO,
                          {"KC-API-06": REPEATS + "the body"}),
    "echo-body-percent-encoded": Case(refusals(error_message(
        lambda key: "see /login?key=" + urllib.parse.quote(key, safe=""))), ECHO),
    "echo-body-base64": Case(refusals(error_message(lambda key: "Authorization: Basic " + b64("tenant:" + key))),
                             ECHO),
    "echo-body-json-escaped": Case(refusals(lambda seen, answer: Answer(
        answer.status, ('{"code": "Denied", "message": "'
                        + "".join(f"\\u{ord(c):04X}" for c in sent_key(seen)) + '"}').encode(), JSON)), ECHO),
    "echo-body-html-entities": Case(refusals(lambda seen, answer: Answer(
        answer.status, ("<html>key " + "".join(f"&#x{ord(c):x};" for c in sent_key(seen)) + "</html>").encode(),
        {"Content-Type": "text/html"})), ECHO),
    "echo-body-hex": Case(refusals(error_message(lambda key: f"digest input {key.encode().hex(':')}")), ECHO),
    "echo-listing-machine-name": Case(listing(lambda document, key: document["machineCertificates"][0].update(
        name=f"cp-{b64(key)}")), {"KC-API-01": "passed", "KC-API-06": "failed"},
        {"KC-API-06": f"GET {LISTING} (api key)"}),
    "echo-listing-far-in-a-large-body": Case(listing(lambda document, key: {
        **document, "padding": "x" * (7 << 20), "owner": urllib.parse.quote(key, safe="")}),
        {"KC-API-01": "passed", "KC-API-06": "failed"}),
    # dates past what a datetime holds, and Retry-After values that are not ones
    "date-ca-past-the-year-9999": Case(set_expiry(first_ca, "9999-12-31T23:59:59-01:00"),
                                       {"KC-API-01": "failed", "KC-API-03": "failed"},
                                       {"KC-API-01": "ip-10-0-0-1.ec2.internal: machineCertificates[0]."
                                                     "certificateAuthorities[0] (ca).expiry "
                                                     "'9999-12-31T23:59:59-01:00' is outside the dates"}),
    "date-leaf-before-the-year-1": Case(set_expiry(lambda d: first_ca(d)["certificates"][0],
                                                   "0001-01-01T00:00:00+01:00"), {"KC-API-01": "failed"},
                                        {"KC-API-01": "(kube-apiserver).expiry '0001-01-01T00:00:00+01:00'"}),
    "date-cluster-created-at-the-end-of-time": Case(cluster_object(lambda d: d["metadata"].update(
        creationTimestamp="9999-12-31T23:59:59Z")), {"KC-API-01": "passed", "KC-API-03": "failed"}),
    "date-expiry-unicode-digits": Case(set_expiry(first_ca, "٢٠٣٥-01-10T08:00:00Z"), {"KC-API-01": "failed"}),
    "retry-after-superscript-two": Case(first_rate_limited("²"), {"KC-API-01": "passed"}),
    "retry-after-arabic-digits": Case(first_rate_limited("١"), {"KC-API-01": "passed"}),
    "retry-after-negative": Case(first_rate_limited("-1"), {"KC-API-01": "passed"}),
    "retry-after-huge": Case(first_rate_limited("9" * 40), {"KC-API-01": "passed"}),
    "retry-after-date-past": Case(first_rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"), {"KC-API-01": "passed"}),
    "retry-after-date-year-9999": Case(first_rate_limited("Fri, 31 Dec 9999 23:59:59 GMT"), {"KC-API-01": "error"},
                                       {"KC-API-01": "answered 429 (not sent again: Retry-After: Fri, 31 Dec 9999 "
                                                     "23:59:59 GMT asks for "}),
    "retry-after-seconds-past-the-bound": Case(first_rate_limited("3600"), {"KC-API-01": "error"}, {
        "KC-API-01": "answered 429 (not sent again: Retry-After: 3600 asks for 3600 s, more than kubecert waits "
                     "(15 s))"}),
    "retry-after-past-the-deadline": Case(first_rate_limited("10"), {"KC-API-01": "error"}, {  # --api-deadline 3
        "KC-API-01": "answered 429 (not sent again: a wait of 10 s would pass the exchange's deadline: 3 s from"}),
    "retry-after-control-characters": Case(first_rate_limited("\x1c3600\x1f"), {"KC-API-01": "passed"}),
    "retry-after-date-loose": Case(first_rate_limited("1 Jan 2099 00:00:00 +0000"), {"KC-API-01": "passed"}),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Respond]]]:
    """One HTTPS server for the corpus; each case sets what it answers."""
    with switchable(GOOD, tls_dir=tmp_path_factory.mktemp("tls")) as (server, current):
        yield server, current


@dataclass
class Run:
    code: int
    report: dict[str, Any]
    written: dict[str, str]  # each report file and the terminal's two streams: their text
    requests: list[Seen]


READ_ONLY = "KC-API-0[1-68]"  # the API rules that run without --allow-disruptive (KC-API-07 is a write)


def run_case(api: tuple[Server, dict[str, Respond]], folder: Path, respond: Respond, *args: str) -> Run:
    server, current = api
    current["respond"] = respond
    first = len(server.seen)
    out, temp = folder / "out", folder / "tmp"
    temp.mkdir(parents=True)  # pytest's capture files and kubecert's locks land here, inside the run's folder
    run, seen = audit.run_audited(
        ["check", "--target", f"palette:{server.url}?cluster={CLUSTER}&project={PROJECT}", "--ca-bundle",
         str(server.ca_bundle), "--output-dir", str(out), "--api-deadline", str(DEADLINE_S), "--rule", READ_ONLY,
         *args], cwd=folder, env={"PALETTE_API_KEY": KEY, "TMPDIR": str(temp)}, timeout=240)
    assert seen.writes_outside([folder]) == [], seen.writes_outside([folder])
    assert seen.processes_besides([]) == [], seen.processes
    written = {"stdout": run.stdout, "stderr": run.stderr}
    for name in REPORTS:
        assert (out / name).is_file(), (name, run.stdout, run.stderr)
        written[name] = (out / name).read_text(errors="replace")
    return Run(run.returncode, read_report(out / "kubecert.json"), written, server.seen[first:])


def assert_no_key(run: Run) -> None:
    keys = {KEY} | {sent_key(s) for s in run.requests if sent_key(s)}  # the user's key and the wrong ones sent
    for name, text in run.written.items():
        folded = text.lower()
        leaked = sorted(s for key in keys for s in spellings(key) if s.lower() in folded)
        assert not leaked, (name, leaked)


def results(run: Run) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in run.report["results"]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_answer_leaks_no_key_and_ends_in_its_verdicts(api: tuple[Server, dict[str, Respond]],
                                                                tmp_path: Path, name: str) -> None:
    case = CASES[name]
    run = run_case(api, tmp_path, case.make(api[0].url), *case.args)
    assert "Traceback" not in run.written["stderr"] + run.written["stdout"], run.written["stderr"]
    assert_no_key(run)
    found = results(run)
    assert all("could not set up" not in r["message"] for r in found.values()), run.written["stdout"]
    assert {rule: found[rule]["status"] for rule in case.expect} == case.expect, run.written["stdout"]
    for rule, words in case.says.items():
        assert words in found[rule]["message"], (rule, found[rule]["message"])
    assert run.code in (0, 1, 2), run.written["stderr"]


def test_the_corpus_covers_every_family() -> None:
    families = {name.split("-")[0] for name in CASES}
    assert families == {"good", "redirect", "echo", "date", "retry"}
    assert len(CASES) >= 35


# --- answers that trickle or crawl: counted at the server


def trickling_on(path: str, *, key: bool = True) -> Respond:
    """The good API, but the answer to ``path`` (requests with a key, or without one) trickles its body a
    byte every 0.2 s: 1,000 bytes would take 200 s."""
    def respond(seen: Seen) -> Answer:
        if seen.path.split("?")[0] == path and bool(sent_key(seen)) == key:
            return Answer(200, b"{" + b" " * 998 + b"}", JSON, trickle_s=0.2)
        return GOOD(seen)
    return respond


@pytest.mark.parametrize(("path", "key", "judged"), [
    (OBJECT, True, ()),  # the observation's second read: nothing can be judged
    (LISTING, False, ("KC-API-01", "KC-API-02", "KC-API-03")),  # the first probe: the observation was read
])
def test_after_a_deadline_no_request_is_made_and_every_check_still_to_come_names_it(
        api: tuple[Server, dict[str, Respond]], tmp_path: Path, path: str, key: bool, judged: tuple[str, ...]) -> None:
    run = run_case(api, tmp_path, trickling_on(path, key=key))
    trickled = [i for i, s in enumerate(run.requests) if s.path.split("?")[0] == path and bool(sent_key(s)) == key]
    assert trickled and trickled[0] == len(run.requests) - 1, [s.path for s in run.requests]  # nothing after it
    deadline = f"GET {path} got no complete answer within {DEADLINE_S} s"
    for rule, result in results(run).items():
        if rule in judged:
            assert result["status"] != "error" or deadline not in result["message"], result
        else:
            assert result["status"] == "error" and deadline in result["message"], result
    assert_no_key(run)


def test_a_target_past_its_time_budget_is_asked_nothing_more(api: tuple[Server, dict[str, Respond]],
                                                             tmp_path: Path) -> None:
    every = run_case(api, tmp_path / "whole", GOOD)
    slow = run_case(api, tmp_path / "slow", lambda seen: Answer(**{**GOOD(seen).__dict__, "delay_s": 0.4}),
                    "--api-time-budget", "1")
    assert len(slow.requests) < len(every.requests)  # each answer takes 0.4 s: the budget ends the run early
    found = results(slow)
    spent = [rule for rule, r in found.items() if "time budget of 1 s (--api-time-budget) is spent" in r["message"]]
    assert spent and all(found[rule]["status"] == "error" for rule in spent)
    after = list(found)[list(found).index(spent[0]):]
    assert all(found[rule]["status"] == "error" for rule in after), found  # every check still to come
