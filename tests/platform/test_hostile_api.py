"""A management API that misbehaves on purpose: it repeats the key in disguise, trickles its answers, nests
its JSON without end. The key never reaches an output byte, every wait ends, and each problem is one clear
result naming the route."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from vendor_api import KEY, vendor_api

from kubecert.targets.deadline import TimeBudget
from kubecert.targets.errors import TargetUnavailable, TargetUnresponsive
from kubecert.targets.palette.http import REDACTED, ApiClient, Credential, HttpLimits

from http_servers import Answer, Seen, serving
from support import run_suite, statuses

CLUSTER, PROJECT = "c-123", "p-1"
TARGET = "palette:{url}?cluster=" + CLUSTER + "&project=" + PROJECT


def escaped(text: str) -> str:
    """``text`` spelled with JSON escapes only: a body that says it without saying it in clear."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def echoing(seen: Seen) -> Answer:
    """The vendor API, but every error repeats the ApiKey it got, and a machine is named after it, all
    JSON-escaped."""
    answer = vendor_api(CLUSTER, PROJECT)(seen)
    sent = seen.headers.get("ApiKey", "")
    if answer.status >= 400:
        body = '{"code": "Denied", "message": "key ' + escaped(sent) + ' is not welcome"}'
        return Answer(answer.status, body.encode(), {"Content-Type": "application/json"})
    if seen.path.endswith("/k8certificates"):
        document = json.loads(answer.body)
        document["machineCertificates"][0]["name"] = "\u0000MACHINE\u0000"
        body = json.dumps(document).replace("\\u0000MACHINE\\u0000", "cp-" + escaped(sent))
        return Answer(200, body.encode(), answer.headers)
    return answer


def test_a_key_repeated_in_json_escapes_is_redacted_after_decoding(tmp_path: Path) -> None:
    with serving(echoing, tls_dir=tmp_path) as api:
        client = ApiClient("palette:test", api.url, Credential(KEY), PROJECT, verify=str(api.ca_bundle))
        listing = client.request("GET", f"/v1/spectroclusters/{CLUSTER}/k8certificates")
        refused = client.request("GET", f"/v1/spectroclusters/{CLUSTER}", key=client.wrong_key())
    assert listing.echoed_credential and refused.echoed_credential
    assert listing.document["machineCertificates"][0]["name"] == f"cp-{REDACTED}"
    assert refused.document["message"] == f"key {REDACTED} is not welcome"
    assert KEY not in json.dumps(listing.document) + listing.text + refused.text


