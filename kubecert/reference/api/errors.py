"""Palette's error shape: every error answers ``{"code", "message", "ref", "details"}`` as JSON.

``ref`` is a fresh reference per error, as Palette gives one to quote to support. Unknown routes,
wrong methods (405, with every method the path serves in ``Allow``), malformed requests and the
server's own failures (500) get the same shape as the API's own errors.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

_STARLETTE_CODES = {404: "ResourceNotFound", 405: "MethodNotAllowed", 415: "UnsupportedMediaType"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def bounded(text: str, limit: int) -> str:
    """A client's text as an error repeats it: at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "..."


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "ref": secrets.token_hex(8), "details": {}}


def install(app: FastAPI, *, echo_key: bool) -> None:
    """Register the handlers; ``echo_key`` is the fault that repeats the sent ApiKey in every error."""

    def render(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
               ) -> JSONResponse:
        if echo_key:
            message += f" (ApiKey: {request.headers.get('ApiKey', '')})"
        return JSONResponse(error_body(code, message), status_code=status, headers=headers)

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return render(request, exc.status, exc.code, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STARLETTE_CODES.get(exc.status_code, "RequestFailed")
        message = "no such route" if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return render(request, exc.status_code, code, message, headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return render(request, 400, "InvalidRequest", f"{where}: {first.get('msg', 'invalid request')}")

    async def failed(request: Request, exc: Exception) -> JSONResponse:
        # Still Palette's error body, with a ref, rather than Starlette's plain-text page; uvicorn logs
        # the exception itself.
        return render(request, 500, "InternalError", "the server failed to answer; quote the ref")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(Exception, failed)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path. Starlette's own ``Allow`` names only the
    methods of the first route that matched the path, where GET and PATCH are two routes."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))
