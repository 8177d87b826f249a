"""The reference API refuses a body past its bound before holding it (by its Content-Length, or as it streams
in), and checks the key before charging a request budget: requests without the key spend their own small
budget, so an anonymous flood never earns the key's holder a 429."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kubecert.reference.api import models, profiles
from kubecert.reference.api.cli import seed
from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool

KEY = "kc-reference-limits-test-key"
HANG_GUARD_S = 30  # a server waiting for the rest of a body never answers: the read times out


def started(folder: Path, rate: float) -> ReferenceApiServer:
    server = ReferenceApiServer(ServerSettings(state_file=folder / "state.db", api_key=KEY, rate=rate),
                                keys=KeyPool(size=12))
    seed(server.platform, 1, mode="repave", control_planes=1, workers=0, age_days=10)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceApiServer]:
    api = started(tmp_path_factory.mktemp("api"), rate=0)
    yield api
    api.stop()


def profiles_path(server: ReferenceApiServer) -> tuple[str, str]:
    """The seeded cluster's profiles route, and the uid of its attached profile version."""
    with server.platform.store.snapshot() as db:
        row = db.execute("SELECT * FROM clusters").fetchone()
    return f"/v1/spectroclusters/{row['uid']}/profiles", profiles.by_release(row, row["kubernetes_version"]).uid


def send_head(server: ReferenceApiServer, head: str, body_parts: tuple[bytes, ...] = ()) -> tuple[int, dict[str, str],
                                                                                                   bytes]:
    """Send a request's head (and ``body_parts``) over TLS, never the rest of its body; read the answer."""
    context = ssl.create_default_context(cafile=str(server.tls.ca_bundle))
    with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD_S) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(head.encode())
        for part in body_parts:
            tls.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = tls.recv(65536)
            assert chunk, answer  # the server closed without answering
            answer += chunk
        head_bytes, _, body = answer.partition(b"\r\n\r\n")
        lines = head_bytes.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        while len(body) < int(headers.get("content-length", "0")):
            body += tls.recv(65536)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def patch_head(server: ReferenceApiServer, length_header: str) -> str:
    return (f"PATCH {profiles_path(server)[0]} HTTP/1.1\r\nHost: 127.0.0.1\r\nApiKey: {KEY}\r\n"
            f"Content-Type: application/json\r\n{length_header}\r\n\r\n")


def test_a_body_declared_past_the_bound_is_refused_before_it_is_sent(server: ReferenceApiServer) -> None:
    status, headers, body = send_head(server, patch_head(server, "Content-Length: 400000000"))  # 400 MB, never sent
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["code"] == "RequestTooLarge" and models.problems("V1Error", json.loads(body)) == []


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_bound(server: ReferenceApiServer) -> None:
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"  # 16 KiB a chunk; the body's end is never sent
    status, headers, body = send_head(server, patch_head(server, "Transfer-Encoding: chunked"), (chunk,) * 5)
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["message"] == "the request body is larger than 65536 bytes"


def test_a_body_within_the_bound_is_read_whole(server: ReferenceApiServer) -> None:
    path, attached = profiles_path(server)
    update = {"profiles": [{"uid": attached, "packValues": [{"name": "kubernetes", "values": "y" * 60_000}]}]}
    answer = requests.patch(server.url + path, data=json.dumps(update).encode(), timeout=HANG_GUARD_S,
                            verify=str(server.tls.ca_bundle),
                            headers={"ApiKey": KEY, "Content-Type": "application/json"})
    assert answer.status_code == 204  # read whole and understood: the attached version, new values, no upgrade


def test_an_anonymous_flood_spends_its_own_budget_not_the_keys(tmp_path: Path) -> None:
    server = started(tmp_path, rate=2)  # the key's holder: 2 a second, bursts of 4; anonymous: 1, bursts of 2
    try:
        session = requests.Session()
        session.trust_env = False

        def get(key: str | None) -> int:
            headers = {"ApiKey": key} if key else {}
            return session.get(f"{server.url}/v1/spectroclusters/x", headers=headers, timeout=HANG_GUARD_S,
                               verify=str(server.tls.ca_bundle)).status_code

        anonymous = [get(None) for _ in range(20)] + [get("not-the-key") for _ in range(20)]
        holder = [get(KEY) for _ in range(4)]
    finally:
        server.stop()
    assert set(anonymous) == {401, 429} and anonymous[0] == 401
    assert holder == [404] * 4  # the key's budget is whole: its burst is answered