def test_no_output_byte_holds_the_key(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    outputs = {name: pytester.path / name for name in ("report.html", "junit.xml")}
    with serving(echoing, tls_dir=tmp_path) as api:
        run, report = run_suite(pytester, "--kubecert-target", TARGET.format(url=api.url), "--kubecert-ca-bundle",
                                str(api.ca_bundle), "--kubecert-rule", "KC-API-*", "-rA", "-v",
                                "--kubecert-html", str(outputs["report.html"]),
                                "--junitxml", str(outputs["junit.xml"]))
    assert statuses(report)["KC-API-06"] == "failed"  # the echo itself is what KC-API-06 exists to catch
    written = [run.stdout.str(), run.stderr.str(), json.dumps(report)]
    written += [path.read_text() for path in outputs.values()]
    written += [path.read_text(errors="replace") for path in pytester.path.rglob("*") if path.is_file()]
    assert all(KEY not in text for text in written)
    assert REDACTED in json.dumps(report)


@pytest.mark.parametrize(("key", "secret", "words"), [
    (KEY + "\nsecond-line-of-the-key", "second-line-of-the-key", "has 2 lines; an API key is one line"),
    ("kc-clé-non-latin-0123", "non-latin-0123", "is not a header-safe token"),
    ("kc with-spaces-0123", "with-spaces-0123", "is not a header-safe token"),
])
def test_a_malformed_key_is_a_usage_error_that_never_shows_it(pytester: pytest.Pytester, key: str, secret: str,
                                                              words: str) -> None:
    key_file = pytester.path / "key"
    key_file.write_text(key, encoding="utf-8")
    key_file.chmod(0o600)
    result, report = run_suite(pytester, "--kubecert-target", "palette:https://127.0.0.1:9?cluster=c1",
                               "--kubecert-api-key-file", str(key_file))
    assert result.ret == pytest.ExitCode.USAGE_ERROR and not report
    assert words in result.stderr.str() and "the key is not shown" in result.stderr.str()
    shown = result.stdout.str() + result.stderr.str()
    assert secret not in shown and KEY not in shown


@contextmanager
def trickling(head: bytes, body: bytes, *, every_s: float = 0.5, received: list[str] | None = None
              ) -> Iterator[str]:
    """A plain-HTTP server that sends ``head`` then ``body`` one byte every ``every_s`` seconds; the request
    line of each request it gets goes to ``received``."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                request = conn.recv(65536)
                if received is not None:
                    received.append(request.split(b"\r\n", 1)[0].decode(errors="replace"))
                try:
                    conn.sendall(head)
                    for byte in body:
                        if stop.wait(every_s):
                            return
                        conn.sendall(bytes([byte]))
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


SLOW = HttpLimits(connect_timeout_s=2, read_timeout_s=5, total_timeout_s=2, retries=0)
# The trickle would last 400 s (a byte a second); the deadline ends it at 2 s. A busy machine may add to
# that, so the wall-clock check only tells a cut exchange from one that went on.
HANG_S = 30


TRICKLED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"


def test_a_body_that_trickles_is_cut_at_the_deadline() -> None:
    with trickling(TRICKLED_HEAD, b"{" + b" " * 398 + b"}") as url:
        client = ApiClient("palette:test", url, Credential(KEY), None, limits=SLOW)
        started = time.monotonic()
        with pytest.raises(TargetUnresponsive, match="GET /v1/spectroclusters/c1/k8certificates got no complete "
                                                     "answer within 2 s"):
            client.request("GET", "/v1/spectroclusters/c1/k8certificates")
        took = time.monotonic() - started
    assert took < HANG_S, took  # cut by the 2 s deadline, as the message says, not after the whole body


def test_headers_that_trickle_are_cut_at_the_deadline() -> None:
    with trickling(b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n") as url:
        client = ApiClient("palette:test", url, Credential(KEY), None, limits=SLOW)
        started = time.monotonic()
        with pytest.raises(TargetUnavailable, match="got no complete answer within 2 s"):
            client.request("GET", "/v1/spectroclusters/c1")
        assert time.monotonic() - started < HANG_S


def test_after_a_deadline_the_api_is_asked_nothing_more() -> None:
    received: list[str] = []
    with trickling(TRICKLED_HEAD, b"{" + b" " * 398 + b"}", received=received) as url:
        client = ApiClient("palette:test", url, Credential(KEY), None, limits=SLOW)
        with pytest.raises(TargetUnresponsive, match=r"GET /v1/a got no complete answer within 2 s"):
            client.request("GET", "/v1/a")
        with pytest.raises(TargetUnresponsive, match=r"GET /v1/b not sent: the API stopped answering earlier \(GET "
                                                     r"/v1/a got no complete answer within 2 s"):
            client.request("GET", "/v1/b")
    assert received == ["GET /v1/a HTTP/1.1"]


def test_the_time_budget_cuts_the_exchange_in_flight_and_nothing_is_sent_after() -> None:
    received: list[str] = []
    with trickling(TRICKLED_HEAD, b"{" + b" " * 398 + b"}", received=received) as url:
        client = ApiClient("palette:test", url, Credential(KEY), None, limits=HttpLimits(total_timeout_s=30),
                           budget=TimeBudget(1, "--api-time-budget"))
        with pytest.raises(TargetUnresponsive, match=r"GET /v1/a was cut: the target's time budget of 1 s "
                                                     r"\(--api-time-budget\) is spent"):
            client.request("GET", "/v1/a")
        with pytest.raises(TargetUnresponsive, match="GET /v1/b not sent"):
            client.request("GET", "/v1/b")
    assert received == ["GET /v1/a HTTP/1.1"]


def deep(levels: int) -> bytes:
    return b'{"machineCertificates": ' + b"[" * levels + b"]" * levels + b"}"


def test_json_nested_without_end_is_one_clear_error_naming_the_route(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def respond(seen: Seen) -> Answer:
        if seen.path.endswith("/k8certificates"):
            return Answer(200, deep(100_000), {"Content-Type": "application/json"})
        return vendor_api(CLUSTER, PROJECT)(seen)

    monkeypatch.setenv("PALETTE_API_KEY", KEY)
    with serving(respond, tls_dir=tmp_path) as api:
        result, report = run_suite(pytester, "--kubecert-target", TARGET.format(url=api.url), "--kubecert-ca-bundle",
                                   str(api.ca_bundle), "--kubecert-rule", "KC-API-0[123]")
    found: dict[str, Any] = {r["rule"]: r for r in report["results"]}
    route = f"GET /v1/spectroclusters/{CLUSTER}/k8certificates"
    assert found["KC-API-01"]["status"] == "failed"
    assert "nested deeper than 64 levels" in found["KC-API-01"]["message"]
    assert route in json.dumps(found["KC-API-01"]["evidence"])
    assert all("RecursionError" not in r["message"] for r in report["results"])
    assert "INTERNALERROR" not in result.stdout.str()


@contextmanager
def dropping_kept_alive_connections() -> Iterator[tuple[str, list[int]]]:
    """A plain-HTTP server that answers the first request of each connection with keep-alive, then closes
    the connection without a word when a second request comes on it: a server timing out idle
    connections just as the client reuses one. Records how many connections were opened."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    opened: list[int] = []
    stop = threading.Event()
    body = b'{"ok": true}'
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def serve_one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.sendall(answer)
                conn.recv(65536)  # the reused connection's next request: dropped unanswered
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            opened.append(1)
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", opened
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_a_read_on_a_connection_the_server_just_closed_is_sent_again_once() -> None:
    with dropping_kept_alive_connections() as (url, opened):
        client = ApiClient("palette:test", url, Credential(KEY), None, limits=SLOW)
        first = client.request("GET", "/v1/spectroclusters/c1")
        second = client.request("GET", "/v1/spectroclusters/c1")  # goes out on the kept-alive connection
    assert first.status == second.status == 200 and second.error is None
    assert len(opened) == 2  # the second read was sent again, once, on a new connection


def test_a_write_on_a_connection_the_server_just_closed_is_never_repeated() -> None:
    with dropping_kept_alive_connections() as (url, opened):
        client = ApiClient("palette:test", url, Credential(KEY), None, limits=SLOW)
        client.request("GET", "/v1/spectroclusters/c1")
        with pytest.raises(TargetUnavailable, match="closed the connection before answering PATCH"):
            client.request("PATCH", "/v1/spectroclusters/c1/k8certificates/renew")
    assert len(opened) == 1
