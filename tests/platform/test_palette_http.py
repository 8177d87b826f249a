"""The palette target's HTTP: the API key never leaves for another host, TLS is verified by default,
every request is sent again after a 429 (never sooner than Retry-After says), reads after a 503 too, answers are
size-bounded, credentials are redacted."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import re
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from kubecert.targets.base import TargetUnavailable
from kubecert.targets.deadline import TimeBudget
from kubecert.targets.palette.http import REDACTED, ApiClient, Credential, HttpLimits
from kubecert.targets.palette.retry_after import retry_after_s

from http_servers import Answer, Seen, serving

KEY = "kc-test-key-0123456789"
FAST = HttpLimits(connect_timeout_s=2, read_timeout_s=5, total_timeout_s=10, backoff_s=0.01, max_backoff_s=0.05)


def client(url: str, bundle: Path | None, **limits: float) -> ApiClient:
    chosen = HttpLimits(**{**FAST.__dict__, **limits}) if limits else FAST
    return ApiClient("palette:test", url, Credential(KEY), "project-1", verify=str(bundle) if bundle else True,
                     limits=chosen)


def test_a_redirect_to_another_host_is_not_followed_and_never_gets_the_key(tmp_path: Path) -> None:
    with serving(lambda seen: Answer(200, b"{}")) as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost")  # another host name, same machine
        with serving(lambda seen: Answer(302, headers={"Location": f"{other}/v1/x"}), tls_dir=tmp_path) as api:
            exchange = client(api.url, api.ca_bundle).request("GET", "/v1/spectroclusters/c1")
    assert exchange.status is None and "redirected to another host" in (exchange.error or "")
    assert elsewhere.seen == []
    assert api.seen[0].headers["ApiKey"] == KEY  # the API itself did get it


def test_a_same_origin_redirect_of_a_read_is_followed(tmp_path: Path) -> None:
    def respond(seen: Seen) -> Answer:
        if seen.path == "/old":
            return Answer(301, headers={"Location": "/new"})
        return Answer(200, b'{"ok": true}', {"Content-Type": "application/json"})

    with serving(respond, tls_dir=tmp_path) as api:
        exchange = client(api.url, api.ca_bundle).request("GET", "/old")
        refused = client(api.url, api.ca_bundle).request("PATCH", "/old")
    assert exchange.status == 200 and exchange.document == {"ok": True}
    assert [s.path for s in api.seen[:2]] == ["/old", "/new"]
    assert refused.status is None and "does not repeat a PATCH" in (refused.error or "")


def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    with serving(lambda seen: Answer(200, b"{}"), tls_dir=tmp_path) as api:
        with pytest.raises(TargetUnavailable, match=r"TLS verification of https://127\.0\.0\.1:\d+ failed "
                                                    r"\(certificate verify failed\); give the server's CA"):
            client(api.url, None).request("GET", "/v1/x")
        assert api.seen == []  # the handshake failed: no request, no key, was sent


def test_reads_are_retried_on_429_and_503_writes_on_429_only(tmp_path: Path) -> None:
    """A 429 means the API did not take the request (Palette's resource limits: 10 requests a second per IP), so a
    write is sent again too; a 503 may come after a write was taken, so a write is never sent again after one."""
    answers = [Answer(503), Answer(429, headers={"Retry-After": "0"}), Answer(200, b"{}"),
               Answer(429, headers={"Retry-After": "0"}), Answer(204)]
    with serving(lambda seen: answers.pop(0) if answers else Answer(503), tls_dir=tmp_path) as api:
        read = client(api.url, api.ca_bundle).request("GET", "/v1/x")
        write = client(api.url, api.ca_bundle).request("PATCH", "/v1/x")
        unavailable = client(api.url, api.ca_bundle).request("PATCH", "/v1/x")
    assert read.status == 200 and write.status == 204 and unavailable.status == 503
    assert [s.method for s in api.seen] == ["GET", "GET", "GET", "PATCH", "PATCH", "PATCH"]


def test_a_429_is_sent_again_no_sooner_than_retry_after_says(tmp_path: Path) -> None:
    answers = [Answer(429, headers={"Retry-After": "1"}), Answer(204)]
    with serving(lambda seen: answers.pop(0) if answers else Answer(500), tls_dir=tmp_path) as api:
        exchange = client(api.url, api.ca_bundle, max_backoff_s=15).request("PUT", "/v1/x", body={"a": 1})
    assert exchange.status == 204 and len(api.seen) == 2
    assert api.seen[1].at - api.seen[0].at >= 1.0  # the server's own clock: a busy machine only waits longer


@pytest.mark.parametrize(("retry_after", "shown"), [
    (lambda: "120", r"Retry-After: 120 asks for 120 s"),
    (lambda: email.utils.formatdate(time.time() + 3600, usegmt=True), r"GMT asks for 3(599|600) s"),  # a second on
    (lambda: "Fri, 31 Dec 9999 23:59:59 GMT", r"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT asks for \d{12} s"),
])
def test_a_retry_after_longer_than_kubecert_waits_is_refused_and_named(
        tmp_path: Path, retry_after: Callable[[], str], shown: str) -> None:
    """urllib3's Retry cuts a Retry-After longer than its maximum to the maximum and sleeps it: a hostile server
    would make every request wait that long. kubecert does not wait at all, and names the value and its bound."""
    with serving(lambda seen: Answer(429, b'{"code": "TooManyRequests"}', {
            "Retry-After": retry_after(), "Content-Type": "application/json"}), tls_dir=tmp_path) as api:
        exchange = client(api.url, api.ca_bundle, max_backoff_s=15, total_timeout_s=60).request("GET", "/v1/x")
    assert exchange.status == 429 and exchange.document == {"code": "TooManyRequests"}
    assert re.search(shown, exchange.error or "") and "more than kubecert waits (15 s)" in (exchange.error or "")
    assert (exchange.error or "").startswith("not sent again: Retry-After: ")
    assert len(api.seen) == 1  # not sent again before the server said: not at all


@pytest.mark.parametrize("retry_after", [
    "soon", "²", "1.5", "-1", "9" * 11,
    "1 Jan 2099 00:00:00 +0000",  # email.utils (urllib3's reading) takes it: 2099, a wait past every bound
    "Thu, 01 Jan 2099 00:00:00 UTC",  # the same: only GMT is an HTTP date
])
def test_a_retry_after_that_is_no_http_value_is_ignored_and_the_backoff_used(tmp_path: Path,
                                                                            retry_after: str) -> None:
    answers = [Answer(429, headers={"Retry-After": retry_after}), Answer(200, b"{}")]
    with serving(lambda seen: answers.pop(0) if answers else Answer(500), tls_dir=tmp_path) as api:
        read = client(api.url, api.ca_bundle).request("GET", "/v1/x")
    assert read.status == 200 and read.error is None and len(api.seen) == 2


@pytest.mark.parametrize("retry_after", [
    lambda: "1",
    lambda: email.utils.formatdate(time.time() + 2, usegmt=True),  # IMF-fixdate: at least 1 s on (whole seconds)
    lambda: time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(time.time() + 2)),  # asctime
])
def test_a_429_then_a_200_is_the_200_sent_no_sooner_than_retry_after_says(
        tmp_path: Path, retry_after: Callable[[], str]) -> None:
    answers = [Answer(429, headers={"Retry-After": retry_after()}), Answer(200, b"{}")]
    with serving(lambda seen: answers.pop(0) if answers else Answer(500), tls_dir=tmp_path) as api:
        read = client(api.url, api.ca_bundle, max_backoff_s=15).request("GET", "/v1/x")
    assert read.status == 200 and len(api.seen) == 2
    assert api.seen[1].at - api.seen[0].at >= 1.0  # the server's own clock: a busy machine only waits longer


def test_a_503_without_retry_after_is_sent_again_with_backoff(tmp_path: Path) -> None:
    """The backoff: backoff_s, then twice as long each time, up to max_backoff_s."""
    answers = [Answer(503), Answer(503), Answer(503), Answer(200, b"{}")]
    with serving(lambda seen: answers.pop(0) if answers else Answer(500), tls_dir=tmp_path) as api:
        read = client(api.url, api.ca_bundle, backoff_s=0.2, max_backoff_s=0.5).request("GET", "/v1/x")
    assert read.status == 200 and len(api.seen) == 4
    gaps = [later.at - earlier.at for earlier, later in zip(api.seen, api.seen[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.5  # 0.2, 0.2 * 2, then 0.2 * 4 cut to 0.5


def test_retries_are_bounded_and_the_last_answer_stands(tmp_path: Path) -> None:
    with serving(lambda seen: Answer(429, headers={"Retry-After": "0"}), tls_dir=tmp_path) as api:
        read = client(api.url, api.ca_bundle, retries=3).request("GET", "/v1/x")
    assert read.status == 429 and read.error is None and len(api.seen) == 4


@pytest.mark.parametrize(("method", "answer"), [
    ("PATCH", Answer(503)),
    ("PATCH", Answer(503, headers={"Retry-After": "0"})),  # Retry(allowed_methods=None) would send it again
    ("PUT", Answer(503, headers={"Retry-After": "1"})),
    ("POST", Answer(500)),
    ("GET", Answer(413, headers={"Retry-After": "0"})),  # and any 413 with a Retry-After
])
def test_a_write_answered_503_and_other_answers_are_not_sent_again(tmp_path: Path, method: str,
                                                                   answer: Answer) -> None:
    with serving(lambda seen: answer, tls_dir=tmp_path) as api:
        exchange = client(api.url, api.ca_bundle).request(method, "/v1/x", body={"a": 1})
    assert exchange.status == answer.status and len(api.seen) == 1


def test_a_wait_past_the_deadline_is_not_begun(tmp_path: Path) -> None:
    """A Retry-After within the bound but past the exchange's deadline: the 429 is the answer, at once; waiting
    would only end in the deadline, and mark the API unresponsive."""
    with serving(lambda seen: Answer(429, headers={"Retry-After": "10"}), tls_dir=tmp_path) as api:
        exchange = client(api.url, api.ca_bundle, max_backoff_s=15, total_timeout_s=3).request("GET", "/v1/x")
    assert exchange.status == 429 and len(api.seen) == 1
    assert exchange.error == "not sent again: a wait of 10 s would pass the exchange's deadline: 3 s from its start"


def test_a_wait_past_the_time_budget_is_not_begun_and_names_it(tmp_path: Path) -> None:
    with serving(lambda seen: Answer(429, headers={"Retry-After": "10"}), tls_dir=tmp_path) as api:
        api_client = ApiClient("palette:test", api.url, Credential(KEY), None, verify=str(api.ca_bundle),
                               limits=HttpLimits(max_backoff_s=15), budget=TimeBudget(5, "--api-time-budget"))
        exchange = api_client.request("GET", "/v1/x")
    assert exchange.status == 429 and len(api.seen) == 1
    assert "a wait of 10 s would pass what is left of the target's time budget (--api-time-budget)" in (
        exchange.error or "")


def test_answers_are_size_bounded(tmp_path: Path) -> None:
    with serving(lambda seen: Answer(200, b"x" * 200_000), tls_dir=tmp_path) as api:
        exchange = client(api.url, api.ca_bundle, max_body_bytes=10_000).request("GET", "/v1/x")
    assert "larger than 10000 bytes" in (exchange.error or "")
    assert exchange.body_size <= 10_000 + 65_536


def test_echoed_credentials_are_redacted(tmp_path: Path) -> None:
    def echo(seen: Seen) -> Answer:
        body = {"code": "Unauthorized", "message": f"bad key {seen.headers.get('ApiKey')}"}
        return Answer(401, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with serving(echo, tls_dir=tmp_path) as api:
        api_client = client(api.url, api.ca_bundle)
        exchange = api_client.request("GET", "/v1/x")
        wrong = api_client.wrong_key()
        other = api_client.request("GET", "/v1/x", key=wrong, sent="wrong api key")
    assert exchange.echoed_credential and other.echoed_credential
    assert KEY not in json.dumps(exchange.evidence()) and wrong not in other.text
    assert exchange.document == {"code": "Unauthorized", "message": "bad key <redacted>"}
    assert "Credential(<hidden>)" in repr(Credential(KEY))


def test_a_closed_port_is_a_clear_error() -> None:
    with serving(lambda seen: Answer(200)) as gone:
        url = gone.url.replace("http://", "https://")
    with pytest.raises(TargetUnavailable, match=r"cannot connect to https://127\.0\.0\.1:\d+ \(Connection refused\)"):
        client(url, None).request("GET", "/v1/x")


NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("3", 3.0), (" 120 ", 120.0), ("0", 0.0),
    ("Sun, 01 Jun 2025 12:00:10 GMT", 10.0),  # IMF-fixdate
    ("Sunday, 01-Jun-25 12:01:00 GMT", 60.0),  # RFC 850
    ("Sun Jun  1 12:00:05 2025", 5.0),  # asctime
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # past: no wait
    ("²", None), ("١", None), ("-1", None), ("1.5", None), ("1e3", None), ("9" * 11, None), ("", None), (None, None),
    ("Mon, 31 Feb 2025 12:00:00 GMT", None), ("Sun, 01 Jun 2025 12:00:10 UTC", None), ("soon", None),
    ("Sun, 01 Jun 2025 12:00:10 GMT" + " " * 60, None),
    ("\t3\t", 3.0), ("\x1c3\x1f", None), ("\x0b3\x0c", None), ("3\x85", None),  # whitespace is SP and HTAB only
])
def test_retry_after_is_seconds_in_ascii_digits_or_an_http_date(value: str | None, seconds: float | None) -> None:
    assert retry_after_s(value, NOW) == seconds


def test_a_retry_after_that_is_no_number_is_ignored_not_a_crash(tmp_path: Path) -> None:
    answers = [Answer(429, headers={"Retry-After": "²"}), Answer(200, b"{}")]  # "²".isdigit() is True
    with serving(lambda seen: answers.pop(0) if answers else Answer(500), tls_dir=tmp_path) as api:
        read = client(api.url, api.ca_bundle).request("GET", "/v1/x")
    assert read.status == 200 and len(api.seen) == 2


@pytest.mark.parametrize(("location", "why"), [
    ("https://127.0.0.1:99999/x", "redirected to an address that is not a URL"),
    ("https://[::1/x", "redirected to an address that is not a URL"),
    ("", "redirected to no address (a redirect without Location)"),  # the header, empty
    ("https://user:secret@{host}/x", "redirected to an address with user credentials in it"),
    ("http://{host}/x", "redirected to another host (http://127.0.0.1:"),
])
def test_a_redirect_kubecert_cannot_follow_is_one_clear_error(tmp_path: Path, location: str, why: str) -> None:
    with serving(lambda seen: Answer(302, headers={"Location": location.format(host=host[0])}),
                 tls_dir=tmp_path) as api:
        host = [api.url.removeprefix("https://")]
        exchange = client(api.url, api.ca_bundle).request("GET", "/v1/x")
    assert exchange.status is None and why in (exchange.error or ""), exchange.error
    assert len(api.seen) == 1


def test_where_an_answer_repeats_the_key_is_recorded_and_every_spelling_hidden(tmp_path: Path) -> None:
    encoded = urllib.parse.quote(KEY, safe="")

    def respond(seen: Seen) -> Answer:
        if seen.path.startswith("/v1/moved?"):
            return Answer(404, base64.b64encode(f"key={KEY}".encode()), {"X-Echo": KEY.upper()},
                          reason=f"Not {KEY}")
        return Answer(307, headers={"Location": f"/v1/moved?apikey={encoded}"})

    with serving(respond, tls_dir=tmp_path) as api:
        api_client = client(api.url, api.ca_bundle)
        followed = api_client.request("GET", "/v1/x")
        patched = api_client.request("PATCH", "/v1/x")
    assert followed.echoed == ("the Location header", "the status line", "the X-Echo header", "the body")
    assert patched.echoed == ("the Location header",)
    assert patched.error == f"redirected (/v1/moved?apikey={REDACTED}); kubecert does not repeat a PATCH at another " \
                            "address"
    assert api_client.echoes == [("GET /v1/x (api key)", followed.echoed), ("PATCH /v1/x (api key)", patched.echoed)]
    assert KEY not in repr(followed) + repr(patched) and encoded not in repr(followed) + repr(patched)


def test_time_set_aside_is_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("kubecert.targets.deadline.time.monotonic", lambda: clock[0])
    budget = TimeBudget(10, "--api-time-budget")
    assert budget.remaining() == 10  # not started: the whole budget
    budget.start()
    clock[0] += 4
    with budget.set_aside():
        clock[0] += 1000  # a renewal watched until its own deadline
        assert budget.remaining() == float("inf")
    clock[0] += 5
    assert budget.remaining() == 1 and not budget.spent
    clock[0] += 1
    assert budget.spent
