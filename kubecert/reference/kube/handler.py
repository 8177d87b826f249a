"""HTTP/1.1 on one TLS connection: bounded request bodies in, ClusterApi's answers out.

The identity comes from the connection's verified client certificate; a body larger than the
listener's limit is answered 413 (read and dropped first when it is not much larger), and the connection
is then closed. Errors the HTTP layer itself finds (a malformed request line, an unknown method) are
answered as Kubernetes Status documents too, and nothing is logged per request.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any

from kubecert.reference.kube.auth import identity_of
from kubecert.reference.kube.exchange import ApiRequest, ApiResponse, json_response
from kubecert.reference.kube.objects import bounded, status_document

IDLE_TIMEOUT_S = 30.0  # how long a kept-alive connection may wait for its next request
_LOG = logging.getLogger(__name__)


class ApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubecert-reference"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def do_GET(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._body()
        if body is None:
            return
        server: Any = self.server
        identity = identity_of(self.connection.getpeercert(binary_form=True))
        request = ApiRequest(method=self.command, target=self.path, identity=identity,
                             accept=self.headers.get("Accept", ""), content_type=self.headers.get("Content-Type", ""),
                             body=body)
        try:
            response = server.api.handle(request)
        except Exception:
            _LOG.exception("the reference cluster API failed on %s %s", self.command, bounded(self.path))
            response = json_response(500, status_document(500, "Internal error"))
        self._send(response)

    def _body(self) -> bytes | None:
        """The request body, or None once an error has been answered."""
        if self.headers.get("Transfer-Encoding"):
            self._fail(411, "send the body with a Content-Length (chunked bodies are not accepted)")
            return None
        text = self.headers.get("Content-Length", "0").strip()
        if not text.isdigit():
            self._fail(400, "Content-Length is not a number")
            return None
        length = int(text)
        limit = int(getattr(self.server, "max_body", 0))
        if length > limit:
            # Read (and drop) a body up to four times the limit first: a client still sending when the
            # connection closes sees a reset instead of the 413. Beyond that, the connection just closes.
            if length <= 4 * limit:
                self._drain(length)
            self._fail(413, f"the request body is larger than {limit} bytes")
            return None
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 64 * 1024))
            if not chunk:
                return
            length -= len(chunk)

    def _fail(self, code: int, message: str) -> None:
        self.close_connection = True  # the unread body must not be taken for the next request
        self._send(json_response(code, status_document(code, message)))

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-cache, private")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (bad request line, unsupported method, headers too long) as Status.
        self.close_connection = True
        text = bounded(message or self.responses.get(code, ("Error",))[0], 200)
        body = json.dumps(status_document(code, text)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return
