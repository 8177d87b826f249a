"""A bound on every request body, kept while it arrives: Starlette's ``request.body()`` reads a body whole
before anyone can look at its size (a 400 MB PATCH held 887 MB), so the bound sits in front of the app.

A body whose ``Content-Length`` is past the bound is refused with 413 before a byte of it is read; one
without a length (chunked) is counted as it streams in and refused the moment it passes. The 413 closes the
connection, so the rest of the body is never read either.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubecert.reference.api.errors import ApiError, error_body

_CLOSE = {"Connection": "close"}


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "RequestTooLarge", f"the request body is larger than {limit} bytes", dict(_CLOSE))


class BoundedBodies:
    """ASGI middleware: request bodies of at most ``limit`` bytes reach the app, and never more in memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            refusal = BodyTooLarge(self.limit)
            response = JSONResponse(error_body(refusal.code, refusal.message), status_code=refusal.status,
                                    headers=refusal.headers)
            await response(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # answered by the app's ApiError handler
            return message

        await self.app(scope, bounded, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length, None without one (the HTTP parser has refused a malformed one already)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None
