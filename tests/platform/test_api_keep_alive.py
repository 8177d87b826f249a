"""An idle keep-alive connection outlives a client's poll interval.

The palette client keeps one ``requests`` session and looks at a renewal every 5 s by default. The
server used to close connections idle for 5 s (uvicorn's default), so the client's next request
often went out on a connection the server was closing that very moment: "Remote end closed
connection without response". Now the server keeps an idle connection far longer than any poll
interval, and a session that waits just over the old timeout sends its next request on the same
connection. The server with the old timeout, run beside it, shows the test can tell the difference.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
from kubecert.reference.pki import KeyPool

KEY = "kc-keep-alive-test-key"
CLIENT_POLL_S = 5.0  # the palette client's default --poll-interval
OLD_TIMEOUT_S = 5  # uvicorn's default keep-alive timeout, which the server used


@contextmanager
def running(state: Path, **settings: int) -> Iterator[ReferenceApiServer]:
    server = ReferenceApiServer(ServerSettings(state_file=state, api_key=KEY, rate=0, **settings),
                                keys=KeyPool(size=2))
    server.platform.ensure_project("default")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def session_for(server: ReferenceApiServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.tls.ca_bundle)
    return session


def look(session: requests.Session, server: ReferenceApiServer) -> tuple[str, object]:
    """One poll: the status code (or the connection error the client would have printed), and the socket
    it went over (held, so that a new socket can never be mistaken for it)."""
    try:
        answer = session.get(f"{server.url}/v1/spectroclusters/none", headers={"ApiKey": KEY}, timeout=10,
                             stream=True)
    except requests.ConnectionError as exc:
        return f"connection error: {exc}", None
    with answer:
        sock = answer.raw.connection.sock
        answer.content  # noqa: B018 - read it all, so that the connection goes back to the pool
    return str(answer.status_code), sock


def test_a_session_reuses_its_connection_after_an_idle_gap_longer_than_the_old_timeout(tmp_path: Path) -> None:
    assert ServerSettings(state_file=tmp_path, api_key=KEY).keep_alive_s >= 10 * CLIENT_POLL_S
    with ExitStack() as stack:
        current = stack.enter_context(running(tmp_path / "current.db"))
        old = stack.enter_context(running(tmp_path / "old.db", keep_alive_s=OLD_TIMEOUT_S))
        sessions = {server: stack.enter_context(session_for(server)) for server in (current, old)}
        before = {server: look(sessions[server], server) for server in (current, old)}
        time.sleep(OLD_TIMEOUT_S + 0.5)  # the idle gap itself is what is tested
        after = {server: look(sessions[server], server) for server in (current, old)}
    assert before[current][0] == before[old][0] == "404"
    assert after[current][0] == "404", after[current]
    assert after[current][1] is before[current][1], "the idle connection was closed: the next request needed another"
    # The old timeout closed the idle connection: the client had to notice and open another (or, had
    # its request raced the close, failed with the error this test exists for).
    assert after[old][1] is not before[old][1], after[old]
