"""Tiny HTTP(S) servers on loopback for the client's tests: each answers with a function of the request
and records what it received (method, path, headers). An answer may carry its own reason phrase, wait
before it starts, or trickle its body a byte at a time."""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecert.reference.api.tls import server_tls


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # the status line's words (None: the usual ones)
    delay_s: float = 0.0  # wait this long before answering
    trickle_s: float | None = None  # send the body one byte every trickle_s seconds


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when the server had read the request


@dataclass
class Server:
    url: str
    seen: list[Seen]
    ca_bundle: Path | None


Responder = Callable[[Seen], Answer]


@contextmanager
def serving(respond: Responder, *, tls_dir: Path | None = None, host: str = "127.0.0.1",
            tls_names: tuple[str, ...] | None = None) -> Iterator[Server]:
    """Serve ``respond`` on ``host``; over TLS with a certificate for ``tls_names`` (default: the loopback
    names) when ``tls_dir`` is given."""
    seen: list[Seen] = []
    stopping = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            request = Seen(self.command, self.path, dict(self.headers.items()))
            seen.append(request)
            answer = respond(request)
            if answer.delay_s and stopping.wait(answer.delay_s):
                return
            self.send_response(answer.status, answer.reason)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.trickle_s is None:
                self.wfile.write(answer.body)
                return
            try:
                self.wfile.flush()
                for byte in answer.body:  # until the client gives up (a broken pipe) or the server stops
                    if stopping.wait(answer.trickle_s):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                self.close_connection = True

        do_GET = do_PATCH = do_POST = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    bundle = None
    scheme = "http"
    if tls_dir is not None:
        tls = server_tls(tls_dir, tls_names) if tls_names else server_tls(tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        bundle, scheme = tls.ca_bundle, "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"{scheme}://{host}:{server.server_address[1]}", seen, bundle)
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()


@contextmanager
def switchable(first: Responder, *, tls_dir: Path) -> Iterator[tuple[Server, dict[str, Responder]]]:
    """One HTTPS server for a whole corpus: it answers with ``current["respond"]``, looked up per request, so
    each case sets what it answers."""
    current: dict[str, Responder] = {"respond": first}

    def respond(seen: Seen) -> Answer:
        return current["respond"](seen)

    with serving(respond, tls_dir=tls_dir) as server:
        yield server, current
